package synth_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/internal/synth"
)

// TestTunnelsTshark has Wireshark's dissectors, which share nothing with
// flowd's decoder or with the generator, read a capture with every tunnel
// kind: every IPv4 header, UDP and TCP checksum must verify, and the
// frames Wireshark finds each tunnel protocol in must be the ones the
// generator says carry it.
func TestTunnelsTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed (make test installs it as root)")
	}
	var buf bytes.Buffer
	_, tr, err := synth.WritePcap(&buf, gen.Config{Seed: 3, Flows: 20, Malformed: -1},
		synth.Extra{Seed: 3, Tunnelled: 2 * int(synth.NumTunnelKinds) * 3, VLAN3: 10, ESP: 10})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "t.pcap")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(tshark, append([]string{"-n", "-r", file, "-o", "ip.check_checksum:TRUE",
			"-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
		}
		return string(out)
	}
	// One pass: the protocols of each frame, then the status of every IPv4
	// header, UDP and TCP checksum in it (Wireshark's 0 is "Bad").
	var geneve, vxlan, teredo, etherip, erspan, gre, bad uint64
	out := run("-T", "fields", "-E", "separator=/t", "-e", "frame.number", "-e", "frame.protocols",
		"-e", "ip.checksum.status", "-e", "udp.checksum.status", "-e", "tcp.checksum.status")
	for _, row := range strings.Split(strings.TrimSpace(out), "\n") {
		cols := strings.Split(row, "\t")
		if len(cols) < 2 {
			t.Fatalf("tshark row %q", row)
		}
		for _, c := range cols[2:] {
			for _, v := range strings.Split(c, ",") {
				if v == "0" {
					if bad++; bad <= 5 {
						t.Errorf("frame %s: a bad checksum (%s)", cols[0], row)
					}
				}
			}
		}
		line := cols[1]
		has := func(p string) bool { return strings.Contains(":"+line+":", ":"+p+":") }
		for _, c := range []struct {
			p string
			n *uint64
		}{{"geneve", &geneve}, {"vxlan", &vxlan}, {"teredo", &teredo}, {"etherip", &etherip}, {"erspan", &erspan}, {"gre", &gre}} {
			if has(c.p) {
				*c.n++
			}
		}
	}
	k := &tr.Tunnels
	for _, c := range []struct {
		what      string
		got, want uint64
	}{
		{"geneve", geneve, k[decode.TunnelGeneve]},
		{"vxlan", vxlan, k[decode.TunnelVXLAN]},
		{"teredo", teredo, k[decode.TunnelTeredo]},
		{"etherip", etherip, k[decode.TunnelEtherIP]},
		{"erspan", erspan, k[decode.TunnelERSPAN1] + k[decode.TunnelERSPAN2] + k[decode.TunnelERSPAN3]},
		{"gre", gre, k[decode.TunnelGRE] + k[decode.TunnelERSPAN1] + k[decode.TunnelERSPAN2] + k[decode.TunnelERSPAN3]},
	} {
		t.Logf("%s: tshark %d frames, generator %d", c.what, c.got, c.want)
		if c.got != c.want || c.want == 0 {
			t.Errorf("tshark finds %s in %d frames, the generator wrote %d", c.what, c.got, c.want)
		}
	}
}
