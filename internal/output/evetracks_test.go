package output

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEVEOmitsUntrackedProtocols: an EVE sink writes flows of the
// protocols Suricata makes flows of and leaves the others out (counted by
// Omitted), in start and end order; a CSV sink writes them all.
func TestEVEOmitsUntrackedProtocols(t *testing.T) {
	flows := randomFlows(3, 40)
	protos := []uint8{6, 17, 47, 1, 2, 50, 4, 89, 58, 41, 132, 97}
	want := map[uint8]bool{6: true, 17: true, 1: true, 50: true, 4: true, 58: true, 41: true, 132: true}
	kept := 0
	for i := range flows {
		flows[i].Proto = protos[i%len(protos)]
		if want[flows[i].Proto] {
			kept++
		}
	}
	for _, c := range []struct {
		format Format
		order  Order
		lines  int
	}{{FormatEVE, OrderStart, kept}, {FormatEVE, OrderEnd, kept}, {FormatCSV, OrderEnd, len(flows) + 1}} {
		path := filepath.Join(t.TempDir(), "out")
		s, err := NewSink(SinkConfig{Format: c.format, Path: path, Order: c.order})
		if err != nil {
			t.Fatal(err)
		}
		feed(t, s, flows)
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != c.lines {
			t.Fatalf("%s, order %v: %d lines, want %d", c.format, c.order, len(lines), c.lines)
		}
		if c.format == FormatCSV {
			if s.Omitted() != 0 {
				t.Errorf("csv omitted %d flows", s.Omitted())
			}
			continue
		}
		if got := s.Omitted(); got != uint64(len(flows)-kept) {
			t.Errorf("order %v: Omitted %d, want %d", c.order, got, len(flows)-kept)
		}
		for _, l := range lines {
			var ev struct{ Proto string }
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Proto == "GRE" || ev.Proto == "OSPF" || ev.Proto == "2" || ev.Proto == "97" || ev.Proto == "89" || ev.Proto == "IGMP" {
				t.Errorf("order %v: EVE wrote a flow of protocol %s", c.order, ev.Proto)
			}
		}
	}
}
