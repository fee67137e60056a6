// Package flowfilter reads AWS FlowFilters as the AWS CLI takes them on a
// command line: its shorthand syntax, JSON, or file://PATH holding either.
// flowctl and flowd replay --capture share it, so a filter written for one
// works in the other. It allocates freely (command-line input only) and
// holds no state.
package flowfilter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"
)

// Parse reads the values given to a filters flag: each is one FlowFilter in
// shorthand syntax, or JSON (a list of FlowFilters or one), or file://PATH
// holding either. aliases enables the short member names (src, dst, sport,
// dport, proto). A bad value is an *Error worded as the AWS CLI words it.
func Parse(args []string, aliases bool) ([]types.FlowFilter, error) {
	var out []types.FlowFilter
	for _, arg := range args {
		if path, ok := strings.CutPrefix(arg, "file://"); ok {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			arg = string(b)
		}
		trimmed := strings.TrimSpace(arg)
		if strings.HasPrefix(trimmed, "[") || strings.HasPrefix(trimmed, "{") {
			dec := json.NewDecoder(strings.NewReader(trimmed))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				return nil, cliErrorf("Error parsing parameter: Invalid JSON: %v\nJSON received: %s", err, clip(trimmed))
			}
			if dec.More() {
				return nil, cliErrorf("Error parsing parameter: Invalid JSON: data after the value\nJSON received: %s", clip(trimmed))
			}
			items, ok := v.([]any)
			if !ok {
				items = []any{v}
			}
			for _, it := range items {
				f, err := flowFilter(it, len(out), aliases)
				if err != nil {
					return nil, err
				}
				out = append(out, f)
			}
			continue
		}
		m, err := ParseShorthand(arg)
		if err != nil {
			return nil, cliErrorf("Error parsing parameter: %v", err)
		}
		f, err := flowFilter(m, len(out), aliases)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

var filterMembers = []string{"DestinationAddress", "DestinationPort", "Protocols", "SourceAddress", "SourcePort"}

var filterAliases = map[string]string{
	"src": "SourceAddress", "dst": "DestinationAddress",
	"sport": "SourcePort", "dport": "DestinationPort",
	"proto": "Protocols", "protocol": "Protocols", "protocols": "Protocols",
}

// flowFilter maps a parsed structure to a FlowFilter, with the AWS CLI's
// checks: known members only, each of its type.
func flowFilter(v any, i int, aliases bool) (types.FlowFilter, error) {
	var f types.FlowFilter
	path := fmt.Sprintf("FlowFilters[%d]", i)
	m, ok := v.(map[string]any)
	if !ok {
		return f, cliErrorf("Parameter validation failed:\nInvalid type for parameter %s, value: %s, type: %s, valid types: structure", path, show(v), typeName(v))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		val := m[k]
		name := k
		if aliases {
			if full, ok := filterAliases[strings.ToLower(k)]; ok {
				name = full
			}
		}
		member := path + "." + name
		var err error
		switch name {
		case "SourceAddress":
			f.SourceAddress, err = address(val, member)
		case "DestinationAddress":
			f.DestinationAddress, err = address(val, member)
		case "SourcePort":
			f.SourcePort, err = scalar(val, member)
		case "DestinationPort":
			f.DestinationPort, err = scalar(val, member)
		case "Protocols":
			f.Protocols, err = strList(val, member)
		default:
			return f, cliErrorf("Parameter validation failed:\nUnknown parameter in %s: %q, must be one of: %s", path, k, strings.Join(filterMembers, ", "))
		}
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

// address takes {AddressDefinition=...}, or (a flowctl convenience) the
// CIDR itself.
func address(v any, path string) (*types.Address, error) {
	if s, ok := v.(string); ok {
		return &types.Address{AddressDefinition: aws.String(s)}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidType(path, v, "structure")
	}
	a := &types.Address{}
	for k, val := range m {
		if k != "AddressDefinition" {
			return nil, cliErrorf("Parameter validation failed:\nUnknown parameter in %s: %q, must be one of: AddressDefinition", path, k)
		}
		s, err := scalar(val, path+".AddressDefinition")
		if err != nil {
			return nil, err
		}
		a.AddressDefinition = s
	}
	if a.AddressDefinition == nil {
		return nil, cliErrorf("Parameter validation failed:\nMissing required parameter in %s: \"AddressDefinition\"", path)
	}
	return a, nil
}

// scalar takes a string (or a JSON number, written as it was given).
func scalar(v any, path string) (*string, error) {
	switch x := v.(type) {
	case string:
		return aws.String(x), nil
	case json.Number:
		return aws.String(x.String()), nil
	}
	return nil, invalidType(path, v, "string")
}

// strList takes a list of strings; a single value is a list of one, as the
// AWS CLI has it.
func strList(v any, path string) ([]string, error) {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	out := []string{}
	for j, it := range items {
		s, err := scalar(it, fmt.Sprintf("%s[%d]", path, j))
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, nil
}

func invalidType(path string, v any, want string) error {
	return cliErrorf("Parameter validation failed:\nInvalid type for parameter %s, value: %s, type: %s, valid types: %s", path, show(v), typeName(v), want)
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "structure"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func show(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(b.String())
}

// Error is a bad parameter, worded as the AWS CLI words it (capitalized and
// on several lines, so that people who know the AWS CLI's messages
// recognize them).
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func cliErrorf(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}
