package gen

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/flowd/flowd/capture"
)

// SnapLen is the snap length written in capture headers.
const SnapLen = 262144

// ErrPcapInterfaces: a pcap file holds one interface.
var ErrPcapInterfaces = errors.New("gen: a pcap file holds one interface; write pcapng for several")

// WritePcap writes cfg's traffic to w as a pcap file (microsecond
// timestamps unless the interface asks for nanoseconds) and returns its
// truth.
//
// The pcap and pcapng writers are a few lines of our own rather than
// gopacket's pcapgo: importing gopacket/layers costs every flowd command
// 3.7 ms of package initialisation (GODEBUG=inittrace=1), a tenth of a
// short replay, and pcapgo v1.1.19 cannot write LINKTYPE_LINUX_SLL2 (276)
// or microsecond pcapng interfaces anyway. The tests read what these write
// with pcapgo.
func WritePcap(w io.Writer, cfg Config) (*Truth, error) {
	if len(cfg.Interfaces) > 1 {
		return nil, ErrPcapInterfaces
	}
	g, err := newGen(cfg, Micro)
	if err != nil {
		return nil, err
	}
	return writeAll(g, newPcapWriter(w, g.s.ifaces[0]), "pcap")
}

// WritePcapNG writes cfg's traffic to w as a pcapng file with one interface
// description per Config interface (nanosecond timestamps unless an
// interface asks for microseconds) and returns its truth.
func WritePcapNG(w io.Writer, cfg Config) (*Truth, error) {
	g, err := newGen(cfg, Nano)
	if err != nil {
		return nil, err
	}
	return writeAll(g, newNgWriter(w, g.s.ifaces), "pcapng")
}

func writeAll(g *Generator, pw Writer, format string) (*Truth, error) {
	var fr capture.Frame
	for g.Next(&fr) {
		if err := pw.WritePacket(&fr); err != nil {
			return nil, fmt.Errorf("write %s: %w", format, err)
		}
	}
	if err := pw.Flush(); err != nil {
		return nil, fmt.Errorf("write %s: %w", format, err)
	}
	return g.Truth(), nil
}

// A Writer writes frames into a capture file, each at its interface's
// timestamp resolution. Write errors stick: once one fails, every later
// call returns it.
type Writer interface {
	WritePacket(fr *capture.Frame) error
	Flush() error
}

// NewWriter writes the header of a capture file for ifs to w (pcapng when
// ng, else pcap, which holds one interface) and returns the writer of its
// frames. Each interface's Resolution must be Micro or Nano.
func NewWriter(w io.Writer, ifs []Interface, ng bool) (Writer, error) {
	for i, in := range ifs {
		if in.Resolution != Micro && in.Resolution != Nano {
			return nil, fmt.Errorf("gen: interface %d: resolution %d, want Micro or Nano", i, in.Resolution)
		}
	}
	if ng {
		return newNgWriter(w, ifs), nil
	}
	if len(ifs) != 1 {
		return nil, ErrPcapInterfaces
	}
	return newPcapWriter(w, ifs[0]), nil
}

// pcapWriter writes a pcap file, little endian, with microsecond or
// nanosecond timestamps as its one interface has them.
type pcapWriter struct {
	w    *bufio.Writer
	nano bool
	err  error
}

func newPcapWriter(w io.Writer, in Interface) *pcapWriter {
	p := &pcapWriter{w: bufio.NewWriterSize(w, 1<<16), nano: in.Resolution == Nano}
	var hdr [24]byte
	magic := uint32(0xA1B2C3D4)
	if p.nano {
		magic = 0xA1B23C4D
	}
	binary.LittleEndian.PutUint32(hdr[0:], magic)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], SnapLen)
	binary.LittleEndian.PutUint32(hdr[20:], uint32(in.Link.LinkType()))
	_, p.err = p.w.Write(hdr[:])
	return p
}

func (p *pcapWriter) WritePacket(fr *capture.Frame) error {
	if p.err != nil {
		return p.err
	}
	sec, frac := fr.Timestamp/1e9, fr.Timestamp%1e9
	if !p.nano {
		frac /= 1000
	}
	var rec [16]byte
	binary.LittleEndian.PutUint32(rec[0:], uint32(sec))
	binary.LittleEndian.PutUint32(rec[4:], uint32(frac))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(fr.Data)))
	binary.LittleEndian.PutUint32(rec[12:], fr.WireLen)
	p.w.Write(rec[:])
	_, p.err = p.w.Write(fr.Data)
	return p.err
}

func (p *pcapWriter) Flush() error {
	if p.err != nil {
		return p.err
	}
	return p.w.Flush()
}

// The section and interface options are fixed, so that output does not
// depend on the machine that wrote it.
const ngApplication = "flowd gen"

func ifName(i int) string { return fmt.Sprintf("gen%d", i) }

// ngWriter writes a pcapng section whose interfaces may have microsecond
// or nanosecond timestamps: a Section Header Block, one Interface
// Description Block per interface (if_name, if_tsresol) and Enhanced Packet
// Blocks, little endian.
type ngWriter struct {
	w     *bufio.Writer
	ifs   []Interface
	err   error
	block []byte
}

func newNgWriter(w io.Writer, ifs []Interface) *ngWriter {
	n := &ngWriter{w: bufio.NewWriterSize(w, 1<<16), ifs: ifs}
	// Section Header Block.
	b := n.start(0x0A0D0D0A)
	b = binary.LittleEndian.AppendUint32(b, 0x1A2B3C4D)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint64(b, ^uint64(0)) // section length unknown
	b = ngOption(b, 4, []byte(ngApplication))           // shb_userappl
	b = ngOption(b, 0, nil)
	n.end(b)
	for i, in := range ifs {
		b := n.start(1)
		b = binary.LittleEndian.AppendUint16(b, uint16(in.Link.LinkType()))
		b = binary.LittleEndian.AppendUint16(b, 0)
		b = binary.LittleEndian.AppendUint32(b, SnapLen)
		b = ngOption(b, 2, []byte(ifName(i))) // if_name
		res := byte(9)
		if in.Resolution == Micro {
			res = 6
		}
		b = ngOption(b, 9, []byte{res}) // if_tsresol
		b = ngOption(b, 0, nil)
		n.end(b)
	}
	return n
}

func (n *ngWriter) start(typ uint32) []byte {
	b := binary.LittleEndian.AppendUint32(n.block[:0], typ)
	return append(b, 0, 0, 0, 0) // length, set by end
}

// end pads the block, fills in its length at both ends and writes it.
func (n *ngWriter) end(b []byte) {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	l := uint32(len(b) + 4)
	binary.LittleEndian.PutUint32(b[4:], l)
	b = binary.LittleEndian.AppendUint32(b, l)
	n.block = b
	if n.err == nil {
		_, n.err = n.w.Write(b)
	}
}

func ngOption(b []byte, code uint16, v []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (n *ngWriter) WritePacket(fr *capture.Frame) error {
	if int(fr.Interface) >= len(n.ifs) {
		return fmt.Errorf("interface %d not in the file", fr.Interface)
	}
	ts := uint64(fr.Timestamp)
	if n.ifs[fr.Interface].Resolution == Micro {
		ts /= 1000
	}
	b := n.start(6)
	b = binary.LittleEndian.AppendUint32(b, fr.Interface)
	b = binary.LittleEndian.AppendUint32(b, uint32(ts>>32))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(fr.Data)))
	b = binary.LittleEndian.AppendUint32(b, fr.WireLen)
	b = append(b, fr.Data...)
	n.end(b)
	return n.err
}

func (n *ngWriter) Flush() error {
	if n.err != nil {
		return n.err
	}
	return n.w.Flush()
}
