// Package testnet builds small throw-away networks for tests: two network
// namespaces joined by a veth pair, optionally with VLAN sub-interfaces, so
// live-capture and engine tests can send real traffic through real kernel
// interfaces without touching the host's network.
//
// Everything is made with the ip command from iproute2 and removed by
// t.Cleanup, also when the test fails. Names carry the process id and a
// counter, so tests in parallel processes do not collide. Tests that use it
// are skipped (with the reason and the fix) when not run as root, when ip
// is missing, or when the kernel refuses to create namespaces.
//
// The links are kept quiet so tests can count packets: IPv6 is disabled
// unless asked for, and both ends know each other's MAC address, so no ARP
// or neighbour discovery traffic appears. The namespaces' loopback
// interfaces are up.
//
// Concurrency: a Pair's methods may be called from several goroutines.
package testnet

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/flowd/flowd/internal/sys"
)

var seq atomic.Uint64

// Namespace is a named network namespace (/run/netns/Name).
type Namespace struct {
	Name string
}

// Path is the namespace's file, usable with setns.
func (n Namespace) Path() string { return "/run/netns/" + n.Name }

// Command returns a command that runs inside the namespace (through
// ip netns exec).
func (n Namespace) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Run runs a command inside the namespace and fails the test when it fails;
// it returns the command's standard output.
func (n Namespace) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := run(n.Command(name, args...))
	if err != nil {
		t.Fatalf("netns %s: %v", n.Name, err)
	}
	return out
}

// Do runs f on an OS thread inside the namespace. Sockets and listeners f
// creates stay in the namespace; goroutines f starts do not run inside it
// (but may use those sockets).
func (n Namespace) Do(f func() error) error {
	fd, err := sys.OpenNetns(n.Path())
	if err != nil {
		return err
	}
	defer sys.Close(fd)
	return sys.InNetns(fd, f)
}

// Pair is two namespaces, A and B, joined by a veth pair: IfA in A and IfB
// in B, with fixed MAC and IPv4 addresses (and IPv6 ones when asked for).
type Pair struct {
	A, B         Namespace
	IfA, IfB     string
	MACA, MACB   net.HardwareAddr
	AddrA, AddrB netip.Addr // IPv4, /24
	// Addr6A and Addr6B are the IPv6 addresses (/64), valid only when the
	// pair was made with Options.IPv6.
	Addr6A, Addr6B netip.Addr

	ipv6 bool
	mtu  int
}

// Options tune NewPair. The zero value gives a quiet IPv4-only link.
type Options struct {
	IPv6 bool // keep IPv6 enabled and add fd00::1/64 and fd00::2/64 (no DAD)
	MTU  int  // zero: the veth default (1500)
}

// Require skips the test unless namespaces can be made here: the caller is
// root and ip is installed.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network namespaces and veth pairs; run the tests as root, e.g. sudo go test")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command from iproute2 (apt-get install iproute2)")
	}
}

// NewPair makes two namespaces joined by a veth pair, both ends up, and
// registers their removal with t.Cleanup.
func NewPair(t testing.TB, o Options) *Pair {
	t.Helper()
	Require(t)
	n := seq.Add(1)
	base := fmt.Sprintf("flowdt-%d-%d", os.Getpid(), n)
	p := &Pair{
		A:     Namespace{base + "-a"},
		B:     Namespace{base + "-b"},
		IfA:   "veth-a",
		IfB:   "veth-b",
		MACA:  net.HardwareAddr{0x02, 0xfd, 0, 0, 0, 1},
		MACB:  net.HardwareAddr{0x02, 0xfd, 0, 0, 0, 2},
		AddrA: netip.MustParseAddr("10.253.0.1"),
		AddrB: netip.MustParseAddr("10.253.0.2"),
	}
	for _, ns := range []Namespace{p.A, p.B} {
		if out, err := run(exec.Command("ip", "netns", "add", ns.Name)); err != nil {
			if strings.Contains(out+err.Error(), "ermission") || strings.Contains(out+err.Error(), "not permitted") {
				t.Skipf("cannot create network namespaces here (%v): run as root outside a restricted container", err)
			}
			t.Fatalf("%v", err)
		}
		t.Cleanup(func() { run(exec.Command("ip", "netns", "del", ns.Name)) })
	}
	if !o.IPv6 {
		for _, ns := range []Namespace{p.A, p.B} {
			// Before any link goes up, so no router solicitation or
			// multicast report is ever sent.
			ns.Run(t, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
		}
	}
	p.ipv6, p.mtu = o.IPv6, o.MTU
	t.Cleanup(func() { run(exec.Command("ip", "-n", p.A.Name, "link", "del", p.IfA)) })
	p.AddLink(t)
	return p
}

// DeleteLink removes the veth pair (both ends vanish), as when a NIC goes
// away; AddLink makes it again.
func (p *Pair) DeleteLink(t testing.TB) {
	t.Helper()
	if _, err := run(exec.Command("ip", "-n", p.A.Name, "link", "del", p.IfA)); err != nil {
		t.Fatalf("%v", err)
	}
}

// AddLink makes the veth pair with its addresses and neighbour entries and
// brings both ends up. NewPair calls it; call it again after DeleteLink.
func (p *Pair) AddLink(t testing.TB) {
	t.Helper()
	// The pair is made inside A with its peer put straight into B, so the
	// host's namespace never sees the names.
	cmds := [][]string{
		{"-n", p.A.Name, "link", "add", p.IfA, "address", p.MACA.String(), "type", "veth",
			"peer", "name", p.IfB, "address", p.MACB.String(), "netns", p.B.Name},
	}
	type side struct {
		ns         Namespace
		ifc        string
		addr, peer netip.Addr
		peerMAC    net.HardwareAddr
		mask       string
		extra      string
	}
	sides := []side{{p.A, p.IfA, p.AddrA, p.AddrB, p.MACB, "/24", ""}, {p.B, p.IfB, p.AddrB, p.AddrA, p.MACA, "/24", ""}}
	if p.ipv6 {
		p.Addr6A = netip.MustParseAddr("fd00::1")
		p.Addr6B = netip.MustParseAddr("fd00::2")
		sides = append(sides, side{p.A, p.IfA, p.Addr6A, p.Addr6B, p.MACB, "/64", "nodad"},
			side{p.B, p.IfB, p.Addr6B, p.Addr6A, p.MACA, "/64", "nodad"})
	}
	for _, s := range sides[:2] {
		if p.mtu > 0 {
			cmds = append(cmds, []string{"-n", s.ns.Name, "link", "set", s.ifc, "mtu", fmt.Sprint(p.mtu)})
		}
		cmds = append(cmds, []string{"-n", s.ns.Name, "link", "set", "lo", "up"})
	}
	for _, s := range sides {
		add := []string{"-n", s.ns.Name, "addr", "add", s.addr.String() + s.mask, "dev", s.ifc}
		if s.extra != "" {
			add = append(add, s.extra)
		}
		cmds = append(cmds, add,
			[]string{"-n", s.ns.Name, "neigh", "replace", s.peer.String(), "lladdr", s.peerMAC.String(), "dev", s.ifc, "nud", "permanent"})
	}
	cmds = append(cmds,
		[]string{"-n", p.A.Name, "link", "set", p.IfA, "up"},
		[]string{"-n", p.B.Name, "link", "set", p.IfB, "up"})
	for _, c := range cmds {
		if _, err := run(exec.Command("ip", c...)); err != nil {
			t.Fatalf("%v", err)
		}
	}
}

// VLAN is a VLAN sub-interface on each end of a Pair.
type VLAN struct {
	ID           int
	Proto        string // "802.1Q" or "802.1ad"
	IfA, IfB     string
	AddrA, AddrB netip.Addr // IPv4, /24
}

// AddVLAN adds a VLAN sub-interface with the given id and protocol
// ("802.1Q" or "802.1ad") on both ends, with addresses in 10.254.ID%256.0/24
// and static neighbour entries, and brings them up.
func (p *Pair) AddVLAN(t testing.TB, id int, proto string) VLAN {
	t.Helper()
	v := VLAN{
		ID:    id,
		Proto: proto,
		IfA:   fmt.Sprintf("vl%d", id),
		IfB:   fmt.Sprintf("vl%d", id),
		AddrA: netip.AddrFrom4([4]byte{10, 254, byte(id), 1}),
		AddrB: netip.AddrFrom4([4]byte{10, 254, byte(id), 2}),
	}
	for _, side := range []struct {
		ns         Namespace
		parent, vl string
		addr, peer netip.Addr
		peerMAC    net.HardwareAddr
	}{{p.A, p.IfA, v.IfA, v.AddrA, v.AddrB, p.MACB}, {p.B, p.IfB, v.IfB, v.AddrB, v.AddrA, p.MACA}} {
		for _, c := range [][]string{
			{"-n", side.ns.Name, "link", "add", "link", side.parent, "name", side.vl, "type", "vlan", "protocol", proto, "id", fmt.Sprint(id)},
			{"-n", side.ns.Name, "addr", "add", side.addr.String() + "/24", "dev", side.vl},
			{"-n", side.ns.Name, "neigh", "replace", side.peer.String(), "lladdr", side.peerMAC.String(), "dev", side.vl, "nud", "permanent"},
			{"-n", side.ns.Name, "link", "set", side.vl, "up"},
		} {
			if _, err := run(exec.Command("ip", c...)); err != nil {
				if strings.Contains(err.Error(), "Unknown device type") {
					t.Skipf("the kernel has no VLAN devices (CONFIG_VLAN_8021Q off, or module 8021q not loadable): %v", err)
				}
				t.Fatalf("%v", err)
			}
		}
	}
	return v
}

// SetLink brings an interface in namespace ns up or down.
func SetLink(t testing.TB, ns Namespace, ifc string, up bool) {
	t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	if _, err := run(exec.Command("ip", "-n", ns.Name, "link", "set", ifc, state)); err != nil {
		t.Fatalf("%v", err)
	}
}

// run runs cmd and returns its standard output; a failure's error carries
// the command line and its standard error.
func run(cmd *exec.Cmd) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		var ee *exec.ExitError
		if errors.As(err, &ee) && msg != "" {
			err = errors.New(msg)
		}
		return stdout.String(), fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	return stdout.String(), nil
}
