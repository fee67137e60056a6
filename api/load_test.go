package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/engine"
)

// slowReader hands out a capture a little at a time, so that a replay of
// it lasts while the test calls the API.
type slowReader struct {
	r     *bytes.Reader
	chunk int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), s.chunk)])
}

// TestConcurrentCallsDuringReplay calls every kind of API request from
// several clients at once while a 4-worker engine is still reading a
// capture (run it under -race: `make test` does, api being in RACE_PKGS):
// flow captures and flushes (throttled to one per zone, as designed),
// Describe, paged results, ListFlowOperations, /status, /metrics. No call
// fails but with ThrottlingException; every result page is well formed;
// operations complete while packets are still being read; and once the
// capture is read, a capture reports exactly the flows the same engine reports with no calls, so the concurrent calls changed
// nothing.
func TestConcurrentCallsDuringReplay(t *testing.T) {
	var pcap bytes.Buffer
	_, err := gen.WritePcap(&pcap, gen.Config{Seed: 11, Flows: 4000, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// About 2 s of reading (more under -race): the capture in 16 KiB pieces, 3 ms apart.
	src, err := capture.NewReader(&slowReader{r: bytes.NewReader(pcap.Bytes()), chunk: 16 << 10, pause: 3 * time.Millisecond}, "gen")
	if err != nil {
		t.Fatal(err)
	}
	h := serveEngine(t, 4, engine.OpsConfig{}, []capture.Source{src})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var (
		reading                         = h.e.SourcesDone()
		calls, throttled, doneWhileRead atomic.Int64
		wg                              sync.WaitGroup
	)
	still := func() bool {
		select {
		case <-reading:
			return false
		default:
			return true
		}
	}
	check := func(what string, err error) bool {
		calls.Add(1)
		if err == nil {
			return true
		}
		var thr *types.ThrottlingException
		if errors.As(err, &thr) {
			throttled.Add(1)
			return false
		}
		if ctx.Err() == nil {
			t.Errorf("%s: %v", what, err)
		}
		return false
	}
	client := newClient(h.url, 0)
	// Captures and flushes, each waited for and its results paged.
	operate := func(flush bool) {
		defer wg.Done()
		for still() && ctx.Err() == nil {
			var id *string
			if flush {
				// Old flows only, none of which exist: the scan runs, the
				// table keeps its flows for the final check.
				out, err := client.StartFlowFlush(ctx, &nfw.StartFlowFlushInput{FirewallArn: firewall,
					FlowFilters: []types.FlowFilter{{}}, MinimumFlowAgeInSeconds: aws.Int32(1 << 30)})
				if !check("StartFlowFlush", err) {
					continue
				}
				id = out.FlowOperationId
			} else {
				out, err := client.StartFlowCapture(ctx, &nfw.StartFlowCaptureInput{FirewallArn: firewall,
					FlowFilters: []types.FlowFilter{{Protocols: []string{"6", "17"}}}})
				if !check("StartFlowCapture", err) {
					continue
				}
				id = out.FlowOperationId
			}
			for ctx.Err() == nil {
				d, err := client.DescribeFlowOperation(ctx, &nfw.DescribeFlowOperationInput{FirewallArn: firewall, FlowOperationId: id})
				if !check("DescribeFlowOperation", err) {
					return
				}
				if d.FlowOperationStatus == types.FlowOperationStatusCompleted {
					if still() {
						doneWhileRead.Add(1)
					}
					break
				}
				if d.FlowOperationStatus != types.FlowOperationStatusInProgress {
					t.Errorf("operation %s: %s (%s)", *id, d.FlowOperationStatus, aws.ToString(d.StatusMessage))
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
			p := nfw.NewListFlowOperationResultsPaginator(client, &nfw.ListFlowOperationResultsInput{
				FirewallArn: firewall, FlowOperationId: id, MaxResults: aws.Int32(50)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if !check("ListFlowOperationResults", err) {
					break
				}
				if len(out.Flows) > 50 {
					t.Errorf("a page of %d flows, MaxResults 50", len(out.Flows))
				}
				for _, f := range out.Flows {
					if f.PacketCount == nil || *f.PacketCount <= 0 || f.Protocol == nil {
						t.Errorf("malformed result flow %+v", f)
					}
				}
			}
		}
	}
	wg.Add(4)
	go operate(false)
	go operate(false)
	go operate(true)
	go func() {
		defer wg.Done()
		for still() && ctx.Err() == nil {
			_, err := client.ListFlowOperations(ctx, &nfw.ListFlowOperationsInput{FirewallArn: firewall, MaxResults: aws.Int32(10)})
			check("ListFlowOperations", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for still() && ctx.Err() == nil {
			for _, path := range []string{"/status", "/metrics", "/healthz"} {
				resp, err := http.Get(h.url + path)
				calls.Add(1)
				if err != nil {
					t.Errorf("GET %s: %v", path, err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("GET %s: %d", path, resp.StatusCode)
				}
			}
		}
	}()
	start := time.Now()
	<-reading
	readFor := time.Since(start)
	wg.Wait()
	if err := h.e.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls while the capture was read (%v), %d throttled, %d operations completed meanwhile",
		calls.Load(), readFor.Round(time.Millisecond), throttled.Load(), doneWhileRead.Load())
	if doneWhileRead.Load() == 0 {
		t.Errorf("no operation completed while the capture was read (%v): the calls did not overlap the replay", readFor)
	}
	// The table is what the capture makes it, whatever was called: the
	// same as an engine of as many workers that read it with no calls.
	got := h.capture(0, types.FlowFilter{})
	quiet, err := capture.NewReader(bytes.NewReader(pcap.Bytes()), "gen")
	if err != nil {
		t.Fatal(err)
	}
	q := serveEngine(t, 4, engine.OpsConfig{}, []capture.Source{quiet})
	<-q.e.SourcesDone()
	want := q.capture(0, types.FlowFilter{})
	if d := diff(got, want); d != "" || len(want) < 3000 {
		t.Errorf("capture after the concurrent calls differs from one without (%d flows):\n%s", len(want), d)
	}
}
