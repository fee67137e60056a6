package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/engine"
)

// server replays a generated capture into an engine and serves the API on
// a loopback port; it returns the endpoint URL and the truth.
func server(t *testing.T) (string, *gen.Truth) {
	t.Helper()
	var pcap bytes.Buffer
	truth, err := gen.WritePcap(&pcap, gen.Config{Seed: 11, Flows: 120})
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.NewReader(&pcap, "gen")
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e.AddSource(src, engine.SourceInfo{Name: "gen", AvailabilityZone: "us-east-1a", VpcEndpointID: "vpce-flowd"})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-e.SourcesDone()
	ops, err := engine.NewOps(e, engine.OpsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Backend: ops})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close()
		ops.Close()
		e.Stop(engine.ReasonShutdown)
	})
	return "http://" + ln.Addr().String(), truth
}

func flowctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestFlowctlAgainstFlowd(t *testing.T) {
	url, truth := server(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	active, tcp := 0, 0
	for _, f := range truth.Flows {
		if f.Reason == "active" {
			active++
			if f.Proto == 6 {
				tcp++
			}
		}
	}
	ep := "--endpoint-url=" + url

	// start-flow-capture with shorthand and JSON filters, several values.
	code, out, errs := flowctl(t, ep, "network-firewall", "start-flow-capture",
		"--flow-filters", "Protocols=6", `[{"Protocols":["17"]}]`, "--minimum-flow-age-in-seconds", "0")
	if code != 0 {
		t.Fatalf("start: %d %s", code, errs)
	}
	var start struct{ FirewallArn, FlowOperationId, FlowOperationStatus string }
	if err := json.Unmarshal([]byte(out), &start); err != nil || start.FlowOperationStatus != "IN_PROGRESS" {
		t.Fatalf("start output %q: %v", out, err)
	}
	// describe echoes both filters.
	for {
		code, out, errs = flowctl(t, ep, "network-firewall", "describe-flow-operation", "--flow-operation-id", start.FlowOperationId)
		if code != 0 {
			t.Fatalf("describe: %d %s", code, errs)
		}
		if !strings.Contains(out, `"IN_PROGRESS"`) {
			break
		}
	}
	if !strings.Contains(out, `"FlowOperationStatus": "COMPLETED"`) || strings.Count(out, `"Protocols"`) != 2 || !strings.Contains(out, `"FlowOperationType": "FLOW_CAPTURE"`) {
		t.Fatalf("describe output:\n%s", out)
	}
	// Results, auto-paginated at 7 per page.
	code, out, errs = flowctl(t, ep, "--output", "json", "network-firewall", "list-flow-operation-results",
		"--flow-operation-id", start.FlowOperationId, "--max-results", "7")
	if code != 0 {
		t.Fatalf("results: %d %s", code, errs)
	}
	var res struct {
		Flows     []map[string]any
		NextToken string
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	udp := 0
	for _, f := range truth.Flows {
		if f.Reason == "active" && f.Proto == 17 {
			udp++
		}
	}
	if len(res.Flows) != tcp+udp || res.NextToken != "" {
		t.Fatalf("%d flows (token %q), want %d", len(res.Flows), res.NextToken, tcp+udp)
	}
	// --max-items stops early and gives a token to resume with.
	code, out, _ = flowctl(t, ep, "network-firewall", "list-flow-operation-results",
		"--flow-operation-id", start.FlowOperationId, "--max-items", "5", "--page-size", "3")
	json.Unmarshal([]byte(out), &res)
	if code != 0 || len(res.Flows) != 5 || res.NextToken == "" {
		t.Fatalf("max-items: %d flows, token %q", len(res.Flows), res.NextToken)
	}
	code, out, _ = flowctl(t, ep, "network-firewall", "list-flow-operation-results",
		"--flow-operation-id", start.FlowOperationId, "--starting-token", res.NextToken)
	res.NextToken = ""
	json.Unmarshal([]byte(out), &res)
	if code != 0 || len(res.Flows) != tcp+udp-5 || res.NextToken != "" {
		t.Fatalf("resume: %d flows, want %d", len(res.Flows), tcp+udp-5)
	}

	// capture --wait prints a table of the flows.
	code, out, errs = flowctl(t, ep, "capture", "--filter", "proto=6", "--wait")
	if code != 0 || strings.Count(out, "\n") != tcp+1 || !strings.HasPrefix(out, "SourceAddress") || !strings.Contains(errs, "COMPLETED") {
		t.Fatalf("capture: %d\n%s\n%s", code, out, errs)
	}
	// A flush, then list-flow-operations in text, newest first.
	if code, _, errs = flowctl(t, ep, "network-firewall", "start-flow-flush", "--flow-filters", "SourceAddress={AddressDefinition=192.0.2.0/24}"); code != 0 {
		t.Fatalf("flush: %s", errs)
	}
	code, out, _ = flowctl(t, ep, "--output", "text", "network-firewall", "list-flow-operations")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "FLOWOPERATIONS\t") || !strings.Contains(lines[0], "FLOW_FLUSH") {
		t.Fatalf("list text:\n%s", out)
	}
	code, out, _ = flowctl(t, ep, "network-firewall", "list-flow-operations", "--flow-operation-type", "FLOW_CAPTURE", "--output", "table")
	if code != 0 || strings.Count(out, "FLOW_CAPTURE") != 2 || strings.Contains(out, "FLOW_FLUSH") {
		t.Fatalf("list table:\n%s", out)
	}
	_ = active

	// Errors: the server's message and the AWS CLI's exit codes.
	code, _, errs = flowctl(t, ep, "network-firewall", "start-flow-capture", "--flow-filters", "DestinationPort=70000")
	if code != exitService || !strings.Contains(errs, `An error occurred (InvalidRequestException) when calling the StartFlowCapture operation: FlowFilters[0].DestinationPort: "70000" is out of range: ports are 0 to 65535`) {
		t.Fatalf("bad port: %d %s", code, errs)
	}
	code, _, errs = flowctl(t, ep, "network-firewall", "describe-flow-operation", "--flow-operation-id", "00000000-0000-4000-8000-000000000000")
	if code != exitService || !strings.Contains(errs, "(ResourceNotFoundException)") {
		t.Fatalf("not found: %d %s", code, errs)
	}
	code, _, errs = flowctl(t, ep, "network-firewall", "start-flow-capture")
	if code != exitUsage || !strings.Contains(errs, "the following arguments are required: --flow-filters") {
		t.Fatalf("missing filters: %d %s", code, errs)
	}
	code, _, errs = flowctl(t, ep, "network-firewall", "start-flow-capture", "--flow-filters", "Nope=1")
	if code != exitUsage || !strings.Contains(errs, `Unknown parameter in FlowFilters[0]: "Nope"`) {
		t.Fatalf("unknown member: %d %s", code, errs)
	}
	code, _, _ = flowctl(t, ep, "network-firewall", "frobnicate")
	if code != exitUsage {
		t.Fatalf("unknown operation: %d", code)
	}
	code, _, _ = flowctl(t, ep, "--output", "yaml", "network-firewall", "list-flow-operations")
	if code != exitUsage {
		t.Fatalf("bad output: %d", code)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	code, _, errs = flowctl(t, "--endpoint-url", dead, "network-firewall", "list-flow-operations")
	if code != exitOther || !strings.Contains(errs, "connect") {
		t.Fatalf("no server: %d %s", code, errs)
	}
}

// flowctl keeps its own copy of flowd's default ARN (importing api would
// bring the server's dependencies into the client); it must not drift.
func TestDefaultFirewallArn(t *testing.T) {
	if defaultFirewallArn != api.DefaultFirewallArn {
		t.Fatalf("flowctl's default ARN %q differs from flowd's %q", defaultFirewallArn, api.DefaultFirewallArn)
	}
}
