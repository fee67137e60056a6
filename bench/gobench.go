package bench

import (
	"bufio"
	"io"
	"path"
	"strconv"
	"strings"
)

// GoBench is the output of `go test -bench -benchmem -count N` over
// several packages: every sample of every metric, by benchmark.
type GoBench struct {
	// Names lists the benchmarks in the order first seen, as "pkg
	// BenchmarkName/sub" with the package's last path element and without
	// the -GOMAXPROCS suffix: "flowtable BenchmarkUpdate/flows=10000/zipf/map".
	Names []string
	// Samples[name][unit] holds one value per run: "ns/op", "allocs/op",
	// and any custom metric ("flows/s").
	Samples map[string]map[string][]float64
}

// ParseGoBench reads `go test -bench` output. Lines that are not benchmark
// results are skipped, so the whole log of a run can be given.
func ParseGoBench(r io.Reader) (*GoBench, error) {
	g := &GoBench{Samples: map[string]map[string][]float64{}}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = path.Base(strings.TrimSpace(p))
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseUint(f[1], 10, 64); err != nil {
			continue // a benchmark's log line, not its result
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if pkg != "" {
			name = pkg + " " + name
		}
		m := g.Samples[name]
		if m == nil {
			m = map[string][]float64{}
			g.Samples[name] = m
			g.Names = append(g.Names, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			m[f[i+1]] = append(m[f[i+1]], v)
		}
	}
	return g, sc.Err()
}

// Median returns the median of a benchmark's metric and how many samples
// it has; ok is false when there are none.
func (g *GoBench) Median(name, unit string) (v float64, n int, ok bool) {
	if g == nil {
		return 0, 0, false
	}
	s := g.Samples[name][unit]
	if len(s) == 0 {
		return 0, 0, false
	}
	return Median(s), len(s), true
}

// Match returns the benchmarks whose names contain every one of parts, in
// order of appearance.
func (g *GoBench) Match(parts ...string) []string {
	if g == nil {
		return nil
	}
	var out []string
outer:
	for _, n := range g.Names {
		for _, p := range parts {
			if !strings.Contains(n, p) {
				continue outer
			}
		}
		out = append(out, n)
	}
	return out
}
