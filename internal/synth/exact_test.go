package synth_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/output"
	"github.com/flowd/flowd/internal/synth"
)

// TestTunnelsExact replays captures with every tunnel kind, three- and
// four-tag VLAN flows and ESP pairs beside bench/gen's traffic, and
// requires flowd's CSV (every flow's key, initiator, packets, frame and IP
// bytes per direction, times, state, reason) to equal the truth line for
// line, the tunnel counters to equal what was written and the unusable
// frames to match; with 1 and 2 workers.
func TestTunnelsExact(t *testing.T) {
	cases := []struct {
		name string
		ng   bool
		cfg  gen.Config
		x    synth.Extra
	}{
		{"all-kinds", false, gen.Config{Flows: 150, Fragments: 0.2},
			synth.Extra{Tunnelled: 3 * int(synth.NumTunnelKinds) * 3, VLAN3: 40, ESP: 20}},
		{"nested-frag-pcapng", true, gen.Config{Flows: 60, Interfaces: []gen.Interface{{}, {Link: gen.Raw}}},
			synth.Extra{Tunnelled: 120, Kinds: []synth.TunnelKind{synth.Nested, synth.OuterFrag, synth.Teredo}, ESP: 5}},
	}
	seeds := []uint64{1, 2}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, tc := range cases {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed%d", tc.name, seed), func(t *testing.T) {
				cfg, x := tc.cfg, tc.x
				cfg.Seed, x.Seed = seed, seed
				var buf bytes.Buffer
				write := synth.WritePcap
				if tc.ng {
					write = synth.WritePcapNG
				}
				truth, tr, err := write(&buf, cfg, x)
				if err != nil {
					t.Fatal(err)
				}
				checkKinds(t, tr, x)
				var want bytes.Buffer
				if err := truth.WriteCSV(&want); err != nil {
					t.Fatal(err)
				}
				wantRows := sortedRows(want.String())
				for _, workers := range []int{1, 2} {
					got, st := replayCSV(t, buf.Bytes(), engine.Config{Workers: workers})
					if gotRows := sortedRows(got); !slices.Equal(gotRows, wantRows) {
						t.Fatalf("%d workers: flows differ from the truth (%d vs %d rows)\n%s",
							workers, len(gotRows), len(wantRows), rowDiff(gotRows, wantRows))
					}
					var errs, terrs [decode.NumReasons]uint64
					var tun [decode.NumTunnelKinds]uint64
					for _, s := range st.Sources {
						for r, n := range s.DecodeErrors {
							errs[r] += n
						}
						for r, n := range s.TunnelErrors {
							terrs[r] += n
						}
						for k, n := range s.Tunnels {
							tun[k] += n
						}
						if s.FragmentsWithoutFirst != 0 {
							t.Errorf("%d workers: %d fragments without first", workers, s.FragmentsWithoutFirst)
						}
					}
					for r := decode.Reason(1); r < decode.NumReasons; r++ {
						if errs[r] != truth.DecodeErrors[r] {
							t.Errorf("%d workers: %d frames %s, truth says %d", workers, errs[r], r, truth.DecodeErrors[r])
						}
						if terrs[r] != tr.TunnelErrors[r] {
							t.Errorf("%d workers: %d tunnelled packets %s, truth says %d", workers, terrs[r], r, tr.TunnelErrors[r])
						}
					}
					if tun != tr.Tunnels {
						t.Errorf("%d workers: tunnel packets %v, truth says %v", workers, tun, tr.Tunnels)
					}
				}
			})
		}
	}
}

// The addresses of Extra's ESP pairs outside tunnels.
var espPlain, espPlain6 = netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fd03::/16")

// checkKinds: the capture holds what the case asks for, so that a
// generator that stopped making a kind fails here rather than passing
// an emptier test.
func checkKinds(t *testing.T, tr *synth.Traffic, x synth.Extra) {
	t.Helper()
	kinds := x.Kinds
	if len(kinds) == 0 {
		kinds = synth.AllTunnelKinds()
	}
	want := map[decode.TunnelKind]bool{}
	for _, k := range kinds {
		switch k {
		case synth.Geneve, synth.Nested:
			want[decode.TunnelGeneve] = true
		case synth.VXLAN:
			want[decode.TunnelVXLAN] = true
		case synth.GRE, synth.GRETEB:
			want[decode.TunnelGRE] = true
		case synth.ERSPAN1:
			want[decode.TunnelERSPAN1] = true
		case synth.ERSPAN2:
			want[decode.TunnelERSPAN2] = true
		case synth.ERSPAN3:
			want[decode.TunnelERSPAN3] = true
		case synth.IPIP, synth.FourInSix:
			want[decode.TunnelIPv4] = true
		case synth.SixInFour, synth.SixInSix:
			want[decode.TunnelIPv6] = true
		case synth.EtherIP:
			want[decode.TunnelEtherIP] = true
		case synth.Teredo:
			want[decode.TunnelTeredo] = true
		case synth.OuterFrag:
			if tr.TunnelErrors[decode.ReasonTunnelFragment] == 0 {
				t.Error("no fragmented outer datagram")
			}
		case synth.InnerFrag:
			want[decode.TunnelVXLAN], want[decode.TunnelIPv4] = true, true
			if !slices.ContainsFunc(tr.Flows, func(f gen.Flow) bool { return f.Fragmented && f.Src.Is4() && f.Src.As4()[0] == 172 }) {
				t.Error("no fragmented flow inside a tunnel")
			}
		}
		if k == synth.Nested && (tr.Tunnels[decode.TunnelVXLAN] == 0 || tr.TunnelErrors[decode.ReasonTunnelTooDeep] == 0) {
			t.Error("nested tunnels: no VXLAN in GENEVE or none too deep")
		}
	}
	for k := range want {
		if tr.Tunnels[k] == 0 {
			t.Errorf("no %s packets", k)
		}
	}
	var esp, espInner, vlan3, innerTagged int
	for _, f := range tr.Flows {
		if len(f.VLAN) > 0 && f.VLAN[len(f.VLAN)-1] >= 500 && f.VLAN[len(f.VLAN)-1] < 600 {
			innerTagged++
		}
		if f.Proto == decode.ProtoESP {
			if f.PktsToClient != 0 {
				t.Errorf("ESP flow with packets both ways: %v", f.Row())
			}
			if espPlain.Contains(f.Src) || espPlain6.Contains(f.Src) {
				esp++
			} else {
				espInner++
			}
		}
		if len(f.VLAN) == 3 {
			vlan3++
		}
	}
	if slices.Contains(kinds, synth.VXLAN) && x.Tunnelled >= 3*int(synth.NumTunnelKinds) && innerTagged == 0 {
		t.Error("no flow inside a tunnel with a VLAN tag of its own")
	}
	if x.Tunnelled >= 100 && espInner == 0 {
		t.Error("no ESP flow inside a tunnel")
	}
	if esp != 2*x.ESP || vlan3 != x.VLAN3 {
		t.Errorf("%d ESP flows for %d pairs, %d three-tag flows for %d", esp, x.ESP, vlan3, x.VLAN3)
	}
}

// replayCSV replays a capture held in memory through a csv sink, as
// `flowd replay --format csv` does, and returns what it wrote.
func replayCSV(t *testing.T, capBytes []byte, cfg engine.Config) (string, engine.Status) {
	t.Helper()
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.NewReader(bytes.NewReader(capBytes), "cap")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddSource(src, engine.SourceInfo{Name: "cap"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "flows.csv")
	sink, err := output.NewSink(output.SinkConfig{Format: output.FormatCSV, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	e.AddSink(sink)
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-e.SourcesDone()
	st := e.Status()
	if err := e.Stop(engine.ReasonActive); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), st
}

func sortedRows(csv string) []string {
	rows := strings.Split(strings.TrimSpace(csv), "\n")
	slices.Sort(rows)
	return rows
}

func rowDiff(got, want []string) string {
	var b strings.Builder
	g, w := map[string]int{}, map[string]int{}
	for _, r := range got {
		g[r]++
	}
	for _, r := range want {
		w[r]++
	}
	n := 0
	for _, r := range got {
		if g[r] > w[r] && n < 12 {
			fmt.Fprintf(&b, "  flowd only: %s\n", r)
			n++
		}
	}
	n = 0
	for _, r := range want {
		if w[r] > g[r] && n < 12 {
			fmt.Fprintf(&b, "  truth only: %s\n", r)
			n++
		}
	}
	return b.String()
}
