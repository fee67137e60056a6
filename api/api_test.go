package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/engine"
)

// traffic is the generated capture most tests replay: every protocol,
// IPv4 and IPv6, VLANs, reversed and reused TCP flows, fragments, ICMP
// errors and malformed frames, over 30 s so that ages spread.
var traffic = gen.Config{Seed: 4, Flows: 600, Duration: 20 * time.Second}

// refMatch is the straightforward reading of the AWS filter rules: any
// filter whose every given member matches; Source* is the initiator.
func refMatch(filters []types.FlowFilter, f *gen.Flow) bool {
	addr := func(a *types.Address, ip netip.Addr) bool {
		if a == nil {
			return true
		}
		s := *a.AddressDefinition
		if !strings.Contains(s, "/") {
			p, _ := netip.ParseAddr(s)
			return p == ip
		}
		p := netip.MustParsePrefix(s).Masked()
		return p.Contains(ip)
	}
	port := func(spec *string, p uint16) bool {
		if spec == nil || *spec == "ANY" {
			return true
		}
		if !hasPorts(f.Proto) {
			return false
		}
		lo, hi, ok := strings.Cut(*spec, ":")
		if !ok {
			hi = lo
		}
		l, _ := strconv.Atoi(lo)
		h, _ := strconv.Atoi(hi)
		return int(p) >= l && int(p) <= h
	}
	for _, flt := range filters {
		protoOK := len(flt.Protocols) == 0 || slices.Contains(flt.Protocols, strconv.Itoa(int(f.Proto)))
		if protoOK && addr(flt.SourceAddress, f.Src) && addr(flt.DestinationAddress, f.Dst) &&
			port(flt.SourcePort, f.SrcPort) && port(flt.DestinationPort, f.DstPort) {
			return true
		}
	}
	return false
}

func addrDef(s string) *types.Address { return &types.Address{AddressDefinition: aws.String(s)} }

func TestCaptureFilters(t *testing.T) {
	h := newHarness(t, traffic, 2, engine.OpsConfig{})
	act := h.active()
	if len(act) < 400 {
		t.Fatalf("only %d active flows in the truth", len(act))
	}
	// Values taken from the traffic itself, so every filter selects some
	// flows and leaves others.
	var v4, v6, icmp *gen.Flow
	ports := map[uint16]int{}
	ages := []int64{}
	for i := range act {
		f := &act[i]
		switch {
		case f.Src.Is4() && hasPorts(f.Proto) && v4 == nil:
			v4 = f
		case f.Src.Is6() && hasPorts(f.Proto) && v6 == nil:
			v6 = f
		case f.Proto == 1 && icmp == nil:
			icmp = f
		}
		if hasPorts(f.Proto) {
			ports[f.DstPort]++
		}
		ages = append(ages, (h.truth.Last-f.Start)/int64(time.Second))
	}
	var topPort uint16
	for p, n := range ports {
		if n > ports[topPort] || n == ports[topPort] && p < topPort {
			topPort = p
		}
	}
	slices.Sort(ages)
	medianAge := ages[len(ages)/2]
	if medianAge < 2 {
		t.Fatalf("median age %d: the capture is too short for the age tests", medianAge)
	}
	v6net := netip.PrefixFrom(v6.Dst, 120).Masked().String()
	sport := v4.SrcPort
	cases := []struct {
		name    string
		minAge  int32
		filters []types.FlowFilter
	}{
		{"empty filter matches all", 0, []types.FlowFilter{{}}},
		{"source CIDR v4", 0, []types.FlowFilter{{SourceAddress: addrDef("10.0.0.0/24")}}},
		{"source bare address", 0, []types.FlowFilter{{SourceAddress: addrDef(v4.Src.String())}}},
		{"source host bits set", 0, []types.FlowFilter{{SourceAddress: addrDef(v4.Src.String() + "/25")}}},
		{"destination CIDR v6", 0, []types.FlowFilter{{DestinationAddress: addrDef(v6net)}}},
		{"destination v4 /0 excludes v6", 0, []types.FlowFilter{{DestinationAddress: addrDef("0.0.0.0/0")}}},
		{"destination port", 0, []types.FlowFilter{{DestinationPort: aws.String(strconv.Itoa(int(topPort)))}}},
		{"source port range", 0, []types.FlowFilter{{SourcePort: aws.String(fmt.Sprintf("%d:%d", sport-2000, sport+2000))}}},
		{"full port range excludes ICMP", 0, []types.FlowFilter{{DestinationPort: aws.String("0:65535")}}},
		{"ANY port keeps ICMP", 0, []types.FlowFilter{{DestinationPort: aws.String("ANY"), Protocols: []string{"1", "58"}}}},
		{"protocols", 0, []types.FlowFilter{{Protocols: []string{"17", "132"}}}},
		{"one filter, every member", 0, []types.FlowFilter{{
			SourceAddress: addrDef("10.0.0.0/9"), DestinationAddress: addrDef("198.18.0.0/15"),
			SourcePort: aws.String("1024:65535"), DestinationPort: aws.String(strconv.Itoa(int(topPort))), Protocols: []string{"6", "17"},
		}}},
		{"several filters, any matches", 0, []types.FlowFilter{
			{Protocols: []string{"6"}, DestinationPort: aws.String(strconv.Itoa(int(topPort)))},
			{SourceAddress: addrDef("fd00::/8")},
			{DestinationAddress: addrDef(icmp.Dst.String() + "/32")},
		}},
		{"minimum age", int32(medianAge), []types.FlowFilter{{}}},
		{"minimum age and filter", int32(medianAge), []types.FlowFilter{{Protocols: []string{"6"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			got := h.capture(c.minAge, c.filters...)
			want := h.expect(int64(c.minAge), func(f *gen.Flow) bool { return refMatch(c.filters, f) })
			if len(want) == 0 || (len(want) == len(act) && c.name != "empty filter matches all") {
				t.Fatalf("the case selects %d of %d flows: not a test", len(want), len(act))
			}
			if d := diff(got, want); d != "" {
				t.Fatal(d)
			}
		})
	}
}

func TestPaginationVisitsEveryFlowOnce(t *testing.T) {
	h := newHarness(t, traffic, 3, engine.OpsConfig{})
	id := h.run(false, 0, types.FlowFilter{})
	want := h.expect(0, func(*gen.Flow) bool { return true })
	for _, page := range []int32{1, 7, 100} {
		if testing.Short() && page == 1 {
			continue
		}
		if d := diff(summarize(h.results(id, page)), want); d != "" {
			t.Fatalf("MaxResults %d: %s", page, d)
		}
	}
	// A token belongs to its operation: another operation refuses it.
	out, err := h.client.ListFlowOperationResults(h.ctx(), &nfw.ListFlowOperationResultsInput{FirewallArn: firewall, FlowOperationId: &id, MaxResults: aws.Int32(5)})
	if err != nil || out.NextToken == nil || len(out.Flows) != 5 || out.FlowRequestTimestamp == nil || out.FlowOperationStatus != types.FlowOperationStatusCompleted {
		t.Fatalf("first page: %+v %v", out, err)
	}
	other := h.run(false, 0, types.FlowFilter{})
	_, err = h.client.ListFlowOperationResults(h.ctx(), &nfw.ListFlowOperationResultsInput{FirewallArn: firewall, FlowOperationId: &other, NextToken: out.NextToken})
	if typ, msg := apiError(err); typ != api.InvalidRequest || !strings.HasPrefix(msg, "NextToken: ") {
		t.Fatalf("token of another operation: %s %s", typ, msg)
	}
}

func TestFlushThenCapture(t *testing.T) {
	h := newHarness(t, traffic, 2, engine.OpsConfig{})
	tcp := func(f *gen.Flow) bool { return f.Proto == 6 }
	id := h.run(true, 0, types.FlowFilter{Protocols: []string{"6"}})
	flushed := h.expect(0, tcp)
	if d := diff(summarize(h.results(id, 100)), flushed); d != "" {
		t.Fatalf("flush results: %s", d)
	}
	// Flushed flows are gone; the rest stay.
	rest := h.expect(0, func(f *gen.Flow) bool { return !tcp(f) })
	if d := diff(h.capture(0, types.FlowFilter{}), rest); d != "" {
		t.Fatalf("capture after flush: %s", d)
	}
	if st := h.e.Status(); st.Table.Ended[engine.ReasonFlush] != uint64(len(flushed)) {
		t.Fatalf("%d flows ended by flush, want %d", st.Table.Ended[engine.ReasonFlush], len(flushed))
	}
	d, err := h.client.DescribeFlowOperation(h.ctx(), &nfw.DescribeFlowOperationInput{FirewallArn: firewall, FlowOperationId: &id})
	if err != nil {
		t.Fatal(err)
	}
	if d.FlowOperationType != types.FlowOperationTypeFlowFlush || d.FlowOperation == nil || len(d.FlowOperation.FlowFilters) != 1 ||
		!slices.Equal(d.FlowOperation.FlowFilters[0].Protocols, []string{"6"}) || aws.ToInt32(d.FlowOperation.MinimumFlowAgeInSeconds) != 0 ||
		d.StatusMessage != nil || time.Since(*d.FlowRequestTimestamp) > time.Minute {
		t.Fatalf("describe: %+v", d)
	}
}

func TestListFlowOperations(t *testing.T) {
	h := newHarness(t, gen.Config{Seed: 2, Flows: 50}, 1, engine.OpsConfig{})
	var ids []string // oldest first
	for i, flush := range []bool{false, true, false, true, false} {
		ids = append(ids, h.run(flush, int32(i), types.FlowFilter{Protocols: []string{"47"}}))
	}
	newest := slices.Clone(ids)
	slices.Reverse(newest)
	list := func(typ types.FlowOperationType, page int32) (got []string, stamps []time.Time) {
		p := nfw.NewListFlowOperationsPaginator(h.client, &nfw.ListFlowOperationsInput{FirewallArn: firewall, FlowOperationType: typ, MaxResults: aws.Int32(page)})
		for p.HasMorePages() {
			out, err := p.NextPage(h.ctx())
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range out.FlowOperations {
				if typ != "" && m.FlowOperationType != typ || m.FlowOperationStatus != types.FlowOperationStatusCompleted {
					t.Fatalf("listed %+v", m)
				}
				got = append(got, *m.FlowOperationId)
				stamps = append(stamps, *m.FlowRequestTimestamp)
			}
		}
		return got, stamps
	}
	for _, page := range []int32{1, 2, 100} {
		got, stamps := list("", page)
		if !slices.Equal(got, newest) {
			t.Fatalf("MaxResults %d: %v, want newest first %v", page, got, newest)
		}
		if !slices.IsSortedFunc(stamps, func(a, b time.Time) int { return b.Compare(a) }) {
			t.Fatalf("timestamps not newest first: %v", stamps)
		}
	}
	if got, _ := list(types.FlowOperationTypeFlowFlush, 1); !slices.Equal(got, []string{ids[3], ids[1]}) {
		t.Fatalf("flushes: %v", got)
	}
	if got, _ := list(types.FlowOperationTypeFlowCapture, 100); !slices.Equal(got, []string{ids[4], ids[2], ids[0]}) {
		t.Fatalf("captures: %v", got)
	}
	// A token is bound to its filters.
	out, err := h.client.ListFlowOperations(h.ctx(), &nfw.ListFlowOperationsInput{FirewallArn: firewall, MaxResults: aws.Int32(1)})
	if err != nil || out.NextToken == nil {
		t.Fatal(out, err)
	}
	_, err = h.client.ListFlowOperations(h.ctx(), &nfw.ListFlowOperationsInput{FirewallArn: firewall, FlowOperationType: types.FlowOperationTypeFlowFlush, NextToken: out.NextToken})
	if typ, _ := apiError(err); typ != api.InvalidRequest {
		t.Fatalf("token reused with another type filter: %v", err)
	}
	// Scope filters: our zone lists everything, another zone is unknown.
	scoped, err := h.client.ListFlowOperations(h.ctx(), &nfw.ListFlowOperationsInput{FirewallArn: firewall, AvailabilityZone: aws.String(testAZ), VpcEndpointId: aws.String(testVpce)})
	if err != nil || len(scoped.FlowOperations) != 5 {
		t.Fatalf("scoped list: %v %v", scoped, err)
	}
	_, err = h.client.ListFlowOperations(h.ctx(), &nfw.ListFlowOperationsInput{FirewallArn: firewall, AvailabilityZone: aws.String("eu-west-1a")})
	if typ, msg := apiError(err); typ != api.InvalidRequest || !strings.HasPrefix(msg, `AvailabilityZone: "eu-west-1a" is not an Availability Zone of this firewall`) {
		t.Fatalf("unknown zone: %s %s", typ, msg)
	}
}

// heldSource is a pcap whose reader blocks until release: while it blocks,
// the single worker (inline mode) cannot answer scans, so an operation
// stays IN_PROGRESS for as long as a test needs.
func heldSource(t *testing.T) (capture.Source, func()) {
	pr, pw := io.Pipe()
	go func() {
		var hdr [24]byte
		copy(hdr[:], []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0})
		hdr[16], hdr[17], hdr[20] = 0xff, 0xff, 1 // snaplen 65535, Ethernet
		pw.Write(hdr[:])
	}()
	src, err := capture.NewReader(pr, "held")
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() { once.Do(func() { pw.Close() }) }
	t.Cleanup(release)
	return src, release
}

func TestThrottlingWithoutRetries(t *testing.T) {
	src, release := heldSource(t)
	h := serveEngine(t, 1, engine.OpsConfig{}, []capture.Source{src})
	ctx := h.ctx()
	first, err := h.client.StartFlowCapture(ctx, &nfw.StartFlowCaptureInput{FirewallArn: firewall, FlowFilters: []types.FlowFilter{{}}})
	if err != nil {
		t.Fatal(err)
	}
	once := newClient(h.url, 1)
	_, err = once.StartFlowFlush(ctx, &nfw.StartFlowFlushInput{FirewallArn: firewall, FlowFilters: []types.FlowFilter{{}}, AvailabilityZone: aws.String(testAZ)})
	if typ, msg := apiError(err); typ != api.Throttling || !strings.Contains(msg, *first.FlowOperationId) || !strings.Contains(msg, testAZ) {
		t.Fatalf("second operation in the zone: %s %q", typ, msg)
	}
	// While in progress: Describe and ListFlowOperationResults say so.
	d, err := h.client.DescribeFlowOperation(ctx, &nfw.DescribeFlowOperationInput{FirewallArn: firewall, FlowOperationId: first.FlowOperationId})
	if err != nil || d.FlowOperationStatus != types.FlowOperationStatusInProgress || d.FlowRequestTimestamp == nil {
		t.Fatalf("describe in progress: %+v %v", d, err)
	}
	r, err := h.client.ListFlowOperationResults(ctx, &nfw.ListFlowOperationResultsInput{FirewallArn: firewall, FlowOperationId: first.FlowOperationId})
	if err != nil || r.FlowOperationStatus != types.FlowOperationStatusInProgress || len(r.Flows) != 0 || r.NextToken != nil {
		t.Fatalf("results in progress: %+v %v", r, err)
	}
	release()
	if op, err := h.ops.Wait(ctx, *first.FlowOperationId); err != nil || op.Status != engine.OpCompleted {
		t.Fatalf("after release: %s %v", op.Status, err)
	}
	if _, err := once.StartFlowFlush(ctx, &nfw.StartFlowFlushInput{FirewallArn: firewall, FlowFilters: []types.FlowFilter{{}}}); err != nil {
		t.Fatalf("after the first ended: %v", err)
	}
}

func TestExpiredOperation(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newHarness(t, gen.Config{Seed: 3, Flows: 20}, 1, engine.OpsConfig{Now: clock})
	id := h.run(false, 0, types.FlowFilter{})
	mu.Lock()
	now = now.Add(engine.DefaultOpRetention)
	mu.Unlock()
	_, err := h.client.DescribeFlowOperation(h.ctx(), &nfw.DescribeFlowOperationInput{FirewallArn: firewall, FlowOperationId: &id})
	if typ, msg := apiError(err); typ != api.ResourceNotFound || !strings.Contains(msg, id) {
		t.Fatalf("expired: %s %q", typ, msg)
	}
}

func TestBadInput(t *testing.T) {
	h := newHarness(t, gen.Config{Seed: 5, Flows: 30}, 1, engine.OpsConfig{})
	ctx := h.ctx()
	id := h.run(false, 0, types.FlowFilter{})
	many := make([]types.FlowFilter, 21)
	capture := func(fs ...types.FlowFilter) error {
		_, err := h.client.StartFlowCapture(ctx, &nfw.StartFlowCaptureInput{FirewallArn: firewall, FlowFilters: fs})
		return err
	}
	sdk := []struct {
		name     string
		call     func() error
		typ, msg string
	}{
		{"bad CIDR", func() error { return capture(types.FlowFilter{SourceAddress: addrDef("10.0.0.0/33")}) },
			api.InvalidRequest, `FlowFilters[0].SourceAddress.AddressDefinition: "10.0.0.0/33" is not an IPv4 or IPv6 address or CIDR`},
		{"port 70000", func() error {
			return capture(types.FlowFilter{}, types.FlowFilter{DestinationPort: aws.String("70000")})
		},
			api.InvalidRequest, `FlowFilters[1].DestinationPort: "70000" is out of range: ports are 0 to 65535`},
		{"port syntax", func() error { return capture(types.FlowFilter{SourcePort: aws.String("80-90")}) },
			api.InvalidRequest, `FlowFilters[0].SourcePort: "80-90" is not ANY, a port, or a range N:M`},
		{"bad protocol", func() error { return capture(types.FlowFilter{Protocols: []string{"6", "tcp"}}) },
			api.InvalidRequest, `FlowFilters[0].Protocols[1]: "tcp" is not a protocol number (0-255)`},
		{"21 filters", func() error { return capture(many...) },
			api.InvalidRequest, `FlowFilters: 21 filters given, at most 20 are allowed`},
		{"empty filters", func() error { return capture([]types.FlowFilter{}...) },
			api.InvalidRequest, `FlowFilters: no filters given, at least 1 is required`},
		{"negative age", func() error {
			_, err := h.client.StartFlowFlush(ctx, &nfw.StartFlowFlushInput{FirewallArn: firewall, FlowFilters: many[:1], MinimumFlowAgeInSeconds: aws.Int32(-1)})
			return err
		}, api.InvalidRequest, `MinimumFlowAgeInSeconds: -1 is out of range: want 0 to 2147483647`},
		{"uppercase UUID", func() error {
			_, err := h.client.DescribeFlowOperation(ctx, &nfw.DescribeFlowOperationInput{FirewallArn: firewall, FlowOperationId: aws.String(strings.ToUpper(id))})
			return err
		}, api.InvalidRequest, `FlowOperationId: "` + strings.ToUpper(id) + `" is not a flow operation id: want 36 characters matching ^([0-9a-f]{8})-([0-9a-f]{4}-){3}([0-9a-f]{12})$ (a lowercase UUID)`},
		{"unknown operation id", func() error {
			_, err := h.client.ListFlowOperationResults(ctx, &nfw.ListFlowOperationResultsInput{FirewallArn: firewall, FlowOperationId: aws.String("00000000-0000-4000-8000-000000000000")})
			return err
		}, api.ResourceNotFound, `FlowOperationId: flow operation "00000000-0000-4000-8000-000000000000" not found in firewall ` + api.DefaultFirewallArn + ` in the scope given`},
		{"forged NextToken", func() error {
			_, err := h.client.ListFlowOperationResults(ctx, &nfw.ListFlowOperationResultsInput{FirewallArn: firewall, FlowOperationId: &id, NextToken: aws.String("AVIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")})
			return err
		}, api.InvalidRequest, `NextToken: "AVIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" was not issued by this server for this request (forged, altered, from another request or from an earlier run)`},
		{"NextToken alphabet", func() error {
			_, err := h.client.ListFlowOperations(ctx, &nfw.ListFlowOperationsInput{FirewallArn: firewall, NextToken: aws.String("a-b_c")})
			return err
		}, api.InvalidRequest, `NextToken: "a-b_c" is not a pagination token: want 1 to 4096 characters matching [0-9A-Za-z:/+=]+`},
		{"MaxResults 101", func() error {
			_, err := h.client.ListFlowOperations(ctx, &nfw.ListFlowOperationsInput{FirewallArn: firewall, MaxResults: aws.Int32(101)})
			return err
		}, api.InvalidRequest, `MaxResults: 101 is out of range: want 1 to 100`},
		{"wrong ARN", func() error {
			_, err := h.client.StartFlowCapture(ctx, &nfw.StartFlowCaptureInput{FirewallArn: aws.String("arn:aws:network-firewall:us-east-1:123456789012:firewall/other"), FlowFilters: many[:1]})
			return err
		}, api.ResourceNotFound, `FirewallArn: firewall "arn:aws:network-firewall:us-east-1:123456789012:firewall/other" not found; this endpoint serves ` + api.DefaultFirewallArn},
		{"malformed ARN", func() error {
			_, err := h.client.ListFlowOperations(ctx, &nfw.ListFlowOperationsInput{FirewallArn: aws.String("firewall/flowd")})
			return err
		}, api.InvalidRequest, `FirewallArn: "firewall/flowd" is not an ARN: want 1 to 256 characters matching ^arn:aws.*`},
		{"bad VPC endpoint id", func() error {
			_, err := h.client.StartFlowCapture(ctx, &nfw.StartFlowCaptureInput{FirewallArn: firewall, FlowFilters: many[:1], VpcEndpointId: aws.String("vpc-123")})
			return err
		}, api.InvalidRequest, `VpcEndpointId: "vpc-123" is not a VPC endpoint id: want 5 to 256 characters matching ^vpce-[a-zA-Z0-9]*$`},
		{"unknown VPC endpoint", func() error {
			_, err := h.client.StartFlowCapture(ctx, &nfw.StartFlowCaptureInput{FirewallArn: firewall, FlowFilters: many[:1], VpcEndpointId: aws.String("vpce-123")})
			return err
		}, api.InvalidRequest, `VpcEndpointId: "vpce-123" is not a VPC endpoint of this firewall (it has "` + testVpce + `")`},
		{"bad type", func() error {
			_, err := h.client.ListFlowOperations(ctx, &nfw.ListFlowOperationsInput{FirewallArn: firewall, FlowOperationType: "FLOW_SNAPSHOT"})
			return err
		}, api.InvalidRequest, `FlowOperationType: "FLOW_SNAPSHOT" is not a flow operation type: want FLOW_CAPTURE or FLOW_FLUSH`},
	}
	for _, c := range sdk {
		typ, msg := apiError(c.call())
		if typ != c.typ || msg != c.msg {
			t.Errorf("%s:\n got  %s %s\n want %s %s", c.name, typ, msg, c.typ, c.msg)
		}
	}

	const start = "NetworkFirewall_20201112.StartFlowCapture"
	arn := `"FirewallArn":"` + api.DefaultFirewallArn + `"`
	raw := []struct {
		name, target, body string
		status             int
		typ, msg           string
	}{
		{"malformed JSON", start, `{"FirewallArn": "x",`, 400, api.InvalidRequest, "the request body is not valid JSON: unexpected end of JSON input (at byte 20)"},
		{"not an object", start, `[1,2]`, 400, api.InvalidRequest, "the request body is not a JSON object"},
		{"trailing garbage", start, `{} x`, 400, api.InvalidRequest, "the request body is not valid JSON: invalid character 'x' after top-level value (at byte 4)"},
		{"unknown target", "NetworkFirewall_20201112.DescribeFirewall", `{}`, 400, api.UnknownOperation,
			`X-Amz-Target: "NetworkFirewall_20201112.DescribeFirewall" is not an operation this flowd serves; it serves NetworkFirewall_20201112. followed by one of StartFlowCapture, StartFlowFlush, DescribeFlowOperation, ListFlowOperations, ListFlowOperationResults`},
		{"other service", "Firehose_20150804.StartFlowCapture", `{}`, 400, api.UnknownOperation,
			`X-Amz-Target: "Firehose_20150804.StartFlowCapture" is not an operation this flowd serves; it serves NetworkFirewall_20201112. followed by one of StartFlowCapture, StartFlowFlush, DescribeFlowOperation, ListFlowOperations, ListFlowOperationResults`},
		{"no target", "", `{}`, 400, api.InvalidRequest, "X-Amz-Target: the header is missing; want NetworkFirewall_20201112.<Operation>"},
		{"missing ARN", start, `{"FlowFilters":[{}]}`, 400, api.InvalidRequest, "FirewallArn: the member is required"},
		{"missing filters", start, `{` + arn + `}`, 400, api.InvalidRequest, "FlowFilters: the member is required"},
		{"ARN of wrong type", start, `{"FirewallArn": 12}`, 400, api.InvalidRequest, "FirewallArn: expected a string, got a number"},
		{"filter not an object", start, `{` + arn + `,"FlowFilters":["x"]}`, 400, api.InvalidRequest, "FlowFilters[0]: expected an object, got a string"},
		{"address without definition", start, `{` + arn + `,"FlowFilters":[{"DestinationAddress":{}}]}`, 400, api.InvalidRequest, "FlowFilters[0].DestinationAddress.AddressDefinition: the member is required"},
		{"protocol not a string", start, `{` + arn + `,"FlowFilters":[{"Protocols":[6]}]}`, 400, api.InvalidRequest, "FlowFilters[0].Protocols[0]: expected a string, got a number"},
		{"fractional age", start, `{` + arn + `,"FlowFilters":[{}],"MinimumFlowAgeInSeconds":1.5}`, 400, api.InvalidRequest, "MinimumFlowAgeInSeconds: 1.5 is not an integer"},
		{"huge age", start, `{` + arn + `,"FlowFilters":[{}],"MinimumFlowAgeInSeconds":99999999999999999999}`, 400, api.InvalidRequest, "MinimumFlowAgeInSeconds: 99999999999999999999 is out of range: want 0 to 2147483647"},
		{"body too large", start, `{"x":"` + strings.Repeat("a", api.DefaultMaxBodyBytes) + `"}`, 400, api.InvalidRequest, "the request body is larger than 1048576 bytes"},
		{"unknown members ignored, null is absent", start,
			`{` + arn + `,"Extra":{"a":[1,2]},"AvailabilityZone":null,"FlowFilters":[{"Foo":"bar","Protocols":["47"],"SourcePort":null}],"firewallarn":"x"}`, 200, "", ""},
	}
	for _, c := range raw {
		status, hdr, body := rawCall(t, h.url, c.target, c.body)
		if hdr.Get("X-Amzn-Requestid") == "" {
			t.Errorf("%s: no request id", c.name)
		}
		if status != c.status || hdr.Get("Content-Type") != "application/x-amz-json-1.0" {
			t.Errorf("%s: status %d, content type %q; body %s", c.name, status, hdr.Get("Content-Type"), body)
			continue
		}
		if c.typ == "" {
			continue
		}
		var e struct {
			Type    string `json:"__type"`
			Message string
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("%s: %v: %s", c.name, err, body)
		}
		if hdr.Get("X-Amzn-ErrorType") != c.typ || e.Type != c.typ || e.Message != c.msg {
			t.Errorf("%s:\n got  %s/%s %s\n want %s %s", c.name, hdr.Get("X-Amzn-ErrorType"), e.Type, e.Message, c.typ, c.msg)
		}
	}
}

func TestStatusAndMetrics(t *testing.T) {
	h := newHarness(t, gen.Config{Seed: 6, Flows: 100}, 2, engine.OpsConfig{})
	resp, err := http.Get(h.url + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st api.StatusJSON
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var decodeErrs uint64
	for _, n := range h.truth.DecodeErrors {
		decodeErrs += n
	}
	var gotErrs uint64
	for _, n := range st.Sources[0].DecodeErrors {
		gotErrs += n
	}
	if len(st.Sources) != 1 || !st.Sources[0].EOF || !st.Done || st.Sources[0].Packets != h.truth.Packets ||
		st.Sources[0].Bytes != h.truth.Bytes || gotErrs != decodeErrs || decodeErrs == 0 ||
		st.Flows.Active != uint64(len(h.active())) || st.ClockUnixNano != h.truth.Last || st.Firewall != api.DefaultFirewallArn ||
		st.Sources[0].AvailabilityZone != testAZ {
		t.Fatalf("status %+v; truth: %d packets, %d bytes, %d decode errors, %d active", st, h.truth.Packets, h.truth.Bytes, decodeErrs, len(h.active()))
	}
	for r, n := range h.truth.DecodeErrors {
		if st.Sources[0].DecodeErrors[r.String()] != n {
			t.Fatalf("decode errors %v, truth %v", st.Sources[0].DecodeErrors, h.truth.DecodeErrors)
		}
	}

	h.run(false, 0, types.FlowFilter{})
	resp, err = http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	for _, want := range []string{
		fmt.Sprintf("flowd_flows_active %d\n", len(h.active())),
		fmt.Sprintf(`flowd_source_packets_total{source="src0"} %d`+"\n", h.truth.Packets),
		`flowd_source_eof{source="src0"} 1` + "\n",
		`flowd_api_requests_total{operation="StartFlowCapture",outcome="OK"} 1` + "\n",
		`flowd_flows_ended_total{reason="flush"} 0` + "\n",
		"go_goroutines ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("metrics content type %q", ct)
	}
	// Anything but POST / and the two GETs.
	for _, c := range []struct {
		method, path string
		status       int
	}{{"GET", "/", 405}, {"GET", "/nope", 404}, {"POST", "/status", 404}} {
		req, _ := http.NewRequest(c.method, h.url+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
	}
}

// TestResultShapes checks the wire details of a result page against the
// reference: addresses as CIDRs, ports and protocol as decimal strings,
// "0" for protocols without ports, the timestamp as an epoch number.
func TestResultShapes(t *testing.T) {
	h := newHarness(t, gen.Config{Seed: 7, Flows: 200}, 1, engine.OpsConfig{})
	id := h.run(false, 0, types.FlowFilter{})
	status, _, body := rawCall(t, h.url, "NetworkFirewall_20201112.ListFlowOperationResults",
		`{"FirewallArn":"`+api.DefaultFirewallArn+`","FlowOperationId":"`+id+`","MaxResults":100}`)
	if status != 200 {
		t.Fatal(status, body)
	}
	var out map[string]any
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if _, ok := out["FlowRequestTimestamp"].(json.Number); !ok {
		t.Fatalf("FlowRequestTimestamp %T", out["FlowRequestTimestamp"])
	}
	tok, _ := out["NextToken"].(string)
	if !regexp.MustCompile(`^[0-9A-Za-z:/+=]+$`).MatchString(tok) {
		t.Fatalf("NextToken %q", tok)
	}
	cidr := regexp.MustCompile(`^[0-9a-f.:]+/(32|128)$`)
	num := regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	icmp := 0
	for _, v := range out["Flows"].([]any) {
		f := v.(map[string]any)
		src := f["SourceAddress"].(map[string]any)["AddressDefinition"].(string)
		dst := f["DestinationAddress"].(map[string]any)["AddressDefinition"].(string)
		if !cidr.MatchString(src) || !cidr.MatchString(dst) {
			t.Fatalf("addresses %s %s", src, dst)
		}
		for _, k := range []string{"SourcePort", "DestinationPort", "Protocol"} {
			if s, _ := f[k].(string); !num.MatchString(s) {
				t.Fatalf("%s %q", k, f[k])
			}
		}
		if p := f["Protocol"]; p == "1" || p == "58" {
			icmp++
			if f["SourcePort"] != "0" || f["DestinationPort"] != "0" {
				t.Fatalf("ICMP ports %v %v", f["SourcePort"], f["DestinationPort"])
			}
		}
		for _, k := range []string{"Age", "PacketCount", "ByteCount"} {
			if _, ok := f[k].(json.Number); !ok {
				t.Fatalf("%s %T", k, f[k])
			}
		}
	}
	if icmp == 0 {
		t.Fatal("no ICMP flow in the first page")
	}
	// Keys are sorted neither way on the wire; the SDK result matches.
	sdk := h.results(id, 100)
	if len(sdk) != len(h.active()) {
		t.Fatalf("%d flows, want %d", len(sdk), len(h.active()))
	}
}

// TestReleasedResults: past the bound on retained results the oldest
// operation is released; Describe and ListFlowOperationResults on it are
// ResourceNotFoundException saying why, and the bound shows in /metrics.
func TestReleasedResults(t *testing.T) {
	// 200 flows' results are 11,200 bytes; the bound keeps one operation's.
	h := newHarness(t, gen.Config{Seed: 4, Flows: 200, Duration: time.Second}, 1, engine.OpsConfig{MaxResultBytes: 16 << 10})
	first := h.run(false, 0, types.FlowFilter{})
	second := h.run(false, 0, types.FlowFilter{})
	ctx := h.ctx()
	_, err := h.client.DescribeFlowOperation(ctx, &nfw.DescribeFlowOperationInput{FirewallArn: firewall, FlowOperationId: &first})
	if typ, msg := apiError(err); typ != "ResourceNotFoundException" || !strings.Contains(msg, "released") || !strings.Contains(msg, first) {
		t.Errorf("describe a released operation: %s %q", typ, msg)
	}
	_, err = h.client.ListFlowOperationResults(ctx, &nfw.ListFlowOperationResultsInput{FirewallArn: firewall, FlowOperationId: &first})
	if typ, msg := apiError(err); typ != "ResourceNotFoundException" || !strings.Contains(msg, "released") {
		t.Errorf("results of a released operation: %s %q", typ, msg)
	}
	if got := h.results(second, 100); len(got) == 0 {
		t.Error("the newest operation lost its results")
	}
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{"flowd_op_results_max_bytes 16384", "flowd_op_results_released_total 1",
		`flowd_flow_operations_total{status="COMPLETED",type="FLOW_CAPTURE"} 2`, "flowd_table_capacity_flows 1.048576e+06"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
