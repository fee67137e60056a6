package testnet

import (
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPair: a datagram sent from A reaches a listener in B over the veth;
// the namespaces see only their own end; everything is gone after the
// test's cleanup.
func TestPair(t *testing.T) {
	var p *Pair
	t.Run("use", func(t *testing.T) {
		p = NewPair(t, Options{})
		if out := p.A.Run(t, "ip", "-o", "link", "show"); !strings.Contains(out, p.IfA+"@") || strings.Contains(out, p.IfB) {
			t.Fatalf("links in A:\n%s", out)
		}
		var conn *net.UDPConn
		if err := p.B.Do(func() (err error) {
			conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.AddrB, 9000)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := p.A.Do(func() error {
			c, err := net.Dial("udp4", netip.AddrPortFrom(p.AddrB, 9000).String())
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("hello"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 16)
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "hello" || from.Addr() != p.AddrA {
			t.Fatalf("got %q from %v, %v", buf[:n], from, err)
		}
		// The host's namespace never sees the pair.
		if out, _ := exec.Command("ip", "-o", "link", "show").Output(); strings.Contains(string(out), p.IfA) {
			t.Errorf("host namespace has %s", p.IfA)
		}
	})
	if p == nil {
		return
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []Namespace{p.A, p.B} {
		if strings.Contains(string(out), ns.Name) {
			t.Errorf("namespace %s left behind", ns.Name)
		}
	}
}

// TestRelink: DeleteLink and AddLink remove and restore the pair.
func TestRelink(t *testing.T) {
	p := NewPair(t, Options{IPv6: true})
	p.DeleteLink(t)
	if _, err := run(p.B.Command("ip", "link", "show", p.IfB)); err == nil {
		t.Fatalf("%s still exists", p.IfB)
	}
	p.AddLink(t)
	out := p.B.Run(t, "ip", "-o", "addr", "show", "dev", p.IfB)
	if !strings.Contains(out, p.AddrB.String()+"/24") || !strings.Contains(out, "fd00::2/64") {
		t.Fatalf("addresses after AddLink:\n%s", out)
	}
	SetLink(t, p.B, p.IfB, false)
	if out := p.B.Run(t, "ip", "-o", "link", "show", p.IfB); strings.Contains(out, ",UP") {
		t.Fatalf("still up: %s", out)
	}
}
