package api

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/flowd/flowd/engine"
)

// ifaceBackend is fakeBackend with a given status.
type ifaceBackend struct {
	fakeBackend
	st engine.Status
}

func (b ifaceBackend) Status() engine.Status { return b.st }

// TestStatusOneSourcePerInterface: the sockets of one live interface
// (AF_PACKET, one per worker) are one source in /status and /metrics, named
// by the interface, with their counters summed and each socket's inside;
// the interface is capturing only when every socket is. A lone socket has
// no detail, and files sharing a name stay apart.
func TestStatusOneSourcePerInterface(t *testing.T) {
	live := func(id uint16, name string, frames, drops, recv uint64, up bool, state string) engine.SourceStatus {
		s := engine.SourceStatus{ID: id, Info: engine.SourceInfo{Name: name, Live: true}, Frames: frames, Bytes: frames * 60,
			Drops: drops, Received: recv, Freezes: drops / 2, Up: up, State: state}
		s.DecodeErrors[1] = uint64(id) + 1
		return s
	}
	st := engine.Status{Sources: []engine.SourceStatus{
		live(0, "eth0", 10, 2, 12, true, "capturing"),
		{ID: 1, Info: engine.SourceInfo{Name: "edge"}, Frames: 7, EOF: true},
		live(2, "eth0", 5, 4, 9, false, "down since 12:00:00"),
		live(3, "eth1", 3, 0, 3, true, "capturing"),
		{ID: 4, Info: engine.SourceInfo{Name: "edge"}, Frames: 1, EOF: true},
		live(5, "eth0", 1, 0, 1, true, "capturing"),
	}}
	got := StatusOf(st).Sources
	if len(got) != 4 {
		t.Fatalf("%d sources, want eth0, edge, eth1, edge: %+v", len(got), got)
	}
	e := got[0]
	if e.Name != "eth0" || e.ID != 0 || e.Packets != 16 || e.Bytes != 16*60 || e.Drops != 6 || e.Received != 22 ||
		e.Freezes != 3 || e.State != "down since 12:00:00" || len(e.Sockets) != 3 || len(e.DecodeErrors) != 1 {
		t.Errorf("eth0: %+v", e)
	}
	for _, n := range e.DecodeErrors {
		if n != 1+3+6 {
			t.Errorf("eth0 decode errors %v, want the sockets' 1+3+6", e.DecodeErrors)
		}
	}
	for i, want := range []SocketJSON{{ID: 0, Packets: 10, Bytes: 600, Drops: 2, Received: 12, Freezes: 1, State: "capturing"},
		{ID: 2, Packets: 5, Bytes: 300, Drops: 4, Received: 9, Freezes: 2, State: "down since 12:00:00"},
		{ID: 5, Packets: 1, Bytes: 60, Received: 1, State: "capturing"}} {
		if i < len(e.Sockets) && e.Sockets[i] != want {
			t.Errorf("eth0 socket %d: %+v, want %+v", i, e.Sockets[i], want)
		}
	}
	if got[1].Name != "edge" || got[1].Packets != 7 || got[3].Name != "edge" || got[3].Packets != 1 {
		t.Errorf("files: %+v %+v", got[1], got[3])
	}
	if got[2].Name != "eth1" || got[2].Packets != 3 || got[2].State != "capturing" || got[2].Sockets != nil {
		t.Errorf("eth1: %+v", got[2])
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{b: ifaceBackend{st: st}})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "flowd_source_drops_total" && mf.GetName() != "flowd_source_up" {
			continue
		}
		for _, m := range mf.Metric {
			values[mf.GetName()+" "+m.GetLabel()[0].GetValue()] = value(m)
		}
	}
	want := map[string]float64{"flowd_source_drops_total eth0": 6, "flowd_source_drops_total eth1": 0,
		"flowd_source_drops_total edge#1": 0, "flowd_source_drops_total edge#4": 0,
		"flowd_source_up eth0": 0, "flowd_source_up eth1": 1}
	if len(values) != len(want) {
		t.Errorf("metrics %v, want %v", values, want)
	}
	for k, v := range want {
		if got, ok := values[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
}

func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}
