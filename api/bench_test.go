package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowtable"
	"github.com/flowd/flowd/internal/synth"
)

// BenchmarkStartFlowCaptureToCompleted measures target P6 (docs/TARGETS.md), second
// half: the time from the SDK's StartFlowCapture call to the
// DescribeFlowOperation that first says COMPLETED, over a table of 1 M
// flows (one worker), through the HTTP API on a loopback port. Describe is
// polled every millisecond, so the figure is at most 1 ms pessimistic.
// "all" captures every flow (1 M results kept); "selective" uses 20
// filters that match about 4 % of them.
func BenchmarkStartFlowCaptureToCompleted(b *testing.B) {
	const flows = 1_000_000
	e, err := engine.New(engine.Config{Workers: 1, Table: flowtable.Config{MaxFlows: 2 * flows}})
	if err != nil {
		b.Fatal(err)
	}
	e.AddSource(synth.New(flows), engine.SourceInfo{Name: "synth"})
	if err := e.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer e.Stop(engine.ReasonActive)
	<-e.SourcesDone()
	// A clock that jumps past the retention before each operation, so that
	// the results of the previous one are dropped and memory stays flat.
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ops, err := engine.NewOps(e, engine.OpsConfig{Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	defer ops.Close()
	srv, err := api.New(api.Config{Backend: ops})
	if err != nil {
		b.Fatal(err)
	}
	url := listen(b, srv)
	client := newClient(url, 0)
	ctx := context.Background()

	var selective []types.FlowFilter
	for i := range 20 {
		switch i % 4 {
		case 0:
			selective = append(selective, types.FlowFilter{SourceAddress: addrDef(fmt.Sprintf("10.%d.0.0/16", i)), DestinationPort: aws.String("443"), Protocols: []string{"6"}})
		case 1:
			selective = append(selective, types.FlowFilter{SourceAddress: addrDef(fmt.Sprintf("10.%d.128.0/17", i)), DestinationPort: aws.String("50:60")})
		case 2:
			selective = append(selective, types.FlowFilter{DestinationAddress: addrDef(fmt.Sprintf("2001:db8::%x/128", i)), SourcePort: aws.String("1024:2047")})
		case 3:
			selective = append(selective, types.FlowFilter{DestinationAddress: addrDef(fmt.Sprintf("198.18.%d.0/24", i)), Protocols: []string{"17", "132"}, SourcePort: aws.String("ANY")})
		}
	}
	for _, c := range []struct {
		name    string
		filters []types.FlowFilter
		minAge  int32
	}{{"all", []types.FlowFilter{{}}, 0}, {"selective-20-filters", selective, 5}} {
		b.Run(c.name+"/flows=1M", func(b *testing.B) {
			var found int
			for b.Loop() {
				mu.Lock()
				now = now.Add(engine.DefaultOpRetention + time.Hour)
				mu.Unlock()
				out, err := client.StartFlowCapture(ctx, &nfw.StartFlowCaptureInput{FirewallArn: firewall, FlowFilters: c.filters, MinimumFlowAgeInSeconds: aws.Int32(c.minAge)})
				if err != nil {
					b.Fatal(err)
				}
				for {
					d, err := client.DescribeFlowOperation(ctx, &nfw.DescribeFlowOperationInput{FirewallArn: firewall, FlowOperationId: out.FlowOperationId})
					if err != nil {
						b.Fatal(err)
					}
					if d.FlowOperationStatus == types.FlowOperationStatusCompleted {
						break
					}
					if d.FlowOperationStatus != types.FlowOperationStatusInProgress {
						b.Fatal(d.FlowOperationStatus, aws.ToString(d.StatusMessage))
					}
					time.Sleep(time.Millisecond)
				}
				b.StopTimer()
				op, _ := ops.Op(*out.FlowOperationId, engine.Scope{})
				found = op.Flows.Len()
				b.StartTimer()
			}
			b.ReportMetric(float64(found), "flows")
		})
	}
}
