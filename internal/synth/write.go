package synth

import (
	"errors"
	"fmt"
	"io"
	"maps"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
)

// ErrExtraLink: the extra traffic is Ethernet, on the first interface.
var ErrExtraLink = errors.New("synth: tunnels, VLAN3 and ESP flows need an Ethernet first interface")

// WritePcap writes bench/gen's traffic for cfg merged in time order with
// x's (on the same interface) as a pcap file, and returns the truth of
// both: bench/gen's flows and x's, in truth order, with the totals of all
// frames. x.Start, x.Duration, x.MeanPackets and x.Step default to cfg's.
func WritePcap(w io.Writer, cfg gen.Config, x Extra) (*gen.Truth, *Traffic, error) {
	return write(w, cfg, x, false)
}

// WritePcapNG is WritePcap for pcapng (x's frames on the first interface).
func WritePcapNG(w io.Writer, cfg gen.Config, x Extra) (*gen.Truth, *Traffic, error) {
	return write(w, cfg, x, true)
}

func write(w io.Writer, cfg gen.Config, x Extra, ng bool) (*gen.Truth, *Traffic, error) {
	if len(cfg.Interfaces) == 0 {
		cfg.Interfaces = []gen.Interface{{}}
	}
	if !ng && len(cfg.Interfaces) > 1 {
		return nil, nil, gen.ErrPcapInterfaces
	}
	cfg.Interfaces = append([]gen.Interface(nil), cfg.Interfaces...)
	for i := range cfg.Interfaces {
		if cfg.Interfaces[i].Resolution == gen.DefaultResolution {
			// The writers' defaults: microseconds in pcap, nanoseconds in pcapng.
			cfg.Interfaces[i].Resolution = gen.Micro
			if ng {
				cfg.Interfaces[i].Resolution = gen.Nano
			}
		}
	}
	if cfg.Interfaces[0].Link != gen.Ethernet {
		return nil, nil, ErrExtraLink
	}
	x.Step = 1
	if cfg.Interfaces[0].Resolution == gen.Micro {
		x.Step = 1000
	}
	if x.Start.IsZero() {
		x.Start = cfg.Start
	}
	if x.Duration == 0 {
		x.Duration = cfg.Duration
	}
	if x.MeanPackets == 0 {
		x.MeanPackets = cfg.MeanPackets
	}
	g, err := gen.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	tr, err := Make(x)
	if err != nil {
		return nil, nil, err
	}
	pw, err := gen.NewWriter(w, g.Interfaces(), ng)
	if err != nil {
		return nil, nil, err
	}
	// Merge by time; on a tie bench/gen's frame first.
	var fr capture.Frame
	more := g.Next(&fr)
	xs := tr.Frames
	var bytes uint64
	for more || len(xs) > 0 {
		if more && (len(xs) == 0 || fr.Timestamp <= xs[0].T) {
			pw.WritePacket(&fr)
			more = g.Next(&fr)
			continue
		}
		f := capture.Frame{Data: xs[0].Data, Timestamp: xs[0].T, WireLen: uint32(len(xs[0].Data)), LinkType: capture.LinkEthernet}
		bytes += uint64(len(f.Data))
		pw.WritePacket(&f)
		xs = xs[1:]
	}
	if err := pw.Flush(); err != nil { // the first write error, if any
		return nil, nil, fmt.Errorf("write capture: %w", err)
	}
	t := g.Truth()
	t.Flows = append(t.Flows, tr.Flows...)
	gen.SortFlows(t.Flows)
	if n := len(tr.Frames); n > 0 {
		if t.Packets == 0 || tr.Frames[0].T < t.First {
			t.First = tr.Frames[0].T
		}
		t.Last = max(t.Last, tr.Frames[n-1].T)
		t.Packets += uint64(n)
		t.Bytes += bytes
	}
	t.DecodeErrors = maps.Clone(t.DecodeErrors)
	return t, tr, nil
}
