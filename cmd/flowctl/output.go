package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// record is a response as flowctl prints it: members in the AWS order.
// Values are string, int64, time.Time, record or []record.
type record []field

type field struct {
	key string
	val any
}

// add appends a member, skipping absent ones (nil pointers, empty
// strings and zero times).
func (r *record) add(key string, v any) {
	switch x := v.(type) {
	case nil:
		return
	case *string:
		if x == nil {
			return
		}
		v = *x
	case *int32:
		if x == nil {
			return
		}
		v = int64(*x)
	case int32:
		v = int64(x)
	case *time.Time:
		if x == nil {
			return
		}
		v = *x
	case string:
		if x == "" {
			return
		}
	case []string:
		if x == nil {
			return
		}
	}
	*r = append(*r, field{key, v})
}

// MarshalJSON keeps the member order.
func (r record) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range r {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(jsonValue(f.val))
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func jsonValue(v any) any {
	if t, ok := v.(time.Time); ok {
		return formatTime(t)
	}
	return v
}

// formatTime writes timestamps as the AWS CLI does by default (ISO 8601).
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000-07:00")
}

func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case time.Time:
		return formatTime(x)
	}
	return fmt.Sprint(v)
}

// write prints r in format (json, table or text).
func write(w io.Writer, format string, title string, r record) error {
	switch format {
	case "json":
		var b bytes.Buffer
		raw, err := r.MarshalJSON()
		if err != nil {
			return err
		}
		if err := json.Indent(&b, raw, "", "    "); err != nil {
			return err
		}
		b.WriteByte('\n')
		_, err = w.Write(b.Bytes())
		return err
	case "text":
		return writeText(w, r)
	}
	return writeTable(w, title, r)
}

// flatten turns nested single-member records into their value, so that
// {"SourceAddress": {"AddressDefinition": "x"}} is a column SourceAddress.
func flatten(v any) any {
	if r, ok := v.(record); ok && len(r) == 1 {
		return flatten(r[0].val)
	}
	return v
}

// writeText prints like the AWS CLI's text output: the top-level scalars
// on one tab-separated line, then each list item on a line that starts
// with the list's name in capitals.
func writeText(w io.Writer, r record) error {
	var top []string
	for _, f := range r {
		switch f.val.(type) {
		case []record, record:
		default:
			top = append(top, scalarText(f.val))
		}
	}
	if len(top) > 0 {
		fmt.Fprintln(w, strings.Join(top, "\t"))
	}
	for _, f := range r {
		switch x := f.val.(type) {
		case []record:
			for _, item := range x {
				cols := []string{strings.ToUpper(f.key)}
				for _, c := range item {
					cols = append(cols, textOf(c.val))
				}
				fmt.Fprintln(w, strings.Join(cols, "\t"))
			}
		case record:
			cols := []string{strings.ToUpper(f.key)}
			for _, c := range x {
				cols = append(cols, textOf(c.val))
			}
			fmt.Fprintln(w, strings.Join(cols, "\t"))
		}
	}
	return nil
}

func textOf(v any) string {
	switch x := flatten(v).(type) {
	case []record:
		var parts []string
		for _, r := range x {
			var kv []string
			for _, f := range r {
				kv = append(kv, f.key+"="+textOf(f.val))
			}
			parts = append(parts, strings.Join(kv, ","))
		}
		return strings.Join(parts, " ")
	case record:
		var kv []string
		for _, f := range x {
			kv = append(kv, f.key+"="+textOf(f.val))
		}
		return strings.Join(kv, ",")
	case []string:
		return strings.Join(x, ",")
	}
	return scalarText(flatten(v))
}

// writeTable prints the scalars as "key  value" lines, then each list as
// an aligned table with a header row.
func writeTable(w io.Writer, title string, r record) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if title != "" {
		fmt.Fprintln(tw, title)
	}
	for _, f := range r {
		switch f.val.(type) {
		case []record:
		default:
			fmt.Fprintf(tw, "%s\t%s\n", f.key, textOf(f.val))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range r {
		items, ok := f.val.([]record)
		if !ok {
			continue
		}
		fmt.Fprintf(w, "\n%s (%d)\n", f.key, len(items))
		if err := itemsTable(w, items); err != nil {
			return err
		}
	}
	return nil
}

// itemsTable prints records as columns: the union of their members, in
// order of first appearance.
func itemsTable(w io.Writer, items []record) error {
	if len(items) == 0 {
		return nil
	}
	var cols []string
	seen := map[string]bool{}
	for _, it := range items {
		for _, f := range it {
			if !seen[f.key] {
				seen[f.key] = true
				cols = append(cols, f.key)
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, it := range items {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = "-"
			for _, f := range it {
				if f.key == c {
					row[i] = textOf(f.val)
				}
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}
