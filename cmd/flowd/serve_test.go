package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"

	"github.com/flowd/flowd/bench/gen"
)

// TestServeBinary builds flowd, runs 'flowd serve' over a generated pcap
// as a subprocess on a free loopback port, drives it with the official SDK,
// and stops it with SIGTERM: every flow left must reach the EVE file with
// reason shutdown, and flowd must exit 0.
func TestServeBinary(t *testing.T) {
	bin := buildFlowd(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "edge.pcap")
	f, err := os.Create(pcap)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := gen.WritePcap(f, gen.Config{Seed: 21, Flows: 300})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Settings from a config file, one of them overridden by a flag.
	cfgPath := filepath.Join(dir, "flowd.yaml")
	os.WriteFile(cfgPath, []byte("workers: 3\navailability-zone: us-east-1b\nvpc-endpoint-id: vpce-fromfile\nop-result-cap: 5000\n"), 0o644)
	eve := filepath.Join(dir, "eve.json")
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--config", cfgPath,
		"--pcap", "edge="+pcap, "--eve", eve, "--vpc-endpoint-id", "vpce-fromflag")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stderr)
	var url string
	for lines.Scan() {
		if _, rest, ok := strings.Cut(lines.Text(), "listening on "); ok {
			url, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	if url == "" {
		t.Fatal("flowd serve never said where it listens")
	}
	go io.Copy(io.Discard, stderr)

	// /status says when the file has been read.
	var st struct {
		Done    bool
		Flows   struct{ Active int }
		Workers int
		Sources []struct {
			Name             string
			EOF              bool   `json:"eof"`
			AvailabilityZone string `json:"availability_zone"`
			VpcEndpointID    string `json:"vpc_endpoint_id"`
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for !st.Done {
		if time.Now().After(deadline) {
			t.Fatal("the pcap was not read in time")
		}
		time.Sleep(20 * time.Millisecond)
		resp, err := http.Get(url + "/status")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	active := 0
	for _, f := range truth.Flows {
		if f.Reason == "active" {
			active++
		}
	}
	if st.Flows.Active != active || st.Workers != 3 || len(st.Sources) != 1 || st.Sources[0].Name != "edge" ||
		st.Sources[0].AvailabilityZone != "us-east-1b" || st.Sources[0].VpcEndpointID != "vpce-fromflag" {
		t.Fatalf("status %+v, want %d active flows, 3 workers, source edge in us-east-1b behind vpce-fromflag", st, active)
	}

	client := nfwClient(url)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	arn := aws.String("arn:aws:network-firewall:us-east-1:123456789012:firewall/flowd")
	run := func(flush bool, filter types.FlowFilter) []types.Flow {
		var id *string
		if flush {
			out, err := client.StartFlowFlush(ctx, &nfw.StartFlowFlushInput{FirewallArn: arn, FlowFilters: []types.FlowFilter{filter}, AvailabilityZone: aws.String("us-east-1b")})
			if err != nil {
				t.Fatal(err)
			}
			id = out.FlowOperationId
		} else {
			out, err := client.StartFlowCapture(ctx, &nfw.StartFlowCaptureInput{FirewallArn: arn, FlowFilters: []types.FlowFilter{filter}})
			if err != nil {
				t.Fatal(err)
			}
			id = out.FlowOperationId
		}
		return operationFlows(ctx, t, client, arn, id)
	}
	if got := run(false, types.FlowFilter{}); len(got) != active {
		t.Fatalf("capture found %d flows, want %d", len(got), active)
	}
	udp := 0
	for _, f := range truth.Flows {
		if f.Reason == "active" && f.Proto == 17 {
			udp++
		}
	}
	if got := run(true, types.FlowFilter{Protocols: []string{"17"}}); len(got) != udp {
		t.Fatalf("flush found %d UDP flows, want %d", len(got), udp)
	}
	if got := run(false, types.FlowFilter{Protocols: []string{"17"}}); len(got) != 0 {
		t.Fatalf("%d UDP flows left after the flush", len(got))
	}
	// A scope the firewall does not have.
	_, err = client.StartFlowCapture(ctx, &nfw.StartFlowCaptureInput{FirewallArn: arn, FlowFilters: []types.FlowFilter{{}}, AvailabilityZone: aws.String("us-east-1a")})
	var ire *types.InvalidRequestException
	if !errors.As(err, &ire) {
		t.Fatalf("unknown zone: %v", err)
	}

	// SIGTERM: every flow still in the table ends with reason shutdown and
	// reaches the EVE file; exit status 0.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("flowd serve exited with %v", err)
	}
	b, err := os.ReadFile(eve)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev struct {
			EventType string `json:"event_type"`
			Flow      struct{ Reason string }
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.EventType != "flow" {
			t.Fatalf("EVE line %q: %v", line, err)
		}
		reasons[ev.Flow.Reason]++
	}
	if reasons["shutdown"] != active-udp || reasons["shutdown"]+reasons["timeout"] != len(truth.Flows) {
		t.Fatalf("EVE reasons %v; want %d shutdown of %d flows", reasons, active-udp, len(truth.Flows))
	}
}

func TestServeFlags(t *testing.T) {
	for _, c := range []struct {
		addr     string
		insecure bool
		ok       bool
	}{
		{"127.0.0.1:4566", false, true},
		{"[::1]:4566", false, true},
		{"localhost:0", false, true},
		{"0.0.0.0:4566", false, false},
		{":4566", false, false},
		{"192.0.2.1:4566", false, false},
		{"0.0.0.0:4566", true, true},
		{"nonsense", true, false},
	} {
		if err := checkListen("--listen", c.addr, false, c.insecure); (err == nil) != c.ok {
			t.Errorf("%s insecure=%v: %v", c.addr, c.insecure, err)
		}
	}
	if err := checkListen("--listen", "0.0.0.0:4566", true, false); err != nil {
		t.Errorf("non-loopback with --auth-file: %v", err)
	}
	if err := checkListen("--metrics-listen", "0.0.0.0:9100", true, false); err == nil || !strings.Contains(err.Error(), "never authenticated") {
		t.Errorf("non-loopback --metrics-listen: %v", err)
	}
	if r := regionOf("arn:aws:network-firewall:eu-west-3:1:firewall/x"); r != "eu-west-3" {
		t.Errorf("region %q", r)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listen: 127.0.0.1:1\nwrkers: 2\n"), 0o644)
	if err := runServe([]string{"--config", bad}); err == nil || !strings.Contains(err.Error(), "wrkers: unknown key") {
		t.Errorf("unknown key: %v", err)
	}
	if err := runServe([]string{"--listen", "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Errorf("non-loopback: %v", err)
	}
	mapped := filepath.Join(dir, "pcaps.yaml")
	os.WriteFile(mapped, []byte("pcap:\n  - a.pcap\n  - file: b.pcap\n    name: b\n    availability-zone: us-east-1b\n    vpc-endpoint-association-arn: arn:aws:x\n"), 0o644)
	var o serveOpts
	fs := newServeFlags(&o)
	fs.Parse(nil)
	if err := loadConfig(fs.FlagSet, mapped); err != nil {
		t.Fatal(err)
	}
	if len(o.pcaps) != 2 || o.pcaps[1].Name != "b" || o.pcaps[1].Path != "b.pcap" || o.pcaps[0].Path != "a.pcap" || o.pcaps[1].AvailabilityZone != "us-east-1b" || o.pcaps[1].AssociationArn != "arn:aws:x" {
		t.Fatalf("pcaps %+v", o.pcaps)
	}
}

func TestParsePcapArg(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "a=b.pcap")
	os.WriteFile(odd, nil, 0o644)
	for _, c := range []struct {
		arg        string
		name, path string
	}{
		{"x.pcap", "", "x.pcap"},
		{"edge=/tmp/x.pcap", "edge", "/tmp/x.pcap"},
		{odd, "", odd}, // an existing file whose name holds an =
		{"=x.pcap", "", "=x.pcap"},
	} {
		if got := parsePcapArg(c.arg); got.Name != c.name || got.Path != c.path {
			t.Errorf("parsePcapArg(%q) = %+v, want name %q path %q", c.arg, got, c.name, c.path)
		}
	}
}

// TestServeDamagedSource: a damaged capture is reported once, serving goes
// on, and SIGTERM still ends flowd with status 0.
func TestServeDamagedSource(t *testing.T) {
	bin := buildFlowd(t)
	dir := t.TempDir()
	var b bytes.Buffer
	if _, err := gen.WritePcap(&b, gen.Config{Seed: 3, Flows: 50}); err != nil {
		t.Fatal(err)
	}
	pcap := filepath.Join(dir, "cut.pcap")
	os.WriteFile(pcap, b.Bytes()[:b.Len()-7], 0o644) // the last record cut short
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--pcap", pcap)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, &stderr, "sources done")
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	if n := strings.Count(stderr.String(), "cut.pcap: offset"); n != 1 {
		t.Errorf("the damage is reported %d times, want once:\n%s", n, stderr.String())
	}
}

// nfwClient is the official Network Firewall client aimed at a flowd.
func nfwClient(url string) *nfw.Client {
	return nfw.New(nfw.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
}

// operationFlows waits for flow operation id to complete and returns its
// flows, every page.
func operationFlows(ctx context.Context, t *testing.T, client *nfw.Client, arn, id *string) []types.Flow {
	t.Helper()
	for {
		d, err := client.DescribeFlowOperation(ctx, &nfw.DescribeFlowOperationInput{FirewallArn: arn, FlowOperationId: id})
		if err != nil {
			t.Fatal(err)
		}
		if d.FlowOperationStatus == types.FlowOperationStatusCompleted {
			break
		}
		if d.FlowOperationStatus != types.FlowOperationStatusInProgress {
			t.Fatalf("operation %s", d.FlowOperationStatus)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var flows []types.Flow
	p := nfw.NewListFlowOperationResultsPaginator(client, &nfw.ListFlowOperationResultsInput{FirewallArn: arn, FlowOperationId: id, MaxResults: aws.Int32(50)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		flows = append(flows, out.Flows...)
	}
	return flows
}

// TestServeTermRightAfterListening: SIGTERM sent the moment flowd serve
// says it listens gets the clean stop (exit 0), every time: the signal is
// caught before the line is written, not after.
func TestServeTermRightAfterListening(t *testing.T) {
	bin := buildFlowd(t)
	for i := range 10 {
		_, stop := startServeWithin(t, 20*time.Second, bin)
		stop()
		if lastServeErr != nil {
			t.Fatalf("run %d: flowd serve stopped with %v:\n%s", i, lastServeErr, lastServeOutput)
		}
	}
}
