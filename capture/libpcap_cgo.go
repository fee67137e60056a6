//go:build cgo

package capture

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/flowd/flowd/internal/sys"
)

// compileFilter compiles a pcap-filter expression for frames of the given
// link type and snap length into classic BPF for SO_ATTACH_FILTER. The
// program's accept instructions return the snap length, so the kernel
// truncates as it copies.
//
// It compiles against a live libpcap handle on the interface where it can
// (in the calling thread's network namespace): libpcap then generates code
// for what a Linux packet socket's filter sees, where the outer VLAN tag
// has already been moved out of the frame, so "vlan 100" tests the tag the
// kernel holds beside the frame, and "inbound"/"outbound" work. Failing
// that, it compiles for the bare link type, as for a file.
func compileFilter(source, iface, expr string, link LinkType, snap int) ([]sys.SockFilter, error) {
	prog, err := compileLive(iface, expr, link, snap)
	if err != nil {
		prog, err = compileDead(expr, link, snap)
	}
	if err != nil {
		return nil, liveErr(source, iface, ErrBadFilter, quote(expr), err)
	}
	return prog, nil
}

// compileLive compiles expr with a briefly opened libpcap handle on iface
// (with a small buffer), when its link type is the one the socket uses.
func compileLive(iface, expr string, link LinkType, snap int) ([]sys.SockFilter, error) {
	h, err := pcapOpen(iface, pcapOptions{snapLen: snap, bufferSize: 256 << 10})
	if err != nil {
		return nil, err
	}
	defer h.close()
	if got := pcapLinkType(h.datalink()); got != link {
		return nil, fmt.Errorf("libpcap sees link type %v, the socket %v", got, link)
	}
	return h.compile(expr, pcapNetmask(iface))
}

// compileDead compiles expr for frames of the link type alone. libpcap
// takes the platform's DLT_ value here, which for raw IP is not
// LINKTYPE_RAW (it refuses 101).
func compileDead(expr string, link LinkType, snap int) ([]sys.SockFilter, error) {
	h, err := pcapOpenDead(pcapDLT(link), snap)
	if err != nil {
		return nil, err
	}
	defer h.close()
	return h.compile(expr, pcapNetmaskUnknown)
}

// Libpcap is a live capture through libpcap (the package's own cgo
// binding, pcapbind_cgo.go), one handle per interface. *Libpcap implements
// Source.
//
// Batches: libpcap hands out one frame at a time, valid only until its
// next call. By default ReadBatch copies frames into its own batch buffer
// (LibpcapConfig.BatchBytes) until dst is full, the buffer cannot hold
// another SnapLen frame, or libpcap has nothing more within PollTimeout,
// so a batch at a low packet rate may take up to one PollTimeout to close.
// With ZeroCopy set, each ReadBatch returns a single frame that points into
// libpcap's buffer: no copy, but one ReadBatch (a mutex, a cgo call, and
// the caller's per-batch work) per frame. Copying is the default because
// it is cheaper: reading thread CPU per 60-byte frame at ~150 kpps over a
// veth, 4 Dec 2026, shared 2-vCPU VM (TestLiveRateSweep's sibling
// TestLiveReadCost): batch copy 155 ns, zero copy 233 ns (AFPacket 79 ns).
//
// Interface trouble: when libpcap reports an error (the interface went
// down or disappeared), the handle is closed, LiveStats reports the reason
// and ReadBatch keeps trying to reopen the interface every RetryInterval,
// in the network namespace it was first opened in.
//
// Allocation: ReadBatch allocates nothing per frame (tested).
type Libpcap struct {
	iface string
	cfg   LibpcapConfig
	link  LinkType
	buf   []byte
	nsfd  int

	// mu serialises libpcap calls: ReadBatch against Stats from another
	// goroutine (a pcap_t is not thread-safe).
	mu      sync.Mutex
	h       *pcapHandle
	closed  bool
	frames  uint64
	bytes   uint64
	base    pcapStats // counts of handles closed before the current one
	cur     pcapStats // last counts read from the current handle
	reopens uint64
	state   string
	lastTry time.Time
}

// OpenLibpcap opens iface through libpcap in the calling thread's network
// namespace.
func OpenLibpcap(iface string, cfg LibpcapConfig) (*Libpcap, error) {
	cfg.fill()
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = 32 << 20
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = 2 << 20
	}
	if cfg.BatchBytes < 4*cfg.SnapLen {
		cfg.BatchBytes = 4 * cfg.SnapLen
	}
	nsfd, err := sys.CurrentNetns()
	if err != nil {
		nsfd = -1 // reopening then happens in the reader's namespace
	}
	s := &Libpcap{iface: iface, cfg: cfg, nsfd: nsfd}
	h, err := s.open()
	if err != nil {
		if nsfd >= 0 {
			sys.Close(nsfd)
		}
		return nil, err
	}
	s.h = h
	s.link = pcapLinkType(h.datalink())
	if !cfg.ZeroCopy {
		s.buf = make([]byte, cfg.BatchBytes)
	}
	return s, nil
}

// open activates a handle on the interface with the configured options and
// filter.
func (s *Libpcap) open() (*pcapHandle, error) {
	h, err := pcapOpen(s.iface, pcapOptions{
		snapLen:    s.cfg.SnapLen,
		bufferSize: s.cfg.BufferSize,
		promisc:    s.cfg.Promiscuous,
		timeout:    s.cfg.PollTimeout,
	})
	if err != nil {
		return nil, s.classify(err)
	}
	if s.cfg.BPF != "" {
		if err := h.setFilter(s.cfg.BPF, pcapNetmask(s.iface)); err != nil {
			h.close()
			return nil, liveErr("libpcap", s.iface, ErrBadFilter, quote(s.cfg.BPF), err)
		}
	}
	return h, nil
}

// classify turns libpcap's errors from opening a handle into the
// package's sentinels: by status code where libpcap gives one, else by
// the message's words.
func (s *Libpcap) classify(err error) error {
	var pe *pcapError
	if errors.As(err, &pe) {
		switch {
		case pe.op == "set":
			return liveErr("libpcap", s.iface, ErrBadConfig, "", err)
		case pe.status == pcapErrNoSuchDevice:
			return liveErr("libpcap", s.iface, ErrNoInterface, "", nil)
		case pe.status == pcapErrPermDenied || pe.status == pcapErrPromiscPermDenied:
			return liveErr("libpcap", s.iface, ErrPermission, "", nil)
		case pe.status == pcapErrIfaceNotUp:
			return liveErr("libpcap", s.iface, ErrInterfaceDown, "", nil)
		}
	}
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "no such device"):
		return liveErr("libpcap", s.iface, ErrNoInterface, "", nil)
	case strings.Contains(msg, "permission denied") || strings.Contains(msg, "operation not permitted"):
		return liveErr("libpcap", s.iface, ErrPermission, "", nil)
	case strings.Contains(msg, "not up"):
		return liveErr("libpcap", s.iface, ErrInterfaceDown, "", nil)
	}
	return liveErr("libpcap", s.iface, errors.New("cannot open"), "", err)
}

// ReadBatch fills dst with frames; see the type's documentation for how a
// batch ends. It returns (0, nil) when nothing came within PollTimeout or
// while the interface is unavailable, and ErrClosed after Close.
func (s *Libpcap) ReadBatch(dst []Frame) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	if s.h == nil {
		s.retryLocked()
		return 0, nil
	}
	if len(dst) == 0 {
		return 0, nil
	}
	if s.cfg.ZeroCopy {
		dst = dst[:1]
	}
	n, used := 0, 0
	for n < len(dst) {
		if !s.cfg.ZeroCopy && len(s.buf)-used < s.cfg.SnapLen {
			break
		}
		data, ts, wire, st := s.h.next()
		if st != 1 {
			if st < 0 {
				s.failLocked(st)
			}
			break
		}
		if !s.cfg.ZeroCopy {
			m := copy(s.buf[used:], data)
			data = s.buf[used : used+m : used+m]
			used += m
		}
		dst[n] = Frame{Data: data, Timestamp: ts, WireLen: wire, LinkType: s.link}
		s.bytes += uint64(len(data))
		n++
	}
	s.frames += uint64(n)
	return n, nil
}

// failLocked closes a handle libpcap reported an error (status) on and
// starts the retry cycle.
func (s *Libpcap) failLocked(status int) {
	msg := s.h.lastError(status)
	s.readStatsLocked()
	s.base.recv += s.cur.recv
	s.base.drop += s.cur.drop
	s.base.ifdrop += s.cur.ifdrop
	s.cur = pcapStats{}
	s.h.close()
	s.h = nil
	s.state = s.cfg.goneState(s.iface, msg)
	s.lastTry = time.Now()
}

// retryLocked reopens the interface when RetryInterval has passed, and
// otherwise waits a little so a caller looping on ReadBatch does not spin.
func (s *Libpcap) retryLocked() {
	if !s.cfg.retryDue(&s.lastTry) {
		return
	}
	var h *pcapHandle
	err := errors.New("no network namespace")
	open := func() error { h, err = s.open(); return nil }
	if s.nsfd >= 0 {
		sys.InNetns(s.nsfd, open)
	} else {
		open()
	}
	if err != nil {
		s.state = s.cfg.reopenFailedState(s.iface, err)
		return
	}
	s.h = h
	s.state = ""
	s.reopens++
}

// readStatsLocked refreshes the current handle's counters. libpcap keeps
// them cumulative per handle.
func (s *Libpcap) readStatsLocked() {
	if s.h == nil {
		return
	}
	if st, err := s.h.stats(); err == nil {
		s.cur = st
	}
}

// Stats reports frames and bytes delivered and the kernel's drops. Safe to
// call while ReadBatch runs (it waits for the current batch).
func (s *Libpcap) Stats() Stats { return s.LiveStats().Stats }

// LiveStats reports all counters and the source's state.
func (s *Libpcap) LiveStats() LiveStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readStatsLocked()
	st := LiveStats{
		Stats: Stats{
			Frames: s.frames,
			Bytes:  s.bytes,
			Drops:  s.base.drop + s.cur.drop,
			Size:   -1,
		},
		Received: s.base.recv + s.cur.recv,
		IfDrops:  s.base.ifdrop + s.cur.ifdrop,
		Reopens:  s.reopens,
		Up:       s.h != nil,
		State:    s.state,
	}
	if st.Up {
		st.State = "capturing"
	}
	return st
}

// LinkType is the link type of the interface's frames.
func (s *Libpcap) LinkType() LinkType { return s.link }

// Close releases the handle. ReadBatch then returns ErrClosed.
func (s *Libpcap) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.h != nil {
		s.h.close()
		s.h = nil
	}
	if s.nsfd >= 0 {
		sys.Close(s.nsfd)
		s.nsfd = -1
	}
	s.buf = nil
	return nil
}
