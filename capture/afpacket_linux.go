package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flowd/flowd/internal/sys"
)

// TPACKET_V3 ring layout (linux/if_packet.h). A block starts with a block
// descriptor; its header (tpacket_hdr_v1) follows the 8-byte version and
// private-offset words. Frames inside a block are tpacket3_hdr records
// chained by tp_next_offset.
const (
	blkStatusOff   = 8  // block_status
	blkNumPktsOff  = 12 // num_pkts
	blkFirstOff    = 16 // offset_to_first_pkt
	blkHeaderLen   = 48 // descriptor incl. header, rounded as the kernel does
	pktNextOff     = 0  // tp_next_offset
	pktSecOff      = 4  // tp_sec
	pktNsecOff     = 8  // tp_nsec
	pktSnaplenOff  = 12 // tp_snaplen
	pktLenOff      = 16 // tp_len
	pktStatusOff   = 20 // tp_status
	pktMacOff      = 24 // tp_mac (u16)
	pktVlanTCIOff  = 32 // hv1.tp_vlan_tci (u32, low 16 bits used)
	pktVlanTPIDOff = 36 // hv1.tp_vlan_tpid (u16)
	pktHeaderLen   = 48 // sizeof(struct tpacket3_hdr)
	sllLen         = 20 // struct sockaddr_ll, right after the header
	sllPkttypeOff  = 10 // sll_pkttype
	packetOutgoing = 4  // PACKET_OUTGOING

	tpStatusKernel    = 0
	tpStatusUser      = 1 << 0
	tpStatusVlanValid = 1 << 4
	tpStatusTPIDValid = 1 << 6

	// vlanHeadroom is the space asked for (PACKET_RESERVE) in front of each
	// frame's MAC header, where a stripped VLAN tag is put back.
	vlanHeadroom = 4
)

// The ring's header words are written by the kernel in the host's byte
// order.
var ne = binary.NativeEndian

// AFPacket is one AF_PACKET socket with its own TPACKET_V3 receive ring,
// usually one member of a fanout group opened by OpenAFPacket. *AFPacket
// implements Source.
//
// Zero copy: frames point into the ring. A ring block goes back to the
// kernel only at the next ReadBatch (or Close), after every frame in it has
// been handed out, so a batch stays valid until the next ReadBatch, as the
// Source contract says, and the ring should hold many batches.
//
// VLAN: the kernel removes the outer 802.1Q/802.1ad tag from the frame and
// reports it beside it. ReadBatch puts it back (TPID and TCI) in the
// headroom in front of the frame, so Data holds the bytes as they were on
// the wire and as a pcap of the interface shows them, and WireLen counts
// the tag.
//
// Interface trouble: when the interface goes down, the socket reports
// ENETDOWN; the source notes it in LiveStats (Up false, State with the
// reason and time) and keeps returning (0, nil) until the interface is up
// again, when the kernel resumes delivery on the same socket and ring. When
// the interface disappears (or is replaced by another of the same name),
// the socket is closed and the source tries every RetryInterval to open
// the name again in the network namespace it was first opened in, joining
// a fresh fanout group shared by the members that reopen. Frames in blocks
// the kernel had already passed on are delivered before that; a block it
// was still filling when the interface vanished is lost with the socket.
//
// Allocation: ReadBatch allocates nothing (tested).
type AFPacket struct {
	// Owned by the reading goroutine.
	ring     []byte
	fd       int
	bsize    int
	nblk     int
	cur      int // block being read (or waited for)
	left     int // frames not yet handed out in block cur; 0: block not open
	off      int // ring offset of the next frame in block cur
	held     int // walked blocks before cur still to hand back to the kernel
	link     LinkType
	loopback bool
	pollMs   int
	ifindex  int
	down     bool
	gen      int
	joined   atomic.Uint32 // fanout group id this socket joined
	lastTry  time.Time
	bad      atomic.Uint64 // malformed ring records skipped (never seen in practice)
	frames   atomic.Uint64
	bytes    atomic.Uint64

	iface string
	cfg   AFPacketConfig
	prog  []sys.SockFilter
	group *fanoutGroup

	// rmu is held by ReadBatch and Close, so Close from another goroutine
	// waits for a batch in progress (at most PollTimeout) instead of
	// unmapping the ring under it.
	rmu sync.Mutex
	// mu guards the socket's lifetime against Stats from other goroutines,
	// and the fields below.
	mu       sync.Mutex
	closed   bool
	received uint64
	drops    uint64
	freezes  uint64
	reopens  uint64
	state    string
}

// fanoutGroup is what the members of one OpenAFPacket call share.
type fanoutGroup struct {
	mu     sync.Mutex
	nsfd   int // network namespace the group was opened in; -1 unknown
	refs   int
	id     uint16
	gen    int
	defrag bool
	mode   FanoutMode
}

// join puts s into fanout group id (see sys.PacketFanout) in the group's
// mode; in FanoutAddr mode it sets the program for s's link type.
func (g *fanoutGroup) join(s *AFPacket, id uint16, unique bool) (uint16, error) {
	var prog []sys.SockFilter
	if g.mode == FanoutAddr {
		prog = addrFanoutProg(s.link)
	}
	return sys.PacketFanout(s.fd, id, prog, g.defrag, unique)
}

// OpenAFPacket opens n AF_PACKET sockets on iface, each with its own ring,
// all in one PACKET_FANOUT group: by default (FanoutAddr) a classic BPF
// program hashes each frame's IP address pair, the same both ways, so every
// frame between two hosts reaches the same socket in order; with
// FanoutHash the kernel's flow hash (addresses and ports) picks the socket
// (see FanoutMode). Give each worker one
// of the returned sources. The sockets are opened in the calling thread's
// network namespace and stay there.
//
// Each socket gets the filter only once it is in the group (until then a
// program that accepts nothing keeps it empty), so no frame is seen twice
// by the group and none passes unfiltered.
//
// Errors name the interface and the cause: ErrNoInterface, ErrPermission,
// ErrBadFilter, ErrInterfaceDown, ErrBadConfig (match with errors.Is). On
// error nothing stays open.
func OpenAFPacket(iface string, n int, cfg AFPacketConfig) ([]*AFPacket, error) {
	if err := cfg.fill(iface, n); err != nil {
		return nil, err
	}
	nsfd, err := sys.CurrentNetns()
	if err != nil {
		nsfd = -1
	}
	g := &fanoutGroup{nsfd: nsfd, id: cfg.FanoutGroup, gen: 1, defrag: !cfg.NoDefrag, mode: cfg.Fanout}
	srcs := make([]*AFPacket, 0, n)
	fail := func(err error) ([]*AFPacket, error) {
		for _, s := range srcs {
			s.Close()
		}
		if len(srcs) == 0 && nsfd >= 0 {
			sys.Close(nsfd)
		}
		return nil, err
	}
	var prog []sys.SockFilter
	for i := range n {
		s := &AFPacket{iface: iface, cfg: cfg, group: g, gen: 1, fd: -1,
			pollMs: int((cfg.PollTimeout + time.Millisecond - 1) / time.Millisecond)}
		if err := s.open(prog); err != nil {
			return fail(err)
		}
		prog = s.prog
		// Fanout: the first member creates the group (with a kernel-chosen
		// id unless one was configured), the others join it.
		unique := i == 0 && g.id == 0
		id, err := g.join(s, g.id, unique)
		if err != nil && unique && errors.Is(err, syscall.EINVAL) {
			// Old kernels lack PACKET_FANOUT_FLAG_UNIQUEID; a group id
			// from the process id is unlikely to be taken.
			g.id = uint16(os.Getpid())
			id, err = g.join(s, g.id, false)
		}
		if err == nil {
			err = s.arm()
		} else {
			err = s.fanoutErr(err)
		}
		if err != nil {
			s.closeSocket()
			return fail(err)
		}
		g.id = id
		s.joined.Store(uint32(id))
		g.refs++
		srcs = append(srcs, s)
	}
	return srcs, nil
}

func (c *AFPacketConfig) fill(iface string, n int) error {
	c.LiveConfig.fill()
	if c.BlockSize <= 0 {
		c.BlockSize = 1 << 20
	}
	if c.BlockCount <= 0 {
		c.BlockCount = 32
	}
	if c.FrameSize <= 0 {
		c.FrameSize = 2048
	}
	if c.BlockTimeout <= 0 {
		c.BlockTimeout = 10 * time.Millisecond
	}
	bad := func(format string, a ...any) error {
		return liveErr("afpacket", iface, ErrBadConfig, fmt.Sprintf(format, a...), nil)
	}
	page := os.Getpagesize()
	switch {
	case n < 1 || n > 1024:
		return bad("(sockets %d: 1-1024)", n)
	case c.BlockSize%page != 0 || c.BlockSize > 1<<30:
		return bad("(BlockSize %d: a multiple of the page size %d, at most 1 GiB)", c.BlockSize, page)
	case c.FrameSize < 128 || c.FrameSize%16 != 0 || c.BlockSize%c.FrameSize != 0:
		return bad("(FrameSize %d: a multiple of 16, at least 128, dividing BlockSize %d)", c.FrameSize, c.BlockSize)
	case c.BlockCount > 1<<16 || int64(c.BlockSize)*int64(c.BlockCount) > 1<<36:
		return bad("(BlockCount %d × BlockSize %d: at most 65536 blocks and 64 GiB)", c.BlockCount, c.BlockSize)
	case c.BlockTimeout > time.Minute:
		return bad("(BlockTimeout %s: at most 1m)", c.BlockTimeout)
	case c.Fanout > FanoutHash:
		return bad("(Fanout %d: FanoutAddr or FanoutHash)", c.Fanout)
	}
	return nil
}

// open creates the socket and ring and binds them to the interface; the
// caller joins the fanout group. prog is the filter compiled for an earlier
// member, nil for the first.
func (s *AFPacket) open(prog []sys.SockFilter) error {
	fd, err := sys.PacketSocket()
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return liveErr("afpacket", s.iface, ErrPermission, "", nil)
		}
		return liveErr("afpacket", s.iface, errors.New("cannot open packet socket"), "", err)
	}
	ok := false
	defer func() {
		if !ok {
			sys.Close(fd)
		}
	}()
	ifc, err := sys.InterfaceByName(fd, s.iface)
	if err != nil {
		if errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO) || errors.Is(err, syscall.EINVAL) {
			return liveErr("afpacket", s.iface, ErrNoInterface, "", nil)
		}
		return liveErr("afpacket", s.iface, errors.New("cannot look up interface"), "", err)
	}
	if !ifc.Up {
		return liveErr("afpacket", s.iface, ErrInterfaceDown, "", nil)
	}
	switch ifc.ARPHRD {
	case sys.ARPHRDEther, sys.ARPHRDLoopback:
		s.link = LinkEthernet
		s.loopback = ifc.ARPHRD == sys.ARPHRDLoopback
	case sys.ARPHRDNone, sys.ARPHRDRawIP:
		s.link = LinkRaw
	default:
		return liveErr("afpacket", s.iface, ErrNotSupported,
			fmt.Sprintf("(hardware type ARPHRD %d; use the libpcap source)", ifc.ARPHRD), nil)
	}
	if prog == nil {
		switch {
		case s.cfg.BPF != "":
			prog, err = compileFilter("afpacket", s.iface, s.cfg.BPF, s.link, s.cfg.SnapLen)
			if err != nil {
				return err
			}
		case s.cfg.SnapLen < DefaultSnapLen:
			// A one-instruction program: accept every frame, keeping
			// SnapLen bytes, so the kernel copies no more than that.
			prog = []sys.SockFilter{{Code: 0x06, K: uint32(s.cfg.SnapLen)}} // BPF_RET|BPF_K
		}
	}
	ring, err := sys.PacketSetupRing(fd, sys.PacketRing{
		BlockSize:  uint32(s.cfg.BlockSize),
		BlockCount: uint32(s.cfg.BlockCount),
		FrameSize:  uint32(s.cfg.FrameSize),
		TimeoutMs:  uint32(max(1, s.cfg.BlockTimeout/time.Millisecond)),
		Reserve:    vlanHeadroom,
	})
	if err != nil {
		return liveErr("afpacket", s.iface, errors.New("cannot set up TPACKET_V3 ring"),
			fmt.Sprintf("(%d blocks of %d bytes)", s.cfg.BlockCount, s.cfg.BlockSize), err)
	}
	defer func() {
		if !ok {
			sys.PacketUnmap(ring)
		}
	}()
	// Until the socket is in its fanout group it would get a copy of
	// every frame, duplicating what the group's members see; a program
	// that accepts nothing keeps it empty until arm swaps in the real one.
	if err := sys.PacketAttachFilter(fd, dropAll); err != nil {
		return liveErr("afpacket", s.iface, errors.New("cannot attach filter"), "", err)
	}
	if err := sys.PacketBind(fd, ifc.Index); err != nil {
		if errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO) {
			return liveErr("afpacket", s.iface, ErrNoInterface, "", err)
		}
		return liveErr("afpacket", s.iface, errors.New("cannot bind"), "", err)
	}
	if s.cfg.Promiscuous {
		if err := sys.PacketPromisc(fd, ifc.Index); err != nil {
			return liveErr("afpacket", s.iface, errors.New("cannot enable promiscuous mode"), "", err)
		}
	}
	ok = true
	s.mu.Lock()
	s.fd, s.ring, s.prog, s.ifindex = fd, ring, prog, ifc.Index
	s.bsize, s.nblk = s.cfg.BlockSize, s.cfg.BlockCount
	s.cur, s.left, s.off, s.held, s.down = 0, 0, 0, 0, false
	s.mu.Unlock()
	return nil
}

// dropAll is a BPF program that accepts no frame (BPF_RET|BPF_K 0).
var dropAll = []sys.SockFilter{{Code: 0x06, K: 0}}

// arm replaces the drop-everything program open attached with the real
// filter (or none), once the socket is in its fanout group.
func (s *AFPacket) arm() error {
	var err error
	if s.prog != nil {
		err = sys.PacketAttachFilter(s.fd, s.prog)
	} else {
		err = sys.PacketDetachFilter(s.fd)
	}
	if err != nil {
		return liveErr("afpacket", s.iface, ErrBadFilter, quote(s.cfg.BPF), err)
	}
	return nil
}

func (s *AFPacket) fanoutErr(err error) error {
	detail := "PACKET_FANOUT"
	if s.group.id != 0 {
		detail += fmt.Sprintf(" group %d, maybe in use by another program in another mode", s.group.id)
	}
	if s.group.mode == FanoutAddr && errors.Is(err, syscall.EINVAL) {
		// Kernels before 4.3 have no PACKET_FANOUT_CBPF.
		detail += "; a kernel without PACKET_FANOUT_CBPF needs the hash mode"
	}
	return liveErr("afpacket", s.iface, errors.New("cannot join fanout group"), "("+detail+")", err)
}

// ReadBatch fills dst with the next frames, straight from the ring. It
// hands back to the kernel the blocks the previous batch came from, then
// returns what is ready, waiting up to PollTimeout when nothing is. It
// returns (0, nil) after such a wait and while the interface is down or
// gone, and ErrClosed after Close.
func (s *AFPacket) ReadBatch(dst []Frame) (int, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.ring == nil {
		if s.closed {
			return 0, ErrClosed
		}
		s.retry()
		return 0, nil
	}
	s.release()
	n, nbytes := 0, 0
	waited := false
	for n < len(dst) {
		if s.left == 0 {
			if s.held == s.nblk {
				break // every block is held by this batch
			}
			base := s.cur * s.bsize
			if sys.LoadUint32(s.ring, base+blkStatusOff)&tpStatusUser == 0 {
				if n > 0 || waited {
					break
				}
				waited = true
				if !s.wait() {
					break
				}
				continue
			}
			s.left = int(ne.Uint32(s.ring[base+blkNumPktsOff:]))
			s.off = base + int(ne.Uint32(s.ring[base+blkFirstOff:]))
			if s.left == 0 {
				s.nextBlock()
				continue
			}
		}
		switch s.frame(&dst[n]) {
		case frameBad:
			s.bad.Add(1)
			s.nextBlock() // skip the rest of a block that makes no sense
			continue
		case frameOK:
			nbytes += len(dst[n].Data)
			n++
		}
		s.left--
		if s.left == 0 {
			s.nextBlock()
		}
	}
	if n > 0 {
		s.frames.Add(uint64(n))
		s.bytes.Add(uint64(nbytes))
	}
	return n, nil
}

const (
	frameOK   = iota // f holds the frame
	frameSkip        // a frame not to deliver (loopback's outgoing copy)
	frameBad         // the record does not fit its block
)

// frame decodes the tpacket3_hdr at s.off into f and moves s.off to the
// next one.
func (s *AFPacket) frame(f *Frame) int {
	end := (s.cur + 1) * s.bsize
	off := s.off
	if off < s.cur*s.bsize+blkHeaderLen || off+pktHeaderLen+sllLen > end {
		return frameBad
	}
	h := s.ring[off : off+pktHeaderLen : off+pktHeaderLen]
	snap := int(ne.Uint32(h[pktSnaplenOff:]))
	wire := ne.Uint32(h[pktLenOff:])
	status := ne.Uint32(h[pktStatusOff:])
	mac := off + int(ne.Uint16(h[pktMacOff:]))
	if mac < off+pktHeaderLen || snap > end-mac {
		return frameBad
	}
	if s.loopback && s.ring[off+pktHeaderLen+sllPkttypeOff] == packetOutgoing {
		// On loopback every frame passes twice, leaving and arriving;
		// deliver it once, as tcpdump does.
		s.advance(h, off, end)
		return frameSkip
	}
	start := mac
	if status&tpStatusVlanValid != 0 && s.link == LinkEthernet && snap >= 12 && mac-vlanHeadroom >= off+pktHeaderLen {
		tpid := uint16(0x8100)
		if status&tpStatusTPIDValid != 0 {
			tpid = ne.Uint16(h[pktVlanTPIDOff:])
		}
		tci := uint16(ne.Uint32(h[pktVlanTCIOff:]))
		// Slide the two MAC addresses into the headroom and put the tag
		// between them and the EtherType.
		copy(s.ring[mac-vlanHeadroom:mac+8], s.ring[mac:mac+12])
		binary.BigEndian.PutUint16(s.ring[mac+8:], tpid)
		binary.BigEndian.PutUint16(s.ring[mac+10:], tci)
		start -= vlanHeadroom
		snap += vlanHeadroom
		wire += vlanHeadroom
	}
	*f = Frame{
		Data:      s.ring[start : start+snap : start+snap],
		Timestamp: int64(ne.Uint32(h[pktSecOff:]))*1e9 + int64(ne.Uint32(h[pktNsecOff:])),
		WireLen:   wire,
		LinkType:  s.link,
	}
	s.advance(h, off, end)
	return frameOK
}

// advance moves s.off past the frame whose header h is at off.
func (s *AFPacket) advance(h []byte, off, end int) {
	if s.left > 1 {
		next := int(ne.Uint32(h[pktNextOff:]))
		if next < pktHeaderLen || next > end-off {
			s.left = 1 // the rest of the block is unreachable
		}
		s.off = off + next
	}
}

// nextBlock marks block cur as walked (to be handed back at the next
// ReadBatch) and moves to the next one.
func (s *AFPacket) nextBlock() {
	s.left = 0
	s.held++
	s.cur++
	if s.cur == s.nblk {
		s.cur = 0
	}
}

// release hands the blocks walked by the previous batch back to the kernel.
func (s *AFPacket) release() {
	b := s.cur - s.held
	if b < 0 {
		b += s.nblk
	}
	for ; s.held > 0; s.held-- {
		sys.StoreUint32(s.ring, b*s.bsize+blkStatusOff, tpStatusKernel)
		if b++; b == s.nblk {
			b = 0
		}
	}
}

// wait polls the socket for a ready block. It reports false when the
// source has nothing more to offer in this call.
func (s *AFPacket) wait() bool {
	m, err := sys.Poll(s.fd, s.pollMs)
	if err != nil {
		s.setState(fmt.Sprintf("poll: %v", err))
		return false
	}
	if m&(sys.PollError|sys.PollHangup) != 0 {
		if serr := sys.SocketError(s.fd); serr != nil {
			s.down = true
			s.setState(serr.Error())
		}
		return s.checkInterface()
	}
	if m == 0 && s.down {
		return s.checkInterface()
	}
	return m&sys.PollReadable != 0
}

// checkInterface looks at the interface after the socket reported an error
// or while it is known to be down: up again, still down, or gone. It
// reports whether the ring may still be read.
func (s *AFPacket) checkInterface() bool {
	ifc, err := sys.InterfaceByName(s.fd, s.iface)
	switch {
	case err != nil || ifc.Index != s.ifindex:
		why := "interface disappeared"
		if err == nil {
			why = "interface was replaced"
		}
		s.gone(why)
		return false
	case !ifc.Up:
		s.down = true
		s.setState("interface is down")
		return true
	}
	if s.down {
		s.down = false
		s.setState("")
	}
	return true
}

func (s *AFPacket) setState(why string) {
	s.mu.Lock()
	if why == "" {
		s.state = ""
	} else if s.state == "" || !s.down {
		s.state = fmt.Sprintf("%s: %s (since %s)", s.iface, why, time.Now().UTC().Format(time.RFC3339))
	}
	s.mu.Unlock()
}

// gone closes the socket of an interface that no longer exists; ReadBatch
// then retries opening it.
func (s *AFPacket) gone(why string) {
	s.mu.Lock()
	s.readKernelStatsLocked()
	s.state = s.cfg.goneState(s.iface, why)
	s.mu.Unlock()
	s.closeSocket()
	s.lastTry = time.Now()
}

// retry reopens the interface when RetryInterval has passed since the last
// try; otherwise it sleeps up to PollTimeout, so a caller looping on
// ReadBatch does not spin.
func (s *AFPacket) retry() {
	if !s.cfg.retryDue(&s.lastTry) {
		return
	}
	var err error
	open := func() error { err = s.open(s.prog); return nil }
	if s.group.nsfd >= 0 {
		if e := sys.InNetns(s.group.nsfd, open); e != nil {
			err = e
		}
	} else {
		open()
	}
	if err == nil {
		err = s.group.rejoin(s)
		if err != nil {
			s.closeSocket()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.state = s.cfg.reopenFailedState(s.iface, err)
		return
	}
	s.state = ""
	s.reopens++
}

// rejoin puts a reopened member into a fanout group. The old group may
// still hold members on the vanished device, so the first member to reopen
// creates a new group and the others follow it.
func (g *fanoutGroup) rejoin(s *AFPacket) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s.gen == g.gen {
		id, err := g.join(s, 0, true)
		if err != nil {
			return s.fanoutErr(err)
		}
		g.id, g.gen = id, g.gen+1
	} else if _, err := g.join(s, g.id, false); err != nil {
		return s.fanoutErr(err)
	}
	s.gen = g.gen
	s.joined.Store(uint32(g.id))
	return s.arm()
}

// closeSocket unmaps the ring and closes the socket, keeping its final
// kernel counters.
func (s *AFPacket) closeSocket() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return
	}
	s.readKernelStatsLocked()
	if s.ring != nil {
		sys.PacketUnmap(s.ring)
	}
	sys.Close(s.fd)
	s.fd, s.ring, s.left, s.held = -1, nil, 0, 0
}

// readKernelStatsLocked adds the kernel's counters since the last read
// (the kernel clears them on every read).
func (s *AFPacket) readKernelStatsLocked() {
	if s.fd < 0 {
		return
	}
	st, err := sys.PacketStatistics(s.fd)
	if err != nil {
		return
	}
	s.received += uint64(st.Packets)
	s.drops += uint64(st.Drops)
	s.freezes += uint64(st.Freezes)
}

// Stats reports frames and bytes delivered and the kernel's cumulative
// drops for this socket. Safe to call from any goroutine.
func (s *AFPacket) Stats() Stats { return s.LiveStats().Stats }

// LiveStats reports all counters and the source's state. Safe to call from
// any goroutine.
func (s *AFPacket) LiveStats() LiveStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readKernelStatsLocked()
	st := LiveStats{
		Stats: Stats{
			Frames: s.frames.Load(),
			Bytes:  s.bytes.Load(),
			Drops:  s.drops,
			Size:   -1,
		},
		Received:  s.received,
		Freezes:   s.freezes,
		Reopens:   s.reopens,
		Malformed: s.bad.Load(),
		Up:        s.state == "" && !s.closed,
		State:     s.state,
	}
	switch {
	case s.closed:
		st.State = "closed"
	case st.Up:
		st.State = "capturing"
	}
	return st
}

// LinkType is the link type of the interface's frames.
func (s *AFPacket) LinkType() LinkType { return s.link }

// FanoutGroup is the PACKET_FANOUT group id the source's socket joined
// last (after a reopen, the group is a new one).
func (s *AFPacket) FanoutGroup() uint16 { return uint16(s.joined.Load()) }

// Close unmaps the ring and closes the socket; frames from the last batch
// become invalid. It may be called from any goroutine: it waits for a
// ReadBatch in progress to return (at most PollTimeout). ReadBatch then
// returns ErrClosed.
func (s *AFPacket) Close() error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.closeSocket()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	g := s.group
	g.mu.Lock()
	if g.refs--; g.refs == 0 && g.nsfd >= 0 {
		sys.Close(g.nsfd)
		g.nsfd = -1
	}
	g.mu.Unlock()
	return nil
}
