// Package svcheck reads suricata-verify test definitions (tests/NAME/test.yaml
// in a checkout of OISF/suricata-verify) and evaluates their `filter` checks
// against EVE events, with the semantics of suricata-verify's runner: a check
// passes when the number of events matching every key of its `match` block is
// its `count`. flowd's tests use it to replay each test's capture and hold
// flowd's EVE `flow` events to the checks written for Suricata's.
package svcheck

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Test is one suricata-verify test: its directory and its parsed test.yaml.
type Test struct {
	Name   string // path under tests/, "dir" or "group/dir"
	Dir    string
	Config map[string]any
}

// Filter is one `filter` check of a test.
type Filter struct {
	Index    int // position among the test's checks, from 1
	Count    int
	Match    map[string]any
	Keys     []string // the match keys in the order test.yaml gives them
	Requires map[string]any
	Filename string
}

// Load finds every tests/**/test.yaml under root and parses it. Files that
// do not parse are returned in bad with the error.
func Load(root string) (tests []*Test, bad map[string]error, err error) {
	bad = map[string]error{}
	base := filepath.Join(root, "tests")
	err = filepath.WalkDir(base, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != "test.yaml" {
			return nil
		}
		dir := filepath.Dir(path)
		name, _ := filepath.Rel(base, dir)
		b, err := os.ReadFile(path)
		if err != nil {
			bad[name] = err
			return nil
		}
		var cfg map[string]any
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			bad[name] = err
			return nil
		}
		if cfg == nil {
			cfg = map[string]any{}
		}
		tests = append(tests, &Test{Name: filepath.ToSlash(name), Dir: dir, Config: cfg})
		return nil
	})
	sort.Slice(tests, func(i, j int) bool { return tests[i].Name < tests[j].Name })
	return tests, bad, err
}

// FlowFilters returns the test's filter checks whose match has
// event_type: flow. The match keys keep the order of test.yaml, which
// yaml.v3 gives only through its node API, so the file is read again.
func (t *Test) FlowFilters() ([]Filter, error) {
	b, err := os.ReadFile(filepath.Join(t.Dir, "test.yaml"))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Checks []map[string]yaml.Node `yaml:"checks"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	var out []Filter
	for i, c := range doc.Checks {
		n, ok := c["filter"]
		if !ok {
			continue
		}
		var raw struct {
			Count    *int           `yaml:"count"`
			Match    yaml.Node      `yaml:"match"`
			Requires map[string]any `yaml:"requires"`
			Filename string         `yaml:"filename"`
		}
		if err := n.Decode(&raw); err != nil {
			return nil, fmt.Errorf("check %d: %w", i+1, err)
		}
		f := Filter{Index: i + 1, Requires: raw.Requires, Filename: raw.Filename, Match: map[string]any{}}
		if raw.Match.Kind != yaml.MappingNode {
			continue
		}
		for k := 0; k+1 < len(raw.Match.Content); k += 2 {
			var v any
			if err := raw.Match.Content[k+1].Decode(&v); err != nil {
				return nil, fmt.Errorf("check %d: %w", i+1, err)
			}
			key := raw.Match.Content[k].Value
			if _, dup := f.Match[key]; !dup {
				f.Keys = append(f.Keys, key)
			}
			f.Match[key] = v // a repeated key: the last one wins, as in PyYAML
		}
		if f.Match["event_type"] != "flow" {
			continue
		}
		if raw.Count == nil {
			return nil, fmt.Errorf("check %d: a filter without count", i+1)
		}
		f.Count = *raw.Count
		out = append(out, f)
	}
	return out, nil
}

// Pcap returns the capture the test replays: `pcap:` in test.yaml, else the
// one *.pcap or *.pcapng in its directory. ok is false with the reason when
// there is none or more than one; a named capture that is absent is an
// error as in suricata-verify's runner.
func (t *Test) Pcap() (path string, reason string) {
	if p, has := t.Config["pcap"]; has {
		s, isStr := p.(string)
		if !isStr || s == "" {
			return "", "pcap: false (the test needs no capture)"
		}
		path = filepath.Join(t.Dir, s)
		if _, err := os.Stat(path); err != nil {
			return "", "named pcap missing: " + s
		}
		return path, ""
	}
	var found []string
	for _, pat := range []string{"*.pcap", "*.pcapng"} {
		m, _ := filepath.Glob(filepath.Join(t.Dir, pat))
		found = append(found, m...)
	}
	switch len(found) {
	case 0:
		return "", "no pcap in the test directory"
	case 1:
		return found[0], ""
	}
	return "", "more than one pcap"
}

// Args returns the test's `args`, split on white space as the runner splits them.
func (t *Test) Args() []string {
	l, _ := t.Config["args"].([]any)
	var out []string
	for _, a := range l {
		out = append(out, strings.Fields(fmt.Sprint(a))...)
	}
	return out
}

// Sets returns the `--set KEY=VALUE` settings of the test's args.
func (t *Test) Sets() map[string]string {
	out := map[string]string{}
	args := t.Args()
	for i := 0; i < len(args); i++ {
		a := args[i]
		var kv string
		switch {
		case a == "--set" && i+1 < len(args):
			kv = args[i+1]
			i++
		case strings.HasPrefix(a, "--set="):
			kv = strings.TrimPrefix(a, "--set=")
		default:
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// HasRules says whether the test loads rules (a *.rules file in its
// directory or `rules:` in test.yaml).
func (t *Test) HasRules() bool {
	if r, has := t.Config["rules"]; has {
		s, _ := r.(string)
		return s != ""
	}
	m, _ := filepath.Glob(filepath.Join(t.Dir, "*.rules"))
	return len(m) > 0
}

// HasSuricataYAML says whether the test brings its own suricata.yaml.
func (t *Test) HasSuricataYAML() bool {
	_, err := os.Stat(filepath.Join(t.Dir, "suricata.yaml"))
	return err == nil
}

// Version is a Suricata version as suricata-verify compares them; a part
// that is not given is -1.
type Version struct{ Major, Minor, Patch int }

var versionRE = regexp.MustCompile(`^(\d+)\.?(\d+)?\.?(\d+)?`)

// ParseVersion parses "8", "8.0" or "8.0.7"; parts left out are def.
func ParseVersion(v any, def int) (Version, bool) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(fmt.Sprint(v)))
	if m == nil {
		return Version{}, false
	}
	p := func(s string) int {
		if s == "" {
			return def
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	return Version{p(m[1]), p(m[2]), p(m[3])}, true
}

func (a Version) cmp(b Version) int {
	for _, d := range [][2]int{{a.Major, b.Major}, {a.Minor, b.Minor}, {a.Patch, b.Patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// equalTo is the runner's "version": 4 matches 4.x.y, 4.0 matches 4.0.x.
func (a Version) equalTo(b Version) bool {
	if a.Major != b.Major {
		return false
	}
	if a.Minor >= 0 && b.Minor >= 0 && a.Minor != b.Minor {
		return false
	}
	return a.Patch < 0 || b.Patch < 0 || a.Patch == b.Patch
}

// Unmet returns why a `requires` block is not met by a Suricata of version
// v with every optional feature built in, or "" when it is met. Blocks that
// need something this runner cannot give (a script, a Python lambda) are
// unmet.
func Unmet(req map[string]any, v Version, dir string) string {
	for k, val := range req {
		switch k {
		case "min-version", "lt-version", "gt-version", "version":
			def := 0
			if k == "version" {
				def = -1
			}
			want, ok := ParseVersion(val, def)
			if !ok {
				return fmt.Sprintf("bad %s %v", k, val)
			}
			c := v.cmp(want)
			switch {
			case k == "min-version" && c < 0:
				return fmt.Sprintf("requires at least version %v", val)
			case k == "lt-version" && c >= 0:
				return fmt.Sprintf("for versions below %v", val)
			case k == "gt-version" && c <= 0:
				return fmt.Sprintf("for versions above %v", val)
			case k == "version" && !v.equalTo(want):
				return fmt.Sprintf("only for version %v", val)
			}
		case "env":
			l, _ := val.([]any)
			for _, e := range l {
				if _, set := os.LookupEnv(fmt.Sprint(e)); !set {
					return fmt.Sprintf("requires env %v", e)
				}
			}
		case "files":
			l, _ := val.([]any)
			for _, f := range l {
				p := fmt.Sprint(f)
				if !filepath.IsAbs(p) {
					p = filepath.Join(dir, p)
				}
				if _, err := os.Stat(p); err != nil {
					return fmt.Sprintf("requires file %v", f)
				}
			}
		case "script":
			return "requires a script to be run"
		case "lambda":
			return "requires a Python lambda"
		case "os":
			if !strings.HasPrefix("linux", strings.ToLower(fmt.Sprint(val))) {
				return fmt.Sprintf("requires os %v", val)
			}
		}
	}
	return ""
}

// ReadEVE reads EVE events, one JSON object a line. Numbers keep their
// exact text (json.Number).
func ReadEVE(r io.Reader) ([]map[string]any, error) {
	var out []map[string]any
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		d := json.NewDecoder(bytes.NewReader(line))
		d.UseNumber()
		var ev map[string]any
		if err := d.Decode(&ev); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, ev)
	}
	return out, sc.Err()
}

// Count returns how many events match every key of f.Match. A match that
// cannot be evaluated (a string operator on a number, for example) makes
// suricata-verify's runner fail the check with an error; here the event
// does not match and err says why (the first such error).
func Count(events []map[string]any, match map[string]any) (n int, err error) {
	for _, ev := range events {
		ok, e := Match(ev, match)
		if e != nil && err == nil {
			err = e
		}
		if ok {
			n++
		}
	}
	return n, err
}

// Match says whether one event matches every key of match.
//
// Keys are dotted paths into the event; a part may index a list
// ("vlan[0]"). Special keys and suffixes, as suricata-verify defines them:
// "has-key" / "not-has-key" (a path or a list of paths that must be there /
// absent); a "__len" part (the length of the value there, -1 for a value
// without one); the suffixes "__find" and "__contains" (the expected value
// is within the value), "__startswith", "__endswith", and "__gt", "__gte",
// "__lt", "__lte" (numbers only). Otherwise the value must equal the
// expected one, with Python's equality: 1 equals 1.0 and true equals 1, and
// a missing key equals null.
func Match(ev map[string]any, match map[string]any) (bool, error) {
	for key, want := range match {
		switch key {
		case "has-key", "not-has-key":
			paths := []any{want}
			if l, isList := want.([]any); isList {
				paths = l
			}
			for _, p := range paths {
				found := find(fmt.Sprint(p), ev) != nil
				if found != (key == "has-key") {
					return false, nil
				}
			}
			continue
		}
		got := find(key, ev)
		suffix := key[strings.LastIndexByte(key, '.')+1:]
		switch suffix {
		case "__find", "__contains", "__startswith", "__endswith":
			ok, err := stringOp(suffix, got, want)
			if err != nil {
				return false, fmt.Errorf("%s: %w", key, err)
			}
			if !ok {
				return false, nil
			}
		case "__gt", "__gte", "__lt", "__lte":
			if !compare(suffix, got, want) {
				return false, nil
			}
		default:
			if !pyEqual(got, want) {
				return false, nil
			}
		}
	}
	return true, nil
}

var indexRE = regexp.MustCompile(`^(.*)\[(\d+)\]$`)

// find walks a dotted path; nil when a part is not there.
func find(path string, obj any) any {
	for _, part := range strings.Split(path, ".") {
		switch part {
		case "__len":
			return length(obj)
		case "__contains", "__find", "__startswith", "__endswith", "__gt", "__gte", "__lt", "__lte":
			return obj
		}
		name, index := part, -1
		if m := indexRE.FindStringSubmatch(part); m != nil {
			name = m[1]
			index, _ = strconv.Atoi(m[2])
		}
		o, isMap := obj.(map[string]any)
		if !isMap {
			return nil
		}
		v, has := o[name]
		if !has {
			return nil
		}
		obj = v
		if index >= 0 {
			l, isList := obj.([]any)
			if !isList || index >= len(l) {
				return nil
			}
			obj = l[index]
		}
	}
	return obj
}

func length(v any) int {
	switch x := v.(type) {
	case string:
		return len([]rune(x))
	case []any:
		return len(x)
	case map[string]any:
		return len(x)
	}
	return -1
}

func stringOp(op string, got, want any) (bool, error) {
	if op == "__contains" {
		switch g := got.(type) {
		case []any:
			for _, e := range g {
				if pyEqual(e, want) {
					return true, nil
				}
			}
			return false, nil
		case map[string]any:
			s, isStr := want.(string)
			_, has := g[s]
			return isStr && has, nil
		}
	}
	g, ok1 := got.(string)
	w, ok2 := want.(string)
	if !ok1 || !ok2 {
		return false, fmt.Errorf("%s needs strings, got %T and %T", op, got, want)
	}
	switch op {
	case "__find", "__contains":
		return strings.Contains(g, w), nil
	case "__startswith":
		return strings.HasPrefix(g, w), nil
	}
	return strings.HasSuffix(g, w), nil
}

// number returns a value as a number as Python sees it; bools are not
// numbers for the comparison operators (the runner refuses them) but are
// for equality (True == 1).
func number(v any, boolsToo bool) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case bool:
		if boolsToo {
			if x {
				return 1, true
			}
			return 0, true
		}
	}
	return 0, false
}

// exactInt returns an integral JSON number exactly (flow ids exceed float64).
func exactInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		return n, err == nil
	case int:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

func compare(op string, got, want any) bool {
	if _, isBool := got.(bool); isBool {
		return false
	}
	if _, isBool := want.(bool); isBool {
		return false
	}
	g, ok1 := number(got, false)
	w, ok2 := number(want, false)
	if !ok1 || !ok2 || math.IsNaN(g) || math.IsNaN(w) {
		return false
	}
	switch op {
	case "__gt":
		return g > w
	case "__gte":
		return g >= w
	case "__lt":
		return g < w
	}
	return g <= w
}

// pyEqual is Python's == on values decoded from JSON and YAML.
func pyEqual(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if x, ok := exactInt(a); ok {
		if y, ok := exactInt(b); ok {
			return x == y
		}
	}
	if x, ok := number(a, true); ok {
		y, ok := number(b, true)
		return ok && x == y
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !pyEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, has := y[k]
			if !has || !pyEqual(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
