package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/testnet"
)

// eveFlow is what TestWatchKeepsInterfacesApart reads of an EVE flow event.
type eveFlow struct {
	FlowID  uint64   `json:"flow_id"`
	InIface string   `json:"in_iface"`
	Proto   string   `json:"proto"`
	SrcIP   string   `json:"src_ip"`
	SrcPort int      `json:"src_port"`
	DestIP  string   `json:"dest_ip"`
	DstPort int      `json:"dest_port"`
	VLAN    []uint16 `json:"vlan"`
	Flow    struct {
		PktsTS  int64 `json:"pkts_toserver"`
		PktsTC  int64 `json:"pkts_toclient"`
		BytesTS int64 `json:"bytes_toserver"`
		BytesTC int64 `json:"bytes_toclient"`
	} `json:"flow"`
}

func (f eveFlow) key() string {
	return fmt.Sprintf("%s %s:%d>%s:%d vlan%v", f.Proto, f.SrcIP, f.SrcPort, f.DestIP, f.DstPort, f.VLAN)
}

// counted is the flow's key with its counters, for comparing flows.
func (f eveFlow) counted() string {
	return fmt.Sprintf("%s pkts %d/%d bytes %d/%d", f.key(), f.Flow.PktsTS, f.Flow.PktsTC, f.Flow.BytesTS, f.Flow.BytesTC)
}

func readEVEFlows(t *testing.T, path string) []eveFlow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []eveFlow
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.Contains(l, `"event_type":"flow"`) {
			continue
		}
		var f eveFlow
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatalf("%s: %v: %.200s", path, err, l)
		}
		out = append(out, f)
	}
	return out
}

// TestWatchKeepsInterfacesApart: flows are kept per live interface, as
// Suricata keeps them per live device. Both ends of a veth pair sit in one
// namespace; tcpreplay sends a generated capture out of one end and flowd
// watch captures both, so every frame is seen twice, going out of veth-a
// and coming in on veth-b, as a router capturing two interfaces sees what
// it forwards. Each interface must give exactly the flows a replay of the
// capture gives, each with its own in_iface, and the two flows of one
// tuple must have different flow_ids; counted together, as before flows
// were kept per interface, every flow would have twice its packets.
func TestWatchKeepsInterfacesApart(t *testing.T) {
	testnet.Require(t)
	if _, err := exec.LookPath("tcpreplay"); err != nil {
		t.Skip("needs tcpreplay (apt-get install tcpreplay)")
	}
	bin := buildFlowd(t)
	dir := t.TempDir()
	// No fragments: with them, the kernel's reassembly before the fanout
	// hash would make the live flows differ from the replay's (see
	// TestWatchEqualsReplay), which is not what this test is about.
	pcap, _ := genLiveCapture(t, bin, dir, "-seed", "11", "-flows", "120", "-malformed", "0", "-frag", "0",
		"-icmp-errors", "0.1", "-vlan", "0.2")
	repFile := filepath.Join(dir, "replay.json")
	if out, err := exec.Command(bin, "replay", "--format", "eve", "-o", repFile, pcap).CombinedOutput(); err != nil {
		t.Fatalf("flowd replay: %v\n%s", err, out)
	}
	var want []string
	for _, f := range readEVEFlows(t, repFile) {
		want = append(want, f.counted())
	}
	slices.Sort(want)
	if len(want) < 100 {
		t.Fatalf("the replay gave %d flows", len(want))
	}

	p := testnet.NewPair(t, testnet.Options{MTU: 9000})
	p.A.Run(t, "ip", "link", "set", p.IfA, "netns", p.B.Name)
	p.B.Run(t, "ip", "link", "set", p.IfA, "up")
	out := filepath.Join(t.TempDir(), "flows.json")
	cmd, stderr := startWatch(t, bin, p, out, "--iface", p.IfA, "--format", "eve", "--workers", "1")
	p.B.Run(t, "tcpreplay", "-q", "--topspeed", "-i", p.IfA, pcap)
	time.Sleep(300 * time.Millisecond) // the last ring blocks time out and reach the table
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("flowd watch: %v\n%s", err, stderr.String())
	}
	m := stoppedLine.FindStringSubmatch(stderr.String())
	if m == nil || m[3] != "0" {
		t.Fatalf("flowd watch: no summary, or kernel drops:\n%s", stderr.String())
	}
	live := readEVEFlows(t, out)
	byIface := map[string][]string{}
	ids := map[string][]uint64{}
	for _, f := range live {
		byIface[f.InIface] = append(byIface[f.InIface], f.counted())
		ids[f.key()] = append(ids[f.key()], f.FlowID)
	}
	for _, ifc := range []string{p.IfA, p.IfB} {
		got := byIface[ifc]
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d flows, want the replay's %d", ifc, len(got), len(want))
			for i := 0; i < len(got) && i < len(want); i++ {
				if got[i] != want[i] {
					t.Errorf("first difference:\n got %s\nwant %s", got[i], want[i])
					break
				}
			}
		}
	}
	if len(byIface) != 2 {
		t.Errorf("flows from %d interfaces, want 2: %v", len(byIface), slices.Collect(func(yield func(string) bool) {
			for k := range byIface {
				if !yield(k) {
					return
				}
			}
		}))
	}
	for k, v := range ids {
		slices.Sort(v)
		if len(slices.Compact(slices.Clone(v))) != len(v) {
			t.Errorf("%s: flows of the two interfaces share a flow_id: %v", k, v)
		}
	}
	t.Logf("%d flows live, %d per interface in the replay; %s", len(live), len(want), m[0])
}
