package sys

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Wrappers for AF_PACKET sockets with a TPACKET_V3 receive ring, and for
// network namespaces. Errors are *os.SyscallError values naming the call,
// so errors.Is(err, syscall.EPERM) and friends work for callers.

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// PacketSocket opens a raw AF_PACKET socket (close-on-exec) in the calling
// thread's network namespace. It is created with protocol 0, so it receives
// nothing until PacketBind: ring, filter and options can be set up first
// without packets slipping in unfiltered.
func PacketSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}

// Close closes a descriptor returned by this package.
func Close(fd int) error {
	if err := unix.Close(fd); err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// InterfaceByName looks name up through the socket fd, so the answer comes
// from the socket's network namespace rather than the calling thread's.
func InterfaceByName(fd int, name string) (Interface, error) {
	var ifc Interface
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return ifc, os.NewSyscallError("ioctl SIOCGIFINDEX", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return ifc, os.NewSyscallError("ioctl SIOCGIFINDEX", err)
	}
	ifc.Index = int(ifr.Uint32())
	ifr, _ = unix.NewIfreq(name)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return ifc, os.NewSyscallError("ioctl SIOCGIFHWADDR", err)
	}
	// The hardware address is a struct sockaddr whose family field holds
	// the ARPHRD type.
	ifc.ARPHRD = ifr.Uint16()
	ifr, _ = unix.NewIfreq(name)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return ifc, os.NewSyscallError("ioctl SIOCGIFFLAGS", err)
	}
	ifc.Up = ifr.Uint16()&unix.IFF_UP != 0
	return ifc, nil
}

// PacketSetupRing switches fd to TPACKET_V3, sets the headroom, creates
// the receive ring and maps it. The returned memory is shared with the
// kernel until PacketUnmap.
func PacketSetupRing(fd int, r PacketRing) ([]byte, error) {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, os.NewSyscallError("setsockopt PACKET_VERSION", err)
	}
	if r.Reserve > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_RESERVE, int(r.Reserve)); err != nil {
			return nil, os.NewSyscallError("setsockopt PACKET_RESERVE", err)
		}
	}
	if r.FrameSize == 0 || r.BlockSize%r.FrameSize != 0 {
		return nil, fmt.Errorf("ring: block size %d is not a multiple of frame size %d", r.BlockSize, r.FrameSize)
	}
	req := unix.TpacketReq3{
		Block_size:     r.BlockSize,
		Block_nr:       r.BlockCount,
		Frame_size:     r.FrameSize,
		Frame_nr:       r.BlockSize / r.FrameSize * r.BlockCount,
		Retire_blk_tov: r.TimeoutMs,
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, os.NewSyscallError("setsockopt PACKET_RX_RING", err)
	}
	size := int(r.BlockSize) * int(r.BlockCount)
	// MAP_POPULATE maps every page now: the kernel allocated the ring
	// already, and the reader then takes no page fault per 4 KiB touched.
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return mem, nil
}

// PacketUnmap unmaps a ring returned by PacketSetupRing.
func PacketUnmap(mem []byte) error {
	if err := unix.Munmap(mem); err != nil {
		return os.NewSyscallError("munmap", err)
	}
	return nil
}

// PacketAttachFilter attaches a classic BPF program to fd.
func PacketAttachFilter(fd int, prog []SockFilter) error {
	return setProgram(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, "SO_ATTACH_FILTER", prog)
}

// setProgram sets socket option opt (named name in errors) to the classic
// BPF program prog.
func setProgram(fd, level, opt int, name string, prog []SockFilter) error {
	if len(prog) == 0 || len(prog) > 0xffff {
		return fmt.Errorf("%s: a program of %d instructions (1-65535)", name, len(prog))
	}
	// SockFilter has the kernel's layout, as unix.SockFilter does.
	fp := unix.SockFprog{
		Len:    uint16(len(prog)),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0])),
	}
	err := unix.SetsockoptSockFprog(fd, level, opt, &fp)
	runtime.KeepAlive(prog)
	if err != nil {
		return os.NewSyscallError("setsockopt "+name, err)
	}
	return nil
}

// PacketBind binds fd to the interface ifindex for all protocols; from
// then on the kernel fills the ring.
func PacketBind(fd, ifindex int) error {
	sa := unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, &sa); err != nil {
		return os.NewSyscallError("bind", err)
	}
	return nil
}

// PacketPromisc puts the interface into promiscuous mode for as long as fd
// is open (the kernel counts such requests and undoes them on close).
func PacketPromisc(fd, ifindex int) error {
	mr := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
		return os.NewSyscallError("setsockopt PACKET_ADD_MEMBERSHIP", err)
	}
	return nil
}

// PacketFanout joins the bound socket fd to fanout group id, with IP
// defragmentation before the fanout when defrag is set. With prog nil the
// group is in hash mode (the kernel's flow hash picks the socket); with a
// classic BPF program it is in CBPF mode: the program's return value modulo
// the number of sockets picks the socket, and fd sets it as the group's
// program (PACKET_FANOUT_DATA; the group has one program, the last set).
// With id 0 and unique set, the kernel picks an unused group id; the id
// actually joined is returned.
func PacketFanout(fd int, id uint16, prog []SockFilter, defrag, unique bool) (uint16, error) {
	flags := unix.PACKET_FANOUT_HASH
	if prog != nil {
		flags = unix.PACKET_FANOUT_CBPF
	}
	if defrag {
		flags |= unix.PACKET_FANOUT_FLAG_DEFRAG
	}
	if unique {
		flags |= unix.PACKET_FANOUT_FLAG_UNIQUEID
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, int(id)|flags<<16); err != nil {
		return 0, os.NewSyscallError("setsockopt PACKET_FANOUT", err)
	}
	if prog != nil {
		if err := setProgram(fd, unix.SOL_PACKET, unix.PACKET_FANOUT_DATA, "PACKET_FANOUT_DATA", prog); err != nil {
			return 0, err
		}
	}
	v, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
	if err != nil {
		return 0, os.NewSyscallError("getsockopt PACKET_FANOUT", err)
	}
	return uint16(v), nil
}

// PacketStatistics reads and clears the kernel's counters for fd.
func PacketStatistics(fd int) (PacketStats, error) {
	st, err := unix.GetsockoptTpacketStatsV3(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return PacketStats{}, os.NewSyscallError("getsockopt PACKET_STATISTICS", err)
	}
	return PacketStats{Packets: st.Packets, Drops: st.Drops, Freezes: st.Freeze_q_cnt}, nil
}

// SocketError reads and clears the socket's pending error (SO_ERROR); nil
// when none is pending.
func SocketError(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return os.NewSyscallError("getsockopt SO_ERROR", err)
	}
	if v != 0 {
		return unix.Errno(v)
	}
	return nil
}

// Poll waits up to timeoutMs for fd to become readable or to report an
// error, and returns a mask of Poll* bits (0 on timeout). An interrupted
// wait (EINTR) reports 0 with a nil error. It does not allocate.
func Poll(fd int, timeoutMs int) (int, error) {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds[:], timeoutMs)
	if err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, os.NewSyscallError("poll", err)
	}
	if n == 0 {
		return 0, nil
	}
	var m int
	re := fds[0].Revents
	if re&unix.POLLIN != 0 {
		m |= PollReadable
	}
	if re&(unix.POLLERR|unix.POLLNVAL) != 0 {
		m |= PollError
	}
	if re&unix.POLLHUP != 0 {
		m |= PollHangup
	}
	return m, nil
}

// CurrentNetns opens the calling thread's network namespace; close the
// descriptor with Close.
func CurrentNetns() (int, error) {
	fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("open /proc/thread-self/ns/net", err)
	}
	return fd, nil
}

// OpenNetns opens a network namespace file such as /run/netns/NAME.
func OpenNetns(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// InNetns runs f on a fresh OS thread that has entered the network
// namespace nsfd, and waits for it. Sockets f creates belong to that
// namespace for their whole life, whichever thread uses them later. The
// thread is never handed back to the Go scheduler: it ends with f, so no
// other goroutine ever runs in the namespace by accident. Goroutines that
// f starts run in the process's usual namespace.
func InNetns(nsfd int, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread exits with this goroutine.
		if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
			done <- os.NewSyscallError("setns", err)
			return
		}
		done <- f()
	}()
	return <-done
}

// PacketDetachFilter removes fd's BPF program, if any.
func PacketDetachFilter(fd int) error {
	err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0)
	if err != nil && err != unix.ENOENT {
		return os.NewSyscallError("setsockopt SO_DETACH_FILTER", err)
	}
	return nil
}
