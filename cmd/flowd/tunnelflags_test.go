package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestTunnelFlags: the decoder's tunnel settings come from the command line
// of every command that runs the engine. On a generated capture of VXLAN
// and nested tunnels, turning VXLAN off (an empty list, or a port nothing
// uses) drops the flows inside VXLAN, --no-tunnels drops every inner flow,
// and --tunnel-depth 1 keeps the first level only; a bad value is a usage
// error naming the flag.
func TestTunnelFlags(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "tun.pcap")
	if _, errs, code := runBin(t, nil, "gen", "-o", pcap, "-flows", "200", "-tunnels", "0.5", "-tunnel-kinds", "vxlan,nested", "-seed", "3"); code != 0 {
		t.Fatalf("flowd gen: exit %d\n%s", code, errs)
	}
	created := regexp.MustCompile(`(?m)^flows: +(\d+) created`)
	tunnels := regexp.MustCompile(`(?m)^tunnels: (.*)$`)
	run := func(args ...string) (flows int, tun string) {
		t.Helper()
		_, errs, code := runBin(t, nil, append(append([]string{"replay", "--format", "none"}, args...), pcap)...)
		if code != 0 {
			t.Fatalf("replay %v: exit %d\n%s", args, code, errs)
		}
		m := created.FindStringSubmatch(errs)
		if m == nil {
			t.Fatalf("replay %v: no summary\n%s", args, errs)
		}
		flows, _ = strconv.Atoi(m[1])
		if m := tunnels.FindStringSubmatch(errs); m != nil {
			tun = m[1]
		}
		return flows, tun
	}
	all, allTun := run()
	if !strings.Contains(allTun, "vxlan") || !strings.Contains(allTun, "geneve") {
		t.Fatalf("default: tunnels %q, want vxlan and geneve", allTun)
	}
	noVXLAN, tun := run("--vxlan-ports=")
	if strings.Contains(tun, "vxlan") || noVXLAN >= all {
		t.Errorf("--vxlan-ports '': %d flows, tunnels %q; want fewer than %d and no vxlan", noVXLAN, tun, all)
	}
	if other, tun2 := run("--vxlan-ports", "4790"); other != noVXLAN || tun2 != tun {
		t.Errorf("--vxlan-ports 4790: %d flows (%q), want %d (%q) as with none", other, tun2, noVXLAN, tun)
	}
	if both, tun2 := run("--vxlan-ports", "4789,4790"); both != all || tun2 != allTun {
		t.Errorf("--vxlan-ports 4789,4790: %d flows (%q), want %d (%q)", both, tun2, all, allTun)
	}
	none, tun := run("--no-tunnels")
	if tun != "" || none >= noVXLAN {
		t.Errorf("--no-tunnels: %d flows, tunnels %q; want fewer than %d and none", none, tun, noVXLAN)
	}
	if one, _ := run("--tunnel-depth", "1"); one <= none || one >= all {
		t.Errorf("--tunnel-depth 1: %d flows, want between %d and %d", one, none, all)
	}
	for _, bad := range [][]string{{"--vxlan-ports", "70000"}, {"--geneve-ports", "x"}, {"--teredo-ports", "1,2,3,4,5,6,7,8,9"}, {"--tunnel-depth", "0"}} {
		_, errs, code := runBin(t, nil, append(append([]string{"replay"}, bad...), pcap)...)
		if code != 2 || !strings.Contains(errs, bad[0]) {
			t.Errorf("replay %v: exit %d, %q; want 2 naming %s", bad, code, strings.TrimSpace(errs), bad[0])
		}
	}
}
