// Package capture brings frames into flowd: pcap and pcapng files (plain or
// gzip-compressed), and live interfaces through AF_PACKET (TPACKET_V3 rings
// in a fanout group, Linux) or libpcap; libpcap.go says which to use when.
//
// Every source hands out frames in batches. A Frame's Data aliases a buffer
// owned by the source; all frames of one batch stay valid together until the
// next ReadBatch (or Reset or Close) on that source, so a caller that needs
// the bytes longer must copy them.
//
// Allocation contract: reading allocates nothing per frame (proved by
// testing.AllocsPerRun tests). A File reads into one buffer (1 MiB, less for
// inputs known to be smaller) that grows only when a record larger than the
// buffer arrives, never beyond MaxRecordSize plus a header; errors are built
// only when reading stops.
//
// Damage: a file is read up to its first damaged or cut record. Every good
// frame before it is delivered, then ReadBatch returns a *FormatError
// (errors.Is(err, ErrFormat)) with the file, the offset of the bad record and
// what was wrong, and returns the same error on every later call. No input
// makes a reader panic or loop forever (fuzzed).
//
// Concurrency contract: sources are not safe for concurrent use; one
// goroutine reads each source. Distinct sources share nothing and may be read
// in parallel.
package capture

import (
	"errors"
	"fmt"
)

// LinkType is a LINKTYPE_* value from the tcpdump.org link-layer header
// type registry, as stored in pcap and pcapng files.
type LinkType uint16

// The link types flowd decodes. Others are delivered as frames and counted by
// the decoder as unsupported.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family, host byte order
	LinkEthernet  LinkType = 1   // IEEE 802.3 Ethernet
	LinkPPP       LinkType = 9   // PPP, with or without the HDLC-like address and control bytes
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6, version from the first nibble
	LinkCHDLC     LinkType = 104 // Cisco HDLC: address, control, ethertype
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte address family, network byte order
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1, 16-byte header
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2, 20-byte header
)

// Some writers store the platform's DLT_RAW value (12 or 14) instead of
// LINKTYPE_RAW; NormalizeLinkType maps those onto LinkRaw.
func NormalizeLinkType(v uint32) LinkType {
	switch v {
	case 12, 14:
		return LinkRaw
	}
	return LinkType(v)
}

func (t LinkType) String() string {
	switch t {
	case LinkNull:
		return "null"
	case LinkEthernet:
		return "ethernet"
	case LinkPPP:
		return "ppp"
	case LinkCHDLC:
		return "c-hdlc"
	case LinkRaw:
		return "raw"
	case LinkLoop:
		return "loop"
	case LinkLinuxSLL:
		return "linux-sll"
	case LinkIPv4:
		return "ipv4"
	case LinkIPv6:
		return "ipv6"
	case LinkLinuxSLL2:
		return "linux-sll2"
	}
	return fmt.Sprintf("linktype-%d", uint16(t))
}

// Frame is one captured frame.
type Frame struct {
	// Data is the captured bytes. It aliases the source's buffer and is valid
	// until the next ReadBatch on the same source.
	Data []byte
	// Timestamp is the capture time in nanoseconds since the Unix epoch.
	Timestamp int64
	// WireLen is the frame's original length on the wire; len(Data) is the
	// captured length, which is smaller when the capture used a snap length.
	WireLen uint32
	// LinkType says how to decode Data. In pcapng it comes from the frame's
	// interface, so one file may mix link types.
	LinkType LinkType
	// Interface is the pcapng interface index (0 for pcap files), counted
	// across the whole file: a section's interfaces are numbered after the
	// previous sections', so the index is unique within one file even though
	// each section restarts its own numbering at 0.
	Interface uint32
}

// Source is anything that yields batches of frames.
type Source interface {
	// ReadBatch fills dst[:n] with the next frames. It returns n > 0 with a nil
	// error while frames remain. When the source is exhausted it returns the
	// last frames (possibly n == 0) with io.EOF; when the input is damaged it
	// returns every good frame before the damage and then an error (a
	// *FormatError for files). Frames from the previous call become invalid.
	ReadBatch(dst []Frame) (n int, err error)
	// Stats reports what the source has read so far.
	Stats() Stats
	// Close releases the source's buffers and files.
	Close() error
}

// Stats counts what a source has delivered. Offset is in the uncompressed
// stream for gzip input.
type Stats struct {
	Frames uint64 // frames delivered
	Bytes  uint64 // captured bytes delivered (sum of len(Data))
	Offset int64  // bytes consumed from the file so far
	Drops  uint64 // frames the kernel dropped (live sources only)
	Size   int64  // size of the file in bytes, -1 when unknown (gzip, pipes)
}

// ErrFormat is the sentinel under every *FormatError, for errors.Is.
var ErrFormat = errors.New("bad capture file")

// FormatError describes damage found in a capture file: which file, the byte
// offset where the damage starts (in the uncompressed stream), and what was
// wrong there.
type FormatError struct {
	File   string
	Offset int64
	Reason string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: offset %d: %s", e.File, e.Offset, e.Reason)
}

func (e *FormatError) Unwrap() error { return ErrFormat }
