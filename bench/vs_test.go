package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/flowd/flowd/bench/gen"
)

// TestVsCollectors runs -vs softflowd end to end on a small generated
// capture: flowd and softflowd each send NetFlow v9 to their own nfcapd,
// and the rows report what nfdump reads back. flowd's collector must get
// one record per direction of every flow and every packet of the truth.
func TestVsCollectors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the collector's socket queue is read from /proc/net/udp (Linux only)")
	}
	for _, prog := range []string{"softflowd", "nfcapd", "nfdump", "go"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("%s is not installed: apt-get install -y softflowd nfdump (scripts/deps.sh bench does it as root)", prog)
		}
	}
	if testing.Short() {
		t.Skip("builds flowd and runs three pipelines; not in -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "flowd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/flowd/flowd/cmd/flowd").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Small, so that no collector drops a datagram; no malformed frames, so
	// that every frame belongs to a flow.
	data, truth, err := genWithTruth(gen.Config{Seed: 3, Flows: 300, MeanPackets: 6, Malformed: -1})
	if err != nil {
		t.Fatal(err)
	}
	pcap := filepath.Join(dir, "small.pcap")
	if err := os.WriteFile(pcap, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tools, missing, err := LookupTools([]string{"softflowd"})
	if err != nil || len(tools) != 1 || len(missing) != 0 {
		t.Fatalf("LookupTools: %v %v %v", tools, missing, err)
	}
	v, err := RunTools(context.Background(), VsConfig{Pcap: pcap, Frames: truth.Packets, Flows: len(truth.Flows),
		Runs: 2, Tools: tools, Flowd: bin})
	if err != nil {
		t.Fatal(err)
	}
	var wantRecs, wantPkts uint64
	for _, f := range truth.Flows {
		for _, p := range []uint64{f.PktsToServer, f.PktsToClient} {
			if p > 0 {
				wantRecs++
				wantPkts += p
			}
		}
	}
	fx, sf := v.Row(flowdExportName), v.Row("softflowd")
	if fx == nil || sf == nil || v.Flowd == nil {
		t.Fatalf("rows: %+v", v.Rows)
	}
	for _, r := range []*ToolRow{fx, sf} {
		if r.Runs != 2 || r.Err != "" || r.Collected == nil || r.WallNs <= 0 {
			t.Fatalf("%s row: %+v", r.Name, r)
		}
		if r.Collected.SocketDrops != 0 {
			t.Errorf("%s: its nfcapd dropped %d datagrams", r.Name, r.Collected.SocketDrops)
		}
		if !strings.Contains(r.Command, "127.0.0.1:PORT") {
			t.Errorf("%s: command %q names no collector", r.Name, r.Command)
		}
	}
	if c := fx.Collected; c.Records != wantRecs || c.Packets != wantPkts {
		t.Errorf("flowd's nfcapd got %d records, %d packets; the truth has %d directions with %d packets",
			c.Records, c.Packets, wantRecs, wantPkts)
	}
	// softflowd is a different flow tracker (it skips some packets flowd
	// counts, such as IP fragments); it must still have delivered flows.
	if c := sf.Collected; c.Records == 0 || c.Packets == 0 || c.Packets > wantPkts {
		t.Errorf("softflowd's nfcapd got %d records, %d packets (truth %d packets)", c.Records, c.Packets, wantPkts)
	}
	if sf.Against != flowdExportName || sf.Ratio <= 0 || fx.Against != "" || fx.Ratio <= 0 {
		t.Errorf("ratios: softflowd %.2f against %q, flowd+nfcapd %.2f against %q", sf.Ratio, sf.Against, fx.Ratio, fx.Against)
	}
	var b strings.Builder
	v.writeText(&b)
	if !strings.Contains(b.String(), "collector got") || !strings.Contains(b.String(), "flows, ") {
		t.Errorf("text:\n%s", b.String())
	}
	t.Logf("\n%s", b.String())
}

// genWithTruth is Generate that keeps the truth.
func genWithTruth(cfg gen.Config) ([]byte, *gen.Truth, error) {
	var b strings.Builder
	truth, err := gen.WritePcap(&b, cfg)
	return []byte(b.String()), truth, err
}
