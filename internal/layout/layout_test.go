package layout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/flowd/flowd/"

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// rule is one import rule: packages matching from may not import packages
// matching to (non-test imports only, unless tests is set); why is the
// message a broken rule fails with.
type rule struct {
	from, to func(string) bool
	tests    bool
	why      string
}

func is(names ...string) func(string) bool {
	return func(p string) bool { return slices.Contains(names, strings.TrimPrefix(p, mod)) }
}

func under(prefix string) func(string) bool {
	return func(p string) bool { return strings.HasPrefix(strings.TrimPrefix(p, mod), prefix) }
}

func flowd(p string) bool { return strings.HasPrefix(p, mod) }

func not(f func(string) bool) func(string) bool { return func(p string) bool { return !f(p) } }

func oneOf(fs ...func(string) bool) func(string) bool {
	return func(p string) bool {
		for _, f := range fs {
			if f(p) {
				return true
			}
		}
		return false
	}
}

// rules are the layout: cmd wires engine, api and the outputs; the engine
// glues the leaves; the leaves stay leaves; one package touches the OS.
var rules = []rule{
	{is("decode"), flowd, false,
		"decode is a leaf: of flowd's packages it may import only capture (for link types)"},
	{is("flowtable"), flowd, false,
		"flowtable is a leaf: of flowd's packages it may import only internal/prefetch and internal/sys"},
	{is("filter"), flowd, false, "filter is a leaf: it imports no flowd package"},
	{is("flowlog"), flowd, false, "flowlog is a leaf: the engine feeds it, it imports no flowd package"},
	{is("capture"), flowd, false, "capture is a leaf: of flowd's packages it may import only internal/sys"},
	{is("api"), is("flowtable", "capture", "decode", "internal/output"), false,
		"api sees the engine through its interface: it may import engine, filter and flowlog (its definitions and registry), never the table, sources, decoder or output writers"},
	{is("engine"), oneOf(is("api", "internal/output", "bench", "bench/gen"), under("cmd/")), false,
		"engine does not know its callers: api, the output writers, the commands and the benchmarks plug into it"},
	{not(under("cmd/")), under("cmd/"), true, "commands are not imported"},
	{not(oneOf(under("bench"), under("cmd/"))), is("bench"), false, "only commands and tests use the benchmark harness"},
	{not(is("internal/sys")), is("golang.org/x/sys/unix"), true,
		"only internal/sys imports golang.org/x/sys/unix: system calls stay behind one wall"},
}

// allowed are the exceptions to the leaf rules above.
var allowed = map[string][]string{
	"decode":    {"capture"},
	"flowtable": {"internal/prefetch", "internal/sys"},
	"capture":   {"internal/sys"},
}

func list(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", mod+"...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Skipf("go list cannot run here (%v): the layout is checked where the go command is on PATH", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// violations returns every broken rule, one line each.
func violations(pkgs []pkg) []string {
	var bad []string
	for _, p := range pkgs {
		self := strings.TrimPrefix(p.ImportPath, mod)
		for _, r := range rules {
			if !r.from(p.ImportPath) {
				continue
			}
			imports := p.Imports
			if r.tests {
				imports = slices.Concat(p.Imports, p.TestImports, p.XTestImports)
			}
			for _, imp := range imports {
				if imp == p.ImportPath || !r.to(imp) || slices.Contains(allowed[self], strings.TrimPrefix(imp, mod)) {
					continue
				}
				bad = append(bad, fmt.Sprintf("%s imports %s: %s", self, strings.TrimPrefix(imp, mod), r.why))
			}
		}
	}
	slices.Sort(bad)
	return slices.Compact(bad)
}

func TestLayout(t *testing.T) {
	pkgs := list(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// TestLayoutCatches: each rule fails on an import that breaks it, so the
// test above cannot pass by matching nothing.
func TestLayoutCatches(t *testing.T) {
	for _, c := range []struct{ from, imp string }{
		{mod + "api", mod + "flowtable"},
		{mod + "api", mod + "capture"},
		{mod + "api", mod + "decode"},
		{mod + "api", mod + "internal/output"},
		{mod + "decode", mod + "flowtable"},
		{mod + "flowtable", mod + "filter"},
		{mod + "filter", mod + "decode"},
		{mod + "capture", mod + "decode"},
		{mod + "flowlog", mod + "engine"},
		{mod + "engine", mod + "internal/output"},
		{mod + "engine", mod + "api"},
		{mod + "internal/output", mod + "cmd/flowd"},
		{mod + "engine", mod + "bench"},
		{mod + "capture", "golang.org/x/sys/unix"},
	} {
		if v := violations([]pkg{{ImportPath: c.from, Imports: []string{c.imp}}}); len(v) == 0 {
			t.Errorf("%s importing %s breaks no rule", c.from, c.imp)
		}
	}
	for _, c := range []struct{ from, imp string }{
		{mod + "decode", mod + "capture"},
		{mod + "flowtable", mod + "internal/sys"},
		{mod + "api", mod + "engine"},
		{mod + "api", mod + "filter"},
		{mod + "api", mod + "flowlog"},
		{mod + "cmd/flowd", mod + "flowtable"},
		{mod + "internal/sys", "golang.org/x/sys/unix"},
	} {
		if v := violations([]pkg{{ImportPath: c.from, Imports: []string{c.imp}}}); len(v) != 0 {
			t.Errorf("an allowed import is refused: %v", v)
		}
	}
}
