package bench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"slices"
	"strings"
)

// series is one line of the plot: packets/s at some table sizes.
type series struct {
	name   string
	color  string
	dashed bool
	pts    [][2]float64 // flows, packets/s
}

// Plot draws packets/s against flows in the table, both axes logarithmic,
// as an SVG document: flowd's engine with each worker count, the map twin
// and the record walk (the I/O floor) from each report, and flowd replay
// and the comparison tools where a report ran them.
func Plot(reps []*Report) []byte {
	caption := ""
	if l := latestReport(&RunSet{Reports: reps}); l != nil {
		caption = stamp(l.Date, "") + ", " + l.Machine.String()
	}
	var ss []*series
	get := func(name string, dashed bool) *series {
		for _, s := range ss {
			if s.name == name {
				return s
			}
		}
		s := &series{name: name, dashed: dashed}
		ss = append(ss, s)
		return s
	}
	for _, r := range bySize(reps) {
		x := float64(flowsOf(r))
		if x <= 0 {
			continue
		}
		for _, p := range r.Phases {
			if p.PacketsPerSec <= 0 {
				continue
			}
			var s *series
			switch p.Name {
			case PhaseEngine:
				s = get(fmt.Sprintf("flowd engine, %d worker%s", p.Workers, plural(p.Workers)), false)
			case PhaseMap:
				s = get("map[Key]*Flow twin", true)
			case PhaseWalk:
				s = get("record walk (I/O floor)", true)
			default:
				continue
			}
			s.pts = append(s.pts, [2]float64{x, p.PacketsPerSec})
		}
		if v := r.Vs; v != nil {
			if f := v.Flowd; f != nil && f.PacketsPerSec > 0 {
				s := get("flowd replay process, 1 worker", false)
				s.pts = append(s.pts, [2]float64{x, f.PacketsPerSec})
			}
			for _, row := range v.Rows {
				if row.PacketsPerSec > 0 {
					s := get(row.Name, false)
					s.pts = append(s.pts, [2]float64{x, row.PacketsPerSec})
				}
			}
		}
	}
	palette := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
		"#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"}
	for i, s := range ss {
		s.color = palette[i%len(palette)]
	}
	return drawPlot(ss, caption)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

const (
	plotW, plotH           = 880, 520
	padL, padR, padT, padB = 80, 250, 40, 90
)

func drawPlot(ss []*series, caption string) []byte {
	// Axis ranges: whole decades around the data.
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, p := range s.pts {
			xmin, xmax = min(xmin, p[0]), max(xmax, p[0])
			ymin, ymax = min(ymin, p[1]), max(ymax, p[1])
		}
	}
	if math.IsInf(xmin, 1) {
		xmin, xmax, ymin, ymax = 1e4, 1e6, 1e5, 1e7
	}
	lx0, lx1 := math.Floor(math.Log10(xmin)), math.Ceil(math.Log10(xmax))
	ly0, ly1 := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
	if lx1 <= lx0 {
		lx0, lx1 = lx0-1, lx1+1
	}
	if ly1 <= ly0 {
		ly0, ly1 = ly0-1, ly1+1
	}
	iw, ih := float64(plotW-padL-padR), float64(plotH-padT-padB)
	px := func(x float64) float64 { return padL + (math.Log10(x)-lx0)/(lx1-lx0)*iw }
	py := func(y float64) float64 { return padT + ih - (math.Log10(y)-ly0)/(ly1-ly0)*ih }

	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotW, plotH, plotW, plotH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">packets/s against flows in the table (log-log; higher is faster)</text>`+"\n", padL)

	// Grid and ticks.
	for e := lx0; e <= lx1; e++ {
		x := px(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, padT, x, padT+ih)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, padT+ih+18, esc(decade(e)))
	}
	for e := ly0; e <= ly1; e++ {
		y := py(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", padL, y, padL+iw, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", padL-8, y, esc(decade(e)))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", padL, padT, iw, ih)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">flows in the table</text>`+"\n", padL+iw/2, padT+ih+38)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#555">engine, map twin and walk: in one process over the pcap in memory; replay and the tools: processes reading the same pcap file</text>`+"\n",
		padL, plotH-26)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#555">%s</text>`+"\n", padL, plotH-10, esc(caption))
	fmt.Fprintf(&b, `<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">packets/s</text>`+"\n", padT+ih/2)

	// Series.
	for i, s := range ss {
		pts := slices.Clone(s.pts)
		slices.SortFunc(pts, func(a, b [2]float64) int {
			switch {
			case a[0] < b[0]:
				return -1
			case a[0] > b[0]:
				return 1
			}
			return 0
		})
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		if len(pts) > 1 {
			var coords []string
			for _, p := range pts {
				coords = append(coords, fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1])))
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(coords, " "), s.color, dash)
		}
		for _, p := range pts {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s: %s packets/s at %s flows</title></circle>`+"\n",
				px(p[0]), py(p[1]), s.color, esc(s.name), esc(SI(p[1], "")), esc(SI(p[0], "")))
		}
		// Legend.
		ly := float64(padT + 10 + 20*i)
		lx := float64(plotW - padR + 20)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", lx, ly, lx+24, ly, s.color, dash)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`+"\n", lx+12, ly, s.color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" dominant-baseline="middle">%s</text>`+"\n", lx+32, ly, esc(s.name))
	}
	if len(ss) == 0 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">no data</text>`+"\n", padL+iw/2, padT+ih/2)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// decade labels 10^e: "10 k", "1 M".
func decade(e float64) string {
	n := int(e)
	prefix := []string{"", "k", "M", "G", "T"}
	if n < 0 || n/3 >= len(prefix) {
		return fmt.Sprintf("1e%d", n)
	}
	v := []string{"1", "10", "100"}[n%3]
	if n < 3 {
		return v
	}
	return v + " " + prefix[n/3]
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
