package sys

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// TestAtomicWords: the ring helpers read and write native-order words at
// the given offsets.
func TestAtomicWords(t *testing.T) {
	b := make([]byte, 16)
	StoreUint32(b, 8, 0xdeadbeef)
	if LoadUint32(b, 8) != 0xdeadbeef || LoadUint32(b, 4) != 0 || LoadUint32(b, 12) != 0 {
		t.Fatalf("% x", b)
	}
}

// TestPacketSocket: a packet socket opens as root, finds the loopback
// interface, reports an unknown one as ENODEV, and polls without
// allocating.
func TestPacketSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_RAW) to open a packet socket; run the tests as root")
	}
	fd, err := PacketSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer Close(fd)
	ifc, err := InterfaceByName(fd, "lo")
	if err != nil || ifc.Index == 0 || ifc.ARPHRD != ARPHRDLoopback {
		t.Fatalf("lo: %+v, %v", ifc, err)
	}
	if _, err := InterfaceByName(fd, "nosuch9"); !errors.Is(err, syscall.ENODEV) {
		t.Fatalf("nosuch9: %v", err)
	}
	if m, err := Poll(fd, 0); err != nil || m != 0 {
		t.Fatalf("poll on an unbound socket: %d, %v", m, err)
	}
	if a := testing.AllocsPerRun(10, func() { Poll(fd, 0) }); a != 0 {
		t.Errorf("Poll: %v allocations", a)
	}
	st, err := PacketStatistics(fd)
	if err != nil || st != (PacketStats{}) {
		t.Fatalf("stats %+v, %v", st, err)
	}
}

// TestInNetns: a function run in the current namespace sees the same
// namespace; errors come back.
func TestInNetns(t *testing.T) {
	fd, err := CurrentNetns()
	if err != nil {
		t.Skipf("no /proc/thread-self/ns/net: %v", err)
	}
	defer Close(fd)
	want := errors.New("from inside")
	if err := InNetns(fd, func() error { return want }); err != want && !errors.Is(err, syscall.EPERM) {
		t.Fatalf("InNetns: %v", err)
	}
}
