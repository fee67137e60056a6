package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"

	"github.com/flowd/flowd/bench/gen"
)

// TestReplayCaptureMatchesAPI: `flowd replay --capture FILTER` prints the
// flows a StartFlowCapture with the same filter returns from `flowd serve`
// on the same capture (one whose flows all stay in the table), for filters
// in the shorthand and the JSON syntax.
func TestReplayCaptureMatchesAPI(t *testing.T) {
	bin := buildFlowd(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "edge.pcap")
	f, err := os.Create(pcap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.WritePcap(f, gen.Config{Seed: 31, Flows: 400, Reuse: gen.Off}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	url, stop := startServe(t, bin, "--pcap", "edge="+pcap)
	defer stop()
	waitDone(t, url)
	client := nfwClient(url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	arn := aws.String("arn:aws:network-firewall:us-east-1:123456789012:firewall/flowd")

	for _, c := range []struct {
		flag   string
		filter types.FlowFilter
	}{
		{"SourceAddress={AddressDefinition=10.0.0.0/8},Protocols=6",
			types.FlowFilter{SourceAddress: &types.Address{AddressDefinition: aws.String("10.0.0.0/8")}, Protocols: []string{"6"}}},
		{`[{"DestinationPort":"1:1023","Protocols":["17"]}]`,
			types.FlowFilter{DestinationPort: aws.String("1:1023"), Protocols: []string{"17"}}},
	} {
		out := filepath.Join(dir, "flows.csv")
		if err := runReplay([]string{"--format", "csv", "-o", out, "--quiet", "--progress", "never", "--capture", c.flag, pcap}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var replay []string
		for _, r := range rows[1:] {
			replay = append(replay, tupleOf(r[1], r[2], r[3], r[4], r[0]))
		}

		op, err := client.StartFlowCapture(ctx, &nfw.StartFlowCaptureInput{FirewallArn: arn, FlowFilters: []types.FlowFilter{c.filter}})
		if err != nil {
			t.Fatal(err)
		}
		var api []string
		for _, fl := range operationFlows(ctx, t, client, arn, op.FlowOperationId) {
			api = append(api, tupleOf(aws.ToString(fl.SourceAddress.AddressDefinition), aws.ToString(fl.SourcePort),
				aws.ToString(fl.DestinationAddress.AddressDefinition), aws.ToString(fl.DestinationPort), aws.ToString(fl.Protocol)))
		}
		slices.Sort(replay)
		slices.Sort(api)
		if len(replay) == 0 || !slices.Equal(replay, api) {
			t.Errorf("--capture %s: replay printed %d flows, the API returned %d:\nreplay %v\napi    %v", c.flag, len(replay), len(api), replay, api)
		}
	}
}

// tupleOf writes a flow's addresses (without a host prefix length), ports
// (empty as 0) and protocol one way for both sides of the comparison.
func tupleOf(src, sport, dst, dport, proto string) string {
	addr := func(a string) string {
		if p, err := netip.ParsePrefix(a); err == nil {
			return p.Addr().String()
		}
		if ip, err := netip.ParseAddr(a); err == nil {
			return ip.String()
		}
		return a
	}
	return strings.Join([]string{addr(src), cmp.Or(sport, "0"), addr(dst), cmp.Or(dport, "0"), proto}, ",")
}
