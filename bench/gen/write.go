package gen

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/flowd/flowd/capture"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// SnapLen is the snap length written in capture headers.
const SnapLen = 262144

// ErrPcapInterfaces: a pcap file holds one interface.
var ErrPcapInterfaces = errors.New("gen: a pcap file holds one interface; write pcapng for several")

// WritePcap writes cfg's traffic to w as a pcap file (microsecond
// timestamps unless the interface asks for nanoseconds) and returns its
// truth.
func WritePcap(w io.Writer, cfg Config) (*Truth, error) {
	if len(cfg.Interfaces) > 1 {
		return nil, ErrPcapInterfaces
	}
	g, err := newGen(cfg, Micro)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	// The file header is written here: gopacket v1.1.19's layers.LinkType
	// is a uint8, too small for LINKTYPE_LINUX_SLL2 (276).
	var hdr [24]byte
	magic := uint32(0xA1B2C3D4)
	var pw *pcapgo.Writer
	if g.s.ifaces[0].Resolution == Nano {
		magic = 0xA1B23C4D
		pw = pcapgo.NewWriterNanos(bw)
	} else {
		pw = pcapgo.NewWriter(bw)
	}
	binary.LittleEndian.PutUint32(hdr[0:], magic)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], SnapLen)
	binary.LittleEndian.PutUint32(hdr[20:], uint32(g.s.ifaces[0].Link.LinkType()))
	if _, err := bw.Write(hdr[:]); err != nil {
		return nil, fmt.Errorf("write pcap: %w", err)
	}
	var fr capture.Frame
	for g.Next(&fr) {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, fr.Timestamp), CaptureLength: len(fr.Data), Length: int(fr.WireLen)}
		if err := pw.WritePacket(ci, fr.Data); err != nil {
			return nil, fmt.Errorf("write pcap: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("write pcap: %w", err)
	}
	return g.Truth(), nil
}

// WritePcapNG writes cfg's traffic to w as a pcapng file with one interface
// description per Config interface (nanosecond timestamps unless an
// interface asks for microseconds) and returns its truth.
//
// gopacket's pcapgo.NgWriter writes it when it can: v1.1.19 fixes
// if_tsresol at 9 and holds link types in a uint8, so for microsecond
// interfaces or Linux SLL2 a small writer of our own does the same job.
func WritePcapNG(w io.Writer, cfg Config) (*Truth, error) {
	g, err := newGen(cfg, Nano)
	if err != nil {
		return nil, err
	}
	nano := true
	for _, in := range g.s.ifaces {
		nano = nano && in.Resolution == Nano && in.Link.LinkType() <= 255
	}
	var pw interface {
		WritePacket(ci gopacket.CaptureInfo, data []byte) error
		Flush() error
	}
	if nano {
		ngw, err := newGopacketNg(w, g.s.ifaces)
		if err != nil {
			return nil, fmt.Errorf("write pcapng: %w", err)
		}
		pw = ngw
	} else {
		pw = newNgWriter(w, g.s.ifaces)
	}
	var fr capture.Frame
	for g.Next(&fr) {
		ci := gopacket.CaptureInfo{
			Timestamp: time.Unix(0, fr.Timestamp), CaptureLength: len(fr.Data),
			Length: int(fr.WireLen), InterfaceIndex: int(fr.Interface),
		}
		if err := pw.WritePacket(ci, fr.Data); err != nil {
			return nil, fmt.Errorf("write pcapng: %w", err)
		}
	}
	if err := pw.Flush(); err != nil {
		return nil, fmt.Errorf("write pcapng: %w", err)
	}
	return g.Truth(), nil
}

// The section and interface options are fixed (gopacket's defaults name
// the writing machine's OS and CPU, which would make output differ between
// machines).
const ngApplication = "flowd gen"

func ifName(i int) string { return fmt.Sprintf("gen%d", i) }

func newGopacketNg(w io.Writer, ifaces []Interface) (*pcapgo.NgWriter, error) {
	mk := func(i int) pcapgo.NgInterface {
		return pcapgo.NgInterface{
			Name:                ifName(i),
			LinkType:            layers.LinkType(ifaces[i].Link.LinkType()),
			SnapLength:          SnapLen,
			TimestampResolution: 9,
		}
	}
	ngw, err := pcapgo.NewNgWriterInterface(w, mk(0), pcapgo.NgWriterOptions{
		SectionInfo: pcapgo.NgSectionInfo{Application: ngApplication},
	})
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(ifaces); i++ {
		if _, err := ngw.AddInterface(mk(i)); err != nil {
			return nil, err
		}
	}
	return ngw, nil
}

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

func (n *ngWriter) WritePacket(ci gopacket.CaptureInfo, data []byte) error {
	if ci.InterfaceIndex < 0 || ci.InterfaceIndex >= len(n.ifs) {
		return fmt.Errorf("interface %d not in the file", ci.InterfaceIndex)
	}
	ts := uint64(ci.Timestamp.UnixNano())
	if n.ifs[ci.InterfaceIndex].Resolution == Micro {
		ts /= 1000
	}
	b := n.start(6)
	b = binary.LittleEndian.AppendUint32(b, uint32(ci.InterfaceIndex))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts>>32))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, uint32(ci.Length))
	b = append(b, data...)
	n.end(b)
	return n.err
}

func (n *ngWriter) Flush() error {
	if n.err != nil {
		return n.err
	}
	return n.w.Flush()
}
