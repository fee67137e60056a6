package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/engine"
)

const (
	testAZ   = "us-east-1a"
	testVpce = "vpce-0a1b2c3d"
)

var firewall = aws.String(api.DefaultFirewallArn)

// harness is a flowd API served on a loopback port over a real engine that
// replayed a generated pcap, and an official SDK client pointed at it.
type harness struct {
	t      *testing.T
	e      *engine.Engine
	ops    *engine.Ops
	url    string
	client *nfw.Client
	truth  *gen.Truth
}

// newHarness replays the traffic of gcfg through an engine of the given
// workers and serves it. The table holds the flows the truth says are
// active at the end.
func newHarness(t *testing.T, gcfg gen.Config, workers int, ocfg engine.OpsConfig) *harness {
	t.Helper()
	var pcap bytes.Buffer
	truth, err := gen.WritePcap(&pcap, gcfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.NewReader(&pcap, "gen")
	if err != nil {
		t.Fatal(err)
	}
	h := serveEngine(t, workers, ocfg, []capture.Source{src})
	h.truth = truth
	<-h.e.SourcesDone()
	if err := h.e.Err(); err != nil {
		t.Fatal(err)
	}
	return h
}

// serveEngine starts an engine over srcs (all in testAZ behind testVpce),
// the operations manager and the API server.
func serveEngine(t *testing.T, workers int, ocfg engine.OpsConfig, srcs []capture.Source) *harness {
	t.Helper()
	e, err := engine.New(engine.Config{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	for i, src := range srcs {
		if _, err := e.AddSource(src, engine.SourceInfo{Name: fmt.Sprint("src", i), AvailabilityZone: testAZ, VpcEndpointID: testVpce}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ops, err := engine.NewOps(e, ocfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Backend: ops})
	if err != nil {
		t.Fatal(err)
	}
	url := listen(t, srv)
	t.Cleanup(func() {
		ops.Close()
		e.Stop(engine.ReasonShutdown)
	})
	return &harness{t: t, e: e, ops: ops, url: url, client: newClient(url, 0)}
}

// listen serves h on a free loopback port until the test ends.
func listen(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

// newClient is the official SDK client for url; attempts 0 keeps the
// SDK's default retries.
func newClient(url string, attempts int) *nfw.Client {
	return nfw.New(nfw.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDFLOWD", "secret", ""),
		RetryMaxAttempts: attempts,
	})
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// run starts an operation and waits (by polling Describe) until it ends.
func (h *harness) run(flush bool, minAge int32, filters ...types.FlowFilter) string {
	h.t.Helper()
	ctx := h.ctx()
	var id string
	if flush {
		out, err := h.client.StartFlowFlush(ctx, &nfw.StartFlowFlushInput{FirewallArn: firewall, FlowFilters: filters, MinimumFlowAgeInSeconds: aws.Int32(minAge)})
		if err != nil {
			h.t.Fatal(err)
		}
		id = *out.FlowOperationId
	} else {
		out, err := h.client.StartFlowCapture(ctx, &nfw.StartFlowCaptureInput{FirewallArn: firewall, FlowFilters: filters, MinimumFlowAgeInSeconds: aws.Int32(minAge)})
		if err != nil {
			h.t.Fatal(err)
		}
		if out.FlowOperationStatus != types.FlowOperationStatusInProgress || *out.FirewallArn != *firewall {
			h.t.Fatalf("start: %+v", out)
		}
		id = *out.FlowOperationId
	}
	for {
		d, err := h.client.DescribeFlowOperation(ctx, &nfw.DescribeFlowOperationInput{FirewallArn: firewall, FlowOperationId: &id})
		if err != nil {
			h.t.Fatal(err)
		}
		if d.FlowOperationStatus != types.FlowOperationStatusInProgress {
			if d.FlowOperationStatus != types.FlowOperationStatusCompleted {
				h.t.Fatalf("operation %s ended %s (%s)", id, d.FlowOperationStatus, aws.ToString(d.StatusMessage))
			}
			return id
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// results pages through an operation's results with the SDK paginator.
func (h *harness) results(id string, page int32) []types.Flow {
	h.t.Helper()
	p := nfw.NewListFlowOperationResultsPaginator(h.client, &nfw.ListFlowOperationResultsInput{
		FirewallArn: firewall, FlowOperationId: &id, MaxResults: aws.Int32(page),
	})
	var flows []types.Flow
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(h.ctx())
		if err != nil {
			h.t.Fatal(err)
		}
		if len(out.Flows) > int(page) {
			h.t.Fatalf("page of %d flows, MaxResults %d", len(out.Flows), page)
		}
		pages++
		flows = append(flows, out.Flows...)
	}
	if want := max(1, (len(flows)+int(page)-1)/int(page)); pages != want {
		h.t.Fatalf("%d pages for %d flows at %d per page, want %d", pages, len(flows), page, want)
	}
	return flows
}

// capture runs a capture and returns its results as sorted summaries.
func (h *harness) capture(minAge int32, filters ...types.FlowFilter) []string {
	h.t.Helper()
	return summarize(h.results(h.run(false, minAge, filters...), 100))
}

// summary renders a result flow, or a truth flow aged at the engine clock,
// the same way.
func summary(proto uint8, src netip.Addr, sport uint16, dst netip.Addr, dport uint16, age int64, pkts, bytes uint64) string {
	return fmt.Sprintf("%d %s/%d %d -> %s/%d %d age %d pkts %d bytes %d", proto,
		src, src.BitLen(), sport, dst, dst.BitLen(), dport, age, pkts, bytes)
}

func summarize(flows []types.Flow) []string {
	var out []string
	for _, f := range flows {
		out = append(out, fmt.Sprintf("%s %s %s -> %s %s age %d pkts %d bytes %d", *f.Protocol,
			*f.SourceAddress.AddressDefinition, *f.SourcePort, *f.DestinationAddress.AddressDefinition, *f.DestinationPort,
			*f.Age, *f.PacketCount, f.ByteCount))
	}
	sort.Strings(out)
	return out
}

// active returns the truth's flows still in the table at the end.
func (h *harness) active() []gen.Flow {
	var out []gen.Flow
	for _, f := range h.truth.Flows {
		if f.Reason == "active" {
			out = append(out, f)
		}
	}
	return out
}

// expect renders the active truth flows that pick selects, as a correct
// capture reports them: ages at the engine clock (the last frame's time).
func (h *harness) expect(minAge int64, pick func(f *gen.Flow) bool) []string {
	var out []string
	for _, f := range h.active() {
		age := (h.truth.Last - f.Start) / int64(time.Second)
		if age < minAge || !pick(&f) {
			continue
		}
		out = append(out, summary(f.Proto, f.Src, f.SrcPort, f.Dst, f.DstPort, age,
			f.PktsToServer+f.PktsToClient, f.IPBytesToServer+f.IPBytesToClient))
	}
	sort.Strings(out)
	return out
}

func hasPorts(p uint8) bool { return p == 6 || p == 17 || p == 132 }

// diff explains how two sorted lists differ.
func diff(got, want []string) string {
	if slices.Equal(got, want) {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "got %d flows, want %d", len(got), len(want))
	g, w := map[string]int{}, map[string]int{}
	for _, s := range got {
		g[s]++
	}
	for _, s := range want {
		w[s]++
	}
	n := 0
	for s, c := range g {
		if w[s] < c && n < 5 {
			fmt.Fprintf(&b, "\n  extra:   %s", s)
			n++
		}
	}
	for s, c := range w {
		if g[s] < c && n < 10 {
			fmt.Fprintf(&b, "\n  missing: %s", s)
			n++
		}
	}
	return b.String()
}

// rawCall posts body to the server with the given target and returns the
// status, the error type header and the body.
func rawCall(t *testing.T, url, target, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// apiError returns the modeled error type and message of an SDK error.
func apiError(err error) (string, string) {
	var ire *types.InvalidRequestException
	var rnf *types.ResourceNotFoundException
	var thr *types.ThrottlingException
	var ise *types.InternalServerError
	switch {
	case errors.As(err, &ire):
		return ire.ErrorCode(), ire.ErrorMessage()
	case errors.As(err, &rnf):
		return rnf.ErrorCode(), rnf.ErrorMessage()
	case errors.As(err, &thr):
		return thr.ErrorCode(), thr.ErrorMessage()
	case errors.As(err, &ise):
		return ise.ErrorCode(), ise.ErrorMessage()
	}
	return "", fmt.Sprint(err)
}
