package synth

import (
	"bufio"
	"encoding/binary"
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
	bw := bufio.NewWriterSize(w, 1<<16)
	ifs := g.Interfaces()
	put := func(fr *capture.Frame) {
		ts := uint64(fr.Timestamp)
		micro := ifs[fr.Interface].Resolution == gen.Micro
		if ng {
			if micro {
				ts /= 1000
			}
			n := 28 + len(fr.Data) + 4
			pad := (4 - len(fr.Data)%4) % 4
			n += pad
			var h [28]byte
			binary.LittleEndian.PutUint32(h[0:], 6)
			binary.LittleEndian.PutUint32(h[4:], uint32(n))
			binary.LittleEndian.PutUint32(h[8:], fr.Interface)
			binary.LittleEndian.PutUint32(h[12:], uint32(ts>>32))
			binary.LittleEndian.PutUint32(h[16:], uint32(ts))
			binary.LittleEndian.PutUint32(h[20:], uint32(len(fr.Data)))
			binary.LittleEndian.PutUint32(h[24:], fr.WireLen)
			bw.Write(h[:])
			bw.Write(fr.Data)
			bw.Write(make([]byte, pad))
			bw.Write(binary.LittleEndian.AppendUint32(nil, uint32(n)))
			return
		}
		frac := ts % 1e9
		if micro {
			frac /= 1000
		}
		var h [16]byte
		binary.LittleEndian.PutUint32(h[0:], uint32(ts/1e9))
		binary.LittleEndian.PutUint32(h[4:], uint32(frac))
		binary.LittleEndian.PutUint32(h[8:], uint32(len(fr.Data)))
		binary.LittleEndian.PutUint32(h[12:], fr.WireLen)
		bw.Write(h[:])
		bw.Write(fr.Data)
	}
	if ng {
		writeNGHeader(bw, ifs)
	} else {
		var h [24]byte
		magic := uint32(0xA1B2C3D4)
		if ifs[0].Resolution == gen.Nano {
			magic = 0xA1B23C4D
		}
		binary.LittleEndian.PutUint32(h[0:], magic)
		binary.LittleEndian.PutUint16(h[4:], 2)
		binary.LittleEndian.PutUint16(h[6:], 4)
		binary.LittleEndian.PutUint32(h[16:], gen.SnapLen)
		binary.LittleEndian.PutUint32(h[20:], uint32(ifs[0].Link.LinkType()))
		bw.Write(h[:])
	}
	// Merge by time; on a tie bench/gen's frame first.
	var fr capture.Frame
	more := g.Next(&fr)
	xs := tr.Frames
	var bytes uint64
	for more || len(xs) > 0 {
		if more && (len(xs) == 0 || fr.Timestamp <= xs[0].T) {
			put(&fr)
			more = g.Next(&fr)
			continue
		}
		f := capture.Frame{Data: xs[0].Data, Timestamp: xs[0].T, WireLen: uint32(len(xs[0].Data)), LinkType: capture.LinkEthernet}
		bytes += uint64(len(f.Data))
		put(&f)
		xs = xs[1:]
	}
	if err := bw.Flush(); err != nil {
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

// writeNGHeader writes a pcapng Section Header Block and one Interface
// Description Block per interface (if_name genN and if_tsresol, as
// bench/gen writes them).
func writeNGHeader(w *bufio.Writer, ifs []gen.Interface) {
	block := func(typ uint32, body []byte) {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		n := uint32(12 + len(body))
		b := binary.LittleEndian.AppendUint32(nil, typ)
		b = binary.LittleEndian.AppendUint32(b, n)
		b = append(b, body...)
		w.Write(binary.LittleEndian.AppendUint32(b, n))
	}
	opt := func(b []byte, code uint16, v []byte) []byte {
		b = binary.LittleEndian.AppendUint16(b, code)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	shb := binary.LittleEndian.AppendUint32(nil, 0x1A2B3C4D)
	shb = binary.LittleEndian.AppendUint16(shb, 1)
	shb = binary.LittleEndian.AppendUint16(shb, 0)
	shb = binary.LittleEndian.AppendUint64(shb, ^uint64(0))
	shb = opt(shb, 4, []byte("flowd gen"))
	shb = opt(shb, 0, nil)
	block(0x0A0D0D0A, shb)
	for i, in := range ifs {
		b := binary.LittleEndian.AppendUint16(nil, uint16(in.Link.LinkType()))
		b = binary.LittleEndian.AppendUint16(b, 0)
		b = binary.LittleEndian.AppendUint32(b, gen.SnapLen)
		b = opt(b, 2, fmt.Appendf(nil, "gen%d", i))
		res := byte(9)
		if in.Resolution == gen.Micro {
			res = 6
		}
		b = opt(b, 9, []byte{res})
		b = opt(b, 0, nil)
		block(1, b)
	}
}
