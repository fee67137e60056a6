//go:build cgo

package capture

// Our own binding to libpcap, limited to what the Libpcap source and the
// BPF compiler use. It replaced gopacket/pcap, whose import of
// gopacket/layers cost every start of the flowd binary about 25 ms of
// package initialisation (GODEBUG=inittrace=1, 4 Dec 2026), while loading
// libpcap.so itself costs about 0.5 ms.
//
// A pcapHandle is not safe for concurrent use; Libpcap serialises its
// calls under its mutex.

/*
#cgo LDFLAGS: -lpcap
#include <stdint.h>
#include <stdlib.h>
#include <poll.h>
#include <pcap/pcap.h>

// flowd_frame receives one frame from flowd_next. data points into
// libpcap's buffer and stays valid until the next call on the handle.
struct flowd_frame {
	const u_char *data;
	int64_t sec;
	int64_t frac;   // microseconds or nanoseconds, per the handle's precision
	uint32_t caplen;
	uint32_t len;
};

// flowd_next reads one frame from a non-blocking handle. When none is
// ready it waits up to msec on the selectable descriptor (fd, or no wait
// when fd < 0) and tries once more, so a frame costs one cgo call. It
// returns 1 with *f filled, 0 when nothing came, or pcap_next_ex's
// negative error.
static int flowd_next(pcap_t *p, int fd, int msec, struct flowd_frame *f) {
	struct pcap_pkthdr *h;
	const u_char *data;
	int r = pcap_next_ex(p, &h, &data);
	if (r == 0 && fd >= 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		poll(&pfd, 1, msec);
		r = pcap_next_ex(p, &h, &data);
	}
	if (r <= 0) {
		return r;
	}
	f->data = data;
	f->sec = h->ts.tv_sec;
	f->frac = h->ts.tv_usec;
	f->caplen = h->caplen;
	f->len = h->len;
	return 1;
}
*/
import "C"

import (
	"sync"
	"time"
	"unsafe"

	"github.com/flowd/flowd/internal/sys"
)

// libpcap's status codes that the package tells apart.
const (
	pcapWarning              = C.PCAP_WARNING
	pcapWarningPromiscNotSup = C.PCAP_WARNING_PROMISC_NOTSUP
	pcapErrNoSuchDevice      = C.PCAP_ERROR_NO_SUCH_DEVICE
	pcapErrPermDenied        = C.PCAP_ERROR_PERM_DENIED
	pcapErrPromiscPermDenied = C.PCAP_ERROR_PROMISC_PERM_DENIED
	pcapErrIfaceNotUp        = C.PCAP_ERROR_IFACE_NOT_UP
	pcapNetmaskUnknown       = C.PCAP_NETMASK_UNKNOWN
	pcapDLTRaw               = C.DLT_RAW // 12, or 14 on OpenBSD
)

// pcapError is a libpcap failure: the call, its status code (0 when
// libpcap gave only a message) and libpcap's message.
type pcapError struct {
	op     string
	status int
	msg    string
}

func (e *pcapError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return C.GoString(C.pcap_statustostr(C.int(e.status)))
}

// pcapStats are libpcap's counters for one handle, cumulative since it
// was activated.
type pcapStats struct {
	recv, drop, ifdrop uint64
}

// pcapHandle is an activated (or dead) libpcap handle.
type pcapHandle struct {
	p    *C.pcap_t
	fd   C.int // selectable descriptor to poll, or -1
	msec C.int // how long flowd_next waits
	// tsMul turns the timestamp fraction into nanoseconds: 1 when
	// libpcap gave nanosecond precision, 1000 for microseconds.
	tsMul int64
	// frame is filled by flowd_next; kept here so reading a frame
	// allocates nothing (C writes into memory the handle owns).
	frame C.struct_flowd_frame
}

// pcapOptions are the settings applied before activation.
type pcapOptions struct {
	snapLen    int
	bufferSize int
	promisc    bool
	// timeout is the packet buffer timeout; when positive the handle reads
	// without blocking and waits at most timeout per read.
	timeout time.Duration
}

// pcapMillis rounds a positive duration below a millisecond up to one.
func pcapMillis(d time.Duration) int {
	if d > 0 && d < time.Millisecond {
		return 1
	}
	return int(d / time.Millisecond)
}

// pcapOpen creates a handle on iface, applies o and activates it. Errors
// are *pcapError, with op "pcap_create", "set" (an option was refused),
// "pcap_activate" or "pcap_setnonblock"; the handle is closed on failure.
// A successful activation with a warning counts as success, except that
// a refused promiscuous mode (when asked for) is an error.
func pcapOpen(iface string, o pcapOptions) (*pcapHandle, error) {
	var errbuf [C.PCAP_ERRBUF_SIZE]C.char
	dev := C.CString(iface)
	defer C.free(unsafe.Pointer(dev))
	p := C.pcap_create(dev, &errbuf[0])
	if p == nil {
		return nil, &pcapError{op: "pcap_create", msg: C.GoString(&errbuf[0])}
	}
	ok := false
	defer func() {
		if !ok {
			C.pcap_close(p)
		}
	}()
	promisc := C.int(0)
	if o.promisc {
		promisc = 1
	}
	for _, st := range []C.int{
		C.pcap_set_snaplen(p, C.int(o.snapLen)),
		C.pcap_set_promisc(p, promisc),
		C.pcap_set_timeout(p, C.int(pcapMillis(o.timeout))),
		C.pcap_set_buffer_size(p, C.int(o.bufferSize)),
	} {
		if st < 0 {
			return nil, &pcapError{op: "set", status: int(st)}
		}
	}
	// Ask for nanosecond timestamps; the precision granted is read back
	// after activation, so a refusal here does no harm.
	C.pcap_set_tstamp_precision(p, C.PCAP_TSTAMP_PRECISION_NANO)
	if st := C.pcap_activate(p); st < 0 || (st == pcapWarningPromiscNotSup && o.promisc) {
		msg := ""
		if st == C.PCAP_ERROR || st > 0 {
			// Only the generic codes leave a specific message behind.
			msg = C.GoString(C.pcap_geterr(p))
		}
		return nil, &pcapError{op: "pcap_activate", status: int(st), msg: msg}
	}
	h := &pcapHandle{p: p, fd: -1, tsMul: 1000}
	if C.pcap_get_tstamp_precision(p) == C.PCAP_TSTAMP_PRECISION_NANO {
		h.tsMul = 1
	}
	if o.timeout > 0 {
		if C.pcap_setnonblock(p, 1, &errbuf[0]) < 0 {
			return nil, &pcapError{op: "pcap_setnonblock", msg: C.GoString(&errbuf[0])}
		}
		h.fd = C.pcap_get_selectable_fd(p)
		h.msec = C.int(pcapMillis(o.timeout))
	}
	ok = true
	return h, nil
}

// pcapOpenDead returns a handle that only compiles filters, for frames of
// the given DLT_ link type and snap length.
func pcapOpenDead(dlt, snapLen int) (*pcapHandle, error) {
	p := C.pcap_open_dead(C.int(dlt), C.int(snapLen))
	if p == nil {
		return nil, &pcapError{op: "pcap_open_dead", msg: "cannot create a handle for compiling filters"}
	}
	return &pcapHandle{p: p, fd: -1, tsMul: 1000}, nil
}

// close releases the handle; it must not be used afterwards.
func (h *pcapHandle) close() {
	if h.p != nil {
		C.pcap_close(h.p)
		h.p = nil
	}
}

// next reads one frame: ok is 1 with data (aliasing libpcap's buffer until
// the next call), ts in nanoseconds and the wire length; 0 when nothing
// came in time; negative on an error (see lastError). It allocates
// nothing.
func (h *pcapHandle) next() (data []byte, ts int64, wire uint32, ok int) {
	r := C.flowd_next(h.p, h.fd, h.msec, &h.frame)
	if r != 1 {
		return nil, 0, 0, int(r)
	}
	f := &h.frame
	data = unsafe.Slice((*byte)(unsafe.Pointer(f.data)), int(f.caplen))
	return data, int64(f.sec)*1e9 + int64(f.frac)*h.tsMul, uint32(f.len), 1
}

// lastError is libpcap's message for the handle's last failure, or the
// text of status when it left none.
func (h *pcapHandle) lastError(status int) string {
	if msg := C.GoString(C.pcap_geterr(h.p)); msg != "" {
		return msg
	}
	return C.GoString(C.pcap_statustostr(C.int(status)))
}

// datalink is the handle's DLT_ link type.
func (h *pcapHandle) datalink() int { return int(C.pcap_datalink(h.p)) }

// stats reads the handle's counters.
func (h *pcapHandle) stats() (pcapStats, error) {
	var st C.struct_pcap_stat
	if C.pcap_stats(h.p, &st) < 0 {
		return pcapStats{}, &pcapError{op: "pcap_stats", msg: C.GoString(C.pcap_geterr(h.p))}
	}
	return pcapStats{recv: uint64(st.ps_recv), drop: uint64(st.ps_drop), ifdrop: uint64(st.ps_ifdrop)}, nil
}

// pcapCompileMu serialises pcap_compile, which libpcap before 1.8 did not
// make thread-safe; compiling is rare, so the lock costs nothing.
var pcapCompileMu sync.Mutex

// compile compiles expr (optimised) for the handle's link type and snap
// length. netmask is the IPv4 netmask for "ip broadcast", or
// pcapNetmaskUnknown.
func (h *pcapHandle) compile(expr string, netmask uint32) ([]sys.SockFilter, error) {
	var prog C.struct_bpf_program
	if err := h.compileC(&prog, expr, netmask); err != nil {
		return nil, err
	}
	defer C.pcap_freecode(&prog)
	insns := unsafe.Slice(prog.bf_insns, int(prog.bf_len))
	out := make([]sys.SockFilter, len(insns))
	for i, in := range insns {
		out[i] = sys.SockFilter{Code: uint16(in.code), Jt: uint8(in.jt), Jf: uint8(in.jf), K: uint32(in.k)}
	}
	return out, nil
}

// setFilter compiles expr and installs it on the handle.
func (h *pcapHandle) setFilter(expr string, netmask uint32) error {
	var prog C.struct_bpf_program
	if err := h.compileC(&prog, expr, netmask); err != nil {
		return err
	}
	defer C.pcap_freecode(&prog)
	if C.pcap_setfilter(h.p, &prog) < 0 {
		return &pcapError{op: "pcap_setfilter", msg: C.GoString(C.pcap_geterr(h.p))}
	}
	return nil
}

func (h *pcapHandle) compileC(prog *C.struct_bpf_program, expr string, netmask uint32) error {
	cexpr := C.CString(expr)
	defer C.free(unsafe.Pointer(cexpr))
	pcapCompileMu.Lock()
	defer pcapCompileMu.Unlock()
	if C.pcap_compile(h.p, prog, cexpr, 1, C.bpf_u_int32(netmask)) < 0 {
		return &pcapError{op: "pcap_compile", msg: C.GoString(C.pcap_geterr(h.p))}
	}
	return nil
}

// pcapNetmask is iface's IPv4 netmask as libpcap's compiler wants it, or
// pcapNetmaskUnknown when it has none.
func pcapNetmask(iface string) uint32 {
	var errbuf [C.PCAP_ERRBUF_SIZE]C.char
	var net, mask C.bpf_u_int32
	dev := C.CString(iface)
	defer C.free(unsafe.Pointer(dev))
	if C.pcap_lookupnet(dev, &net, &mask, &errbuf[0]) < 0 {
		return pcapNetmaskUnknown
	}
	return uint32(mask)
}

// pcapDLT is the DLT_ value libpcap's compiler takes for a LINKTYPE_
// value; they differ only for raw IP among the types flowd opens.
func pcapDLT(link LinkType) int {
	if link == LinkRaw {
		return pcapDLTRaw
	}
	return int(link)
}

// pcapLinkType is the LINKTYPE_ value for a DLT_ value from libpcap.
func pcapLinkType(dlt int) LinkType { return NormalizeLinkType(uint32(dlt)) }
