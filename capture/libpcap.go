package capture

// Live capture: declarations shared by the AF_PACKET and libpcap sources.
//
// Which source to use: on Linux, AFPacket (OpenAFPacket) is the default. It
// reads a TPACKET_V3 ring in place (no copy, no system call per frame),
// spreads an interface over N sockets with PACKET_FANOUT hashing so each
// worker owns whole flows, and puts stripped VLAN tags back. Libpcap
// (OpenLibpcap) is the portable fallback: it works wherever libpcap does
// (other Unixes, interfaces whose link type AFPacket does not map, such as
// PPP or Wi-Fi monitor mode), copies every frame once into a batch buffer,
// and is one source per interface, so one worker. Both compile --bpf
// expressions with libpcap, which needs a cgo build.
//
// Live sources extend the Source contract: ReadBatch waits a bounded time
// (LiveConfig.PollTimeout, 100 ms by default) for frames and then returns
// (0, nil) when none came, so the reading goroutine can check for shutdown
// and advance a wall clock. It returns an error only after Close
// (ErrClosed). Trouble with the interface (down, removed) is not an error
// from ReadBatch: the source keeps returning (0, nil), reports the problem
// in LiveStats.State, and reopens the interface by itself when it comes
// back (see each source's documentation).
//
// Concurrency: as for every Source, one goroutine calls ReadBatch. Close,
// Stats and LiveStats may be called from any goroutine at any time, also
// while ReadBatch runs: Close waits for the batch in progress (at most
// PollTimeout) before it releases the buffers, and the statistics calls
// serve a status page.

import (
	"errors"
	"fmt"
	"time"
)

// Sentinels under the errors returned when a live source cannot be opened;
// match them with errors.Is. A command line can map all of them to a usage
// error (exit code 2).
var (
	// ErrNoInterface: the named interface does not exist (in the network
	// namespace the source was opened in).
	ErrNoInterface = errors.New("no such interface")
	// ErrPermission: opening a packet socket needs CAP_NET_RAW.
	ErrPermission = errors.New("need CAP_NET_RAW (run as root or grant the capability)")
	// ErrBadFilter: the BPF expression does not compile.
	ErrBadFilter = errors.New("bad BPF filter")
	// ErrInterfaceDown: the interface exists but is down, so a fanout
	// group cannot be formed on it.
	ErrInterfaceDown = errors.New("interface is down")
	// ErrBadConfig: a configuration value is out of range.
	ErrBadConfig = errors.New("bad capture configuration")
	// ErrNotSupported: the source does not exist on this OS or build.
	ErrNotSupported = errors.New("not supported on this OS or build")
	// ErrClosed is returned by ReadBatch after Close.
	ErrClosed = errors.New("capture source closed")
)

// LiveError is the error a live source returns when it cannot be opened:
// which source, which interface, and why. It matches its Kind (one of the
// sentinels above) and its Cause with errors.Is.
type LiveError struct {
	Source string // "afpacket" or "libpcap"
	Iface  string
	Kind   error  // a sentinel
	Detail string // extra words, such as the filter expression; may be empty
	Cause  error  // the system or library error underneath; may be nil
}

func (e *LiveError) Error() string {
	s := e.Source + ": "
	if e.Iface != "" {
		s += e.Iface + ": "
	}
	s += e.Kind.Error()
	if e.Detail != "" {
		s += " " + e.Detail
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *LiveError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

// LiveStats is everything a live source counts. Counters are cumulative
// since the source was opened, across reopenings.
type LiveStats struct {
	// Stats: frames and captured bytes delivered by ReadBatch; Drops are
	// frames the kernel could not queue because the ring (AF_PACKET) or
	// libpcap's buffer was full. Offset is 0 and Size -1.
	Stats
	// Received counts frames the kernel passed to the socket, including
	// those it then dropped (PACKET_STATISTICS tp_packets, pcap ps_recv).
	Received uint64
	// Freezes counts how often the kernel found the whole ring full and
	// froze the queue (AF_PACKET tp_freeze_q_cnt; 0 for libpcap).
	Freezes uint64
	// IfDrops counts frames the interface itself dropped, where libpcap
	// reports them (ps_ifdrop; 0 for AF_PACKET).
	IfDrops uint64
	// Reopens counts how often the source reopened the interface after it
	// disappeared or failed.
	Reopens uint64
	// Malformed counts AF_PACKET ring records that did not fit their block
	// and were skipped with the rest of the block (a kernel or memory
	// fault; never seen in tests).
	Malformed uint64
	// Up is true while the source is capturing. When false, State says why
	// and since when, and the source is retrying.
	Up    bool
	State string
}

// LiveConfig holds the settings both live sources share. The zero value
// means the defaults given per field.
type LiveConfig struct {
	// SnapLen caps the captured bytes per frame; zero or more than
	// DefaultSnapLen means DefaultSnapLen (whole frames).
	SnapLen int
	// Promiscuous puts the interface into promiscuous mode while the source
	// is open.
	Promiscuous bool
	// BPF is a filter expression in pcap-filter(7) syntax, compiled by
	// libpcap; empty means every frame. As with tcpdump on Linux, the
	// kernel has already taken the outer VLAN tag out of the frame when
	// the filter runs: "vlan 10" matches the tag, and an expression
	// without "vlan" such as "udp" also matches VLAN-tagged UDP.
	BPF string
	// PollTimeout bounds how long one ReadBatch waits for frames; zero
	// means 100 ms.
	PollTimeout time.Duration
	// RetryInterval is how often a source whose interface went away tries
	// to reopen it; zero means 1 s.
	RetryInterval time.Duration
}

// DefaultSnapLen is the snap length used when none is given: whole frames
// up to 256 KiB, as tcpdump does.
const DefaultSnapLen = 262144

func (c *LiveConfig) fill() {
	if c.SnapLen <= 0 || c.SnapLen > DefaultSnapLen {
		c.SnapLen = DefaultSnapLen
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = 100 * time.Millisecond
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = time.Second
	}
}

// goneState is the status line of a source whose interface went away.
func (c *LiveConfig) goneState(iface, why string) string {
	return fmt.Sprintf("%s: %s (since %s; retrying every %s)", iface, why, time.Now().UTC().Format(time.RFC3339), c.RetryInterval)
}

// reopenFailedState is the status line after a failed reopen.
func (c *LiveConfig) reopenFailedState(iface string, err error) string {
	return fmt.Sprintf("%s: reopen failed: %v (retrying every %s)", iface, err, c.RetryInterval)
}

// retryDue reports whether RetryInterval has passed since *last, and then
// sets *last to now. Otherwise it sleeps up to PollTimeout, so that a
// caller looping on ReadBatch does not spin.
func (c *LiveConfig) retryDue(last *time.Time) bool {
	if wait := c.RetryInterval - time.Since(*last); wait > 0 {
		time.Sleep(min(wait, c.PollTimeout))
		return false
	}
	*last = time.Now()
	return true
}

// AFPacketConfig configures OpenAFPacket. The zero value means the defaults
// given per field.
//
// Memory: each socket has a ring of BlockSize × BlockCount bytes (32 MiB
// with the defaults), so N workers take N times that. The kernel allocates
// the ring when the socket is opened, as unswappable kernel memory, and
// the source maps it whole into the process.
// A block is one unit of hand-over between kernel and reader: the kernel
// fills it with as many frames as fit and passes it on when full or after
// BlockTimeout. The reader holds up to one batch worth of blocks, so the
// ring must be much larger than a batch for the kernel to keep writing.
type AFPacketConfig struct {
	LiveConfig
	// BlockSize is the size of one ring block in bytes, a multiple of the
	// page size and of FrameSize; zero means 1 MiB.
	BlockSize int
	// BlockCount is the number of blocks per socket; zero means 32.
	BlockCount int
	// FrameSize is the frame size the kernel checks the ring geometry
	// against (TPACKET_V3 packs frames of any size into blocks, so it does
	// not limit frames); zero means 2048.
	FrameSize int
	// BlockTimeout is how long the kernel keeps a partly filled block
	// before handing it over (rounded to milliseconds); zero means 10 ms.
	BlockTimeout time.Duration
	// FanoutGroup is the PACKET_FANOUT group id. Zero asks the kernel for
	// an unused one, so two programs never share a group by accident; set
	// it only to share a group on purpose.
	FanoutGroup uint16
	// NoDefrag turns off PACKET_FANOUT_FLAG_DEFRAG. With the flag (the
	// default) the kernel reassembles IPv4 fragments before the fanout and
	// then delivers the reassembled datagram as one frame; without it,
	// fragments arrive as sent. With FanoutAddr every fragment reaches the
	// socket of its address pair either way; with FanoutHash, without the
	// flag, later fragments (no ports) may hash to another socket.
	NoDefrag bool
	// Fanout is how the kernel spreads frames over the sockets: FanoutAddr
	// (the zero value) by IP address pair, FanoutHash by the kernel's flow
	// hash. See FanoutMode for the trade-off.
	Fanout FanoutMode
}

// LibpcapConfig configures OpenLibpcap. The zero value means the defaults
// given per field.
type LibpcapConfig struct {
	LiveConfig
	// BufferSize is libpcap's kernel buffer (its own ring) in bytes; zero
	// means 32 MiB.
	BufferSize int
	// BatchBytes is the buffer frames are copied into for one batch; a
	// batch ends when it cannot hold another SnapLen frame. Zero means
	// 2 MiB (at least 4 × SnapLen).
	BatchBytes int
	// ZeroCopy hands out one frame per ReadBatch straight from libpcap's
	// buffer instead of copying frames into batches.
	ZeroCopy bool
}

func liveErr(source, iface string, kind error, detail string, cause error) error {
	return &LiveError{Source: source, Iface: iface, Kind: kind, Detail: detail, Cause: cause}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
