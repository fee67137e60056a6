package flowlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var regTime = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// regIfaces: two interfaces in the default subnet and VPC, one in a
// subnet and VPC of its own.
func regIfaces() []Interface {
	a, b, c := DefaultInterface("eth0"), DefaultInterface("eth1"), DefaultInterface("tap0")
	c.SubnetID, c.VPCID = "subnet-00000000000000c01", "vpc-00000000000000c01"
	return []Interface{a, b, c}
}

func newReg(t *testing.T, dir string) *Registry {
	t.Helper()
	r, err := NewRegistry(dir, regIfaces(), func() time.Time { return regTime })
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func s3To(rt string, bucket string, ids ...string) Definition {
	return Definition{ResourceType: rt, ResourceIds: ids, TrafficType: TrafficAll,
		LogDestinationType: DestinationS3, LogDestination: "arn:aws:s3:::bucket-" + bucket}
}

func TestDefaultInterface(t *testing.T) {
	a, b := DefaultInterface("eth0"), DefaultInterface("eth0")
	if !sameIface(a, b) {
		t.Fatal("DefaultInterface is not deterministic")
	}
	shape := map[string]*regexp.Regexp{
		a.InterfaceID: regexp.MustCompile(`^eni-[0-9a-f]{17}$`),
		a.VPCID:       regexp.MustCompile(`^vpc-[0-9a-f]{17}$`),
		a.SubnetID:    regexp.MustCompile(`^subnet-[0-9a-f]{17}$`),
	}
	for v, re := range shape {
		if !re.MatchString(v) {
			t.Errorf("%q does not match %s", v, re)
		}
	}
	if a.Name != "eth0" || a.AccountID != "123456789012" || a.Region != "us-east-1" || a.AZID != "use1-az1" || a.InstanceID != "" {
		t.Errorf("defaults: %+v", a)
	}
	if DefaultInterface("eth1").InterfaceID == a.InterfaceID {
		t.Error("two names, one interface id")
	}
}

func sameIface(a, b Interface) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestRegistryCreateResolves(t *testing.T) {
	r := newReg(t, "")
	ifs := regIfaces()
	v0 := r.Version()
	res, err := r.Create(s3To(ResourceNetworkInterface, "b1", ifs[0].InterfaceID, "eth1", "eni-00000000000000bad"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.FlowLogIDs) != 2 || len(res.Unsuccessful) != 1 {
		t.Fatalf("%+v", res)
	}
	for _, id := range res.FlowLogIDs {
		if !regexp.MustCompile(`^fl-[0-9a-f]{17}$`).MatchString(id) {
			t.Errorf("flow log id %q", id)
		}
	}
	if u := res.Unsuccessful[0]; u.ResourceID != "eni-00000000000000bad" || u.Code != "InvalidNetworkInterfaceID.NotFound" || !strings.Contains(u.Message, "Unknown resource eni-00000000000000bad") {
		t.Errorf("unknown interface: %+v", u)
	}
	if r.Version() == v0 {
		t.Error("Version did not move")
	}
	logs := r.Logs()
	if len(logs) != 2 || !slices.Equal(logs[0].Interfaces, []int{0}) || !slices.Equal(logs[1].Interfaces, []int{1}) {
		t.Fatalf("logs %+v", logs)
	}
	// The alias resolves to the interface id.
	if logs[1].ResourceID != ifs[1].InterfaceID || !slices.Equal(logs[1].Definition.ResourceIds, []string{ifs[1].InterfaceID}) ||
		!logs[1].Created.Equal(regTime) || logs[1].Settings.S3.Bucket != "bucket-b1" {
		t.Errorf("log %+v", logs[1])
	}

	for _, c := range []struct {
		rt, id, code string
		ifaces       []int
	}{
		{ResourceSubnet, DefaultSubnetID, "", []int{0, 1}},
		{ResourceSubnet, "subnet-00000000000000c01", "", []int{2}},
		{ResourceVPC, DefaultVPCID, "", []int{0, 1}},
		{ResourceVPC, "vpc-00000000000000c01", "", []int{2}},
		{ResourceSubnet, "subnet-1", "InvalidSubnetID.NotFound", nil},
		{ResourceVPC, "vpc-1", "InvalidVpcID.NotFound", nil},
		{ResourceNetworkInterface, "eth9", "InvalidNetworkInterfaceID.NotFound", nil},
		{ResourceTransitGateway, "tgw-1", "InvalidTransitGatewayID.NotFound", nil},
		{ResourceTransitGatewayAttachment, "tgw-attach-1", "InvalidTransitGatewayAttachmentID.NotFound", nil},
		{ResourceRegionalNatGateway, "nat-1", "NatGatewayNotFound", nil},
	} {
		d := s3To(c.rt, "b2", c.id)
		if c.rt == ResourceTransitGateway || c.rt == ResourceTransitGatewayAttachment {
			d.TrafficType = ""
		}
		res, err := r.Create(d)
		if err != nil {
			t.Errorf("%s %s: %v", c.rt, c.id, err)
			continue
		}
		if c.code != "" {
			if len(res.FlowLogIDs) != 0 || len(res.Unsuccessful) != 1 || res.Unsuccessful[0].Code != c.code {
				t.Errorf("%s %s: %+v, want %s", c.rt, c.id, res, c.code)
			}
			continue
		}
		got := r.Logs()[len(r.Logs())-1]
		if len(res.FlowLogIDs) != 1 || got.ID != res.FlowLogIDs[0] || !slices.Equal(got.Interfaces, c.ifaces) || got.ResourceID != c.id {
			t.Errorf("%s %s: %+v, log %+v", c.rt, c.id, res, got)
		}
	}
}

func TestRegistryDuplicates(t *testing.T) {
	r := newReg(t, "")
	ifs := regIfaces()
	if res, _ := r.Create(s3To(ResourceNetworkInterface, "b1", "eth0")); len(res.FlowLogIDs) != 1 {
		t.Fatal(res)
	}
	// Same resource (by id this time) and bucket; and the same resource
	// twice in one request.
	res, err := r.Create(s3To(ResourceNetworkInterface, "b1", ifs[0].InterfaceID))
	if err != nil || len(res.FlowLogIDs) != 0 || len(res.Unsuccessful) != 1 || res.Unsuccessful[0].Code != CodeFlowLogAlreadyExists {
		t.Fatalf("same destination: %+v %v", res, err)
	}
	res, _ = r.Create(s3To(ResourceNetworkInterface, "b2", "eth1", "eth1"))
	if len(res.FlowLogIDs) != 1 || len(res.Unsuccessful) != 1 || res.Unsuccessful[0].Code != CodeFlowLogAlreadyExists {
		t.Fatalf("twice in a request: %+v", res)
	}
	// Another destination, or another traffic type to another place, is
	// another flow log.
	if res, _ = r.Create(s3To(ResourceNetworkInterface, "b2", "eth0")); len(res.FlowLogIDs) != 1 {
		t.Fatalf("other bucket: %+v", res)
	}
	d := Definition{ResourceType: ResourceNetworkInterface, ResourceIds: []string{"eth0"}, TrafficType: TrafficAll,
		LogGroupName: "g", DeliverLogsPermissionArn: role}
	if res, _ = r.Create(d); len(res.FlowLogIDs) != 1 {
		t.Fatalf("log group: %+v", res)
	}
	// The same group by ARN is the same destination.
	d.LogGroupName, d.LogDestination, d.TrafficType = "", "arn:aws:logs:us-east-1:123456789012:log-group:g", TrafficReject
	if res, _ = r.Create(d); len(res.Unsuccessful) != 1 || res.Unsuccessful[0].Code != CodeFlowLogAlreadyExists {
		t.Fatalf("log group by ARN: %+v", res)
	}
	// A subnet log and an interface log of the same interface are not
	// duplicates: they are different resources.
	if res, _ = r.Create(s3To(ResourceSubnet, "b1", DefaultSubnetID)); len(res.FlowLogIDs) != 1 {
		t.Fatalf("subnet: %+v", res)
	}
}

func TestRegistryValidationAndTokens(t *testing.T) {
	r := newReg(t, "")
	v := r.Version()
	d := s3To(ResourceVPC, "b1", DefaultVPCID)
	d.MaxAggregationInterval = 300
	_, err := r.Create(d)
	var fe *Error
	if !errors.As(err, &fe) || fe.Code != CodeInvalidParameter || fe.Member != "MaxAggregationInterval" {
		t.Fatalf("invalid definition: %v", err)
	}
	if r.Version() != v || len(r.Logs()) != 0 {
		t.Fatal("a refused request changed the registry")
	}

	d.MaxAggregationInterval = 60
	d.ClientToken = "tok-1"
	first, err := r.Create(d)
	if err != nil || len(first.FlowLogIDs) != 1 || first.ClientToken != "tok-1" {
		t.Fatalf("%+v %v", first, err)
	}
	again, err := r.Create(d)
	if err != nil || !slices.Equal(again.FlowLogIDs, first.FlowLogIDs) || len(again.Unsuccessful) != 0 || len(r.Logs()) != 1 {
		t.Fatalf("same token, same request: %+v %v (%d logs)", again, err, len(r.Logs()))
	}
	d.TrafficType = TrafficAccept
	_, err = r.Create(d)
	if !errors.As(err, &fe) || fe.Code != CodeIdempotentParameterMismatch || fe.Member != "ClientToken" {
		t.Fatalf("same token, other request: %v", err)
	}
	// A token also holds its failures: the same request answers the same.
	bad := s3To(ResourceVPC, "b9", "vpc-404")
	bad.ClientToken = "tok-2"
	f1, _ := r.Create(bad)
	f2, _ := r.Create(bad)
	if len(f1.Unsuccessful) != 1 || fmt.Sprint(f1) != fmt.Sprint(f2) {
		t.Fatalf("%+v vs %+v", f1, f2)
	}
}

func TestRegistryDescribe(t *testing.T) {
	r := newReg(t, "")
	ifs := regIfaces()
	var ids []string
	add := func(d Definition) {
		t.Helper()
		res, err := r.Create(d)
		if err != nil || len(res.FlowLogIDs) == 0 {
			t.Fatalf("%+v %v", res, err)
		}
		ids = append(ids, res.FlowLogIDs...)
	}
	d := s3To(ResourceNetworkInterface, "b1", "eth0", "eth1", "tap0") // ids 0-2
	d.Tags = []Tag{{"env", "prod"}, {"team", "net"}}
	add(d)
	d = s3To(ResourceNetworkInterface, "b2", "eth0") // 3
	d.TrafficType = TrafficReject
	d.Tags = []Tag{{"env", "dev"}}
	add(d)
	add(Definition{ResourceType: ResourceSubnet, ResourceIds: []string{DefaultSubnetID}, TrafficType: TrafficAccept, // 4
		LogGroupName: "/flows", DeliverLogsPermissionArn: role})
	add(Definition{ResourceType: ResourceVPC, ResourceIds: []string{DefaultVPCID}, TrafficType: TrafficAll, // 5
		LogDestinationType: DestinationFirehose, LogDestination: "arn:aws:firehose:us-east-1:123456789012:deliverystream/s"})

	pick := func(n ...int) []string {
		var out []string
		for _, i := range n {
			out = append(out, ids[i])
		}
		return out
	}
	for _, c := range []struct {
		ids     []string
		filters map[string][]string
		want    []string
	}{
		{nil, nil, ids},
		{pick(5, 1, 1), nil, pick(1, 5)},
		{[]string{"fl-00000000000000000"}, nil, nil},
		{nil, map[string][]string{"resource-id": {ifs[0].InterfaceID}}, pick(0, 3)},
		{nil, map[string][]string{"resource-id": {ifs[0].Name}}, pick(0, 3)}, // the name is an alias
		{nil, map[string][]string{"resource-id": {ifs[2].InterfaceID, DefaultVPCID}}, pick(2, 5)},
		{nil, map[string][]string{"traffic-type": {"REJECT"}}, pick(3)},
		{nil, map[string][]string{"traffic-type": {"reject"}}, nil},
		{nil, map[string][]string{"log-destination-type": {"cloud-watch-logs", "kinesis-data-firehose"}}, pick(4, 5)},
		{nil, map[string][]string{"log-group-name": {"/flows"}}, pick(4)},
		{nil, map[string][]string{"flow-log-id": pick(2, 4)}, pick(2, 4)},
		{nil, map[string][]string{"deliver-log-status": {"SUCCESS"}}, ids},
		{nil, map[string][]string{"deliver-log-status": {"FAILED"}}, nil},
		{nil, map[string][]string{"tag-key": {"team"}}, pick(0, 1, 2)},
		{nil, map[string][]string{"tag:env": {"dev", "test"}}, pick(3)},
		{nil, map[string][]string{"tag:env": {"prod"}, "resource-id": {ifs[1].InterfaceID}}, pick(1)},
		{pick(0, 3), map[string][]string{"tag:env": {"dev"}}, pick(3)},
	} {
		res, err := r.Describe(c.ids, c.filters, 0, "")
		if err != nil {
			t.Errorf("%v %v: %v", c.ids, c.filters, err)
			continue
		}
		var got []string
		for _, l := range res.FlowLogs {
			got = append(got, l.ID)
		}
		if !slices.Equal(got, c.want) || res.NextToken != "" {
			t.Errorf("%v %v: got %v (token %q), want %v", c.ids, c.filters, got, res.NextToken, c.want)
		}
	}

	// Pages of 4 then 2; a deletion between pages does not disturb them.
	filters := map[string][]string{"deliver-log-status": {"SUCCESS"}}
	p1, err := r.Describe(nil, filters, 4, "")
	if err != nil || len(p1.FlowLogs) != 4 || p1.NextToken == "" {
		t.Fatalf("page 1: %+v %v", p1, err)
	}
	if _, err := r.Delete(pick(3)); err != nil {
		t.Fatal(err)
	}
	p2, err := r.Describe(nil, filters, 4, p1.NextToken)
	if err != nil || len(p2.FlowLogs) != 2 || p2.NextToken != "" || p2.FlowLogs[0].ID != ids[4] {
		t.Fatalf("page 2: %+v %v", p2, err)
	}
	// The last page that is exactly full has no token.
	if p, _ := r.Describe(nil, nil, 5, ""); len(p.FlowLogs) != 5 || p.NextToken != "" {
		t.Fatalf("exact page: %d logs, token %q", len(p.FlowLogs), p.NextToken)
	}

	for _, c := range []struct {
		ids     []string
		filters map[string][]string
		max     int
		token   string
		code    string
		member  string
	}{
		{nil, map[string][]string{"vpc-id": {"x"}}, 0, "", CodeInvalidParameterValue, "Filter"},
		{nil, map[string][]string{"Resource-Id": {"x"}}, 0, "", CodeInvalidParameterValue, "Filter"},
		{nil, map[string][]string{"tag:": {"x"}}, 0, "", CodeInvalidParameterValue, "Filter"},
		{nil, map[string][]string{"resource-id": nil}, 0, "", CodeInvalidParameterValue, "Filter"},
		{nil, nil, 1001, "", CodeInvalidParameterValue, "MaxResults"},
		{nil, nil, -1, "", CodeInvalidParameterValue, "MaxResults"},
		{nil, nil, 2, "garbage!", CodeInvalidPaginationToken, "NextToken"},
		{nil, map[string][]string{"traffic-type": {"ALL"}}, 4, p1.NextToken, CodeInvalidPaginationToken, "NextToken"},
		{make([]string, 1001), nil, 0, "", CodeInvalidParameterValue, "FlowLogId"},
	} {
		_, err := r.Describe(c.ids, c.filters, c.max, c.token)
		var fe *Error
		if !errors.As(err, &fe) || fe.Code != c.code || fe.Member != c.member {
			t.Errorf("%v %d %q: %v, want %s on %s", c.filters, c.max, c.token, err, c.code, c.member)
		}
	}
}

func TestRegistryDelete(t *testing.T) {
	r := newReg(t, "")
	res, _ := r.Create(s3To(ResourceNetworkInterface, "b", "eth0", "eth1"))
	v := r.Version()
	bad, err := r.Delete([]string{res.FlowLogIDs[0], "fl-0000000000000000a", res.FlowLogIDs[0]})
	if err != nil || len(bad) != 1 || bad[0].ResourceID != "fl-0000000000000000a" || bad[0].Code != CodeFlowLogNotFound ||
		bad[0].Message != "These flow log ids in the input list are not found: [TotalCount: 1] fl-0000000000000000a" {
		t.Fatalf("%+v %v", bad, err)
	}
	if logs := r.Logs(); len(logs) != 1 || logs[0].ID != res.FlowLogIDs[1] || r.Version() == v {
		t.Fatalf("after delete: %+v", logs)
	}
	v = r.Version()
	if bad, _ := r.Delete([]string{res.FlowLogIDs[0]}); len(bad) != 1 || r.Version() != v {
		t.Fatalf("deleting again: %+v, version %d -> %d", bad, v, r.Version())
	}
	// Deleted, the resource may have a log to that place again.
	if res, _ := r.Create(s3To(ResourceNetworkInterface, "b", "eth0")); len(res.FlowLogIDs) != 1 {
		t.Fatalf("recreate: %+v", res)
	}
}

func TestRegistryPersists(t *testing.T) {
	dir := t.TempDir()
	r := newReg(t, dir)
	d := s3To(ResourceNetworkInterface, "b", "eth0", "eth1")
	d.LogFormat = "${version} ${srcaddr} ${flow-direction}"
	d.DestinationOptions = DestinationOptions{FileFormat: FileParquet, PerHourPartition: true}
	d.Tags = []Tag{{"k", "v"}}
	d.ClientToken = "persisted"
	res, err := r.Create(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Delete(res.FlowLogIDs[:1]); err != nil {
		t.Fatal(err)
	}
	before := r.Logs()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != StoreFile {
		t.Fatalf("dir holds %v, want only %s", entries, StoreFile)
	}

	r2 := newReg(t, dir)
	after := r2.Logs()
	if fmt.Sprintf("%+v", after) != fmt.Sprintf("%+v", before) {
		t.Fatalf("restart:\n got  %+v\n want %+v", after, before)
	}
	if after[0].Settings.Format.String() != d.LogFormat || after[0].Settings.DestinationOptions.FileFormat != FileParquet {
		t.Errorf("settings not rebuilt: %+v", after[0].Settings)
	}
	// The token survives too; new ids do not reuse old sequence numbers.
	again, err := r2.Create(d)
	if err != nil || !slices.Equal(again.FlowLogIDs, res.FlowLogIDs) {
		t.Fatalf("token after restart: %+v %v", again, err)
	}
	if res, _ := r2.Create(s3To(ResourceSubnet, "b", DefaultSubnetID)); len(res.FlowLogIDs) != 1 {
		t.Fatal(res)
	}
	p, _ := r2.Describe(nil, nil, 1, "")
	if p2, err := r2.Describe(nil, nil, 1, p.NextToken); err != nil || len(p2.FlowLogs) != 1 || p2.FlowLogs[0].ID == p.FlowLogs[0].ID {
		t.Fatalf("pages after restart: %+v %+v %v", p, p2, err)
	}

	// An interface renamed away leaves the log with no interface, not an
	// error.
	other, err := NewRegistry(dir, []Interface{DefaultInterface("other")}, nil)
	if err != nil || len(other.Logs()) != 2 || len(other.Logs()[0].Interfaces) != 0 {
		t.Fatalf("other interfaces: %v", err)
	}

	if err := os.WriteFile(filepath.Join(dir, StoreFile), []byte(`{"logs": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRegistry(dir, nil, nil); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, StoreFile)) || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, StoreFile), []byte(`{"logs": [{"id": "fl-1", "definition": {"ResourceType": "VPC"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRegistry(dir, nil, nil); err == nil || !strings.Contains(err.Error(), StoreFile) || !strings.Contains(err.Error(), "ResourceId") {
		t.Fatalf("invalid definition in the file: %v", err)
	}
}

// TestRegistryConcurrent runs creators, deleters and readers at once (for
// go test -race); every id created is either deleted or still there.
func TestRegistryConcurrent(t *testing.T) {
	r := newReg(t, t.TempDir())
	var wg sync.WaitGroup
	var mu sync.Mutex
	kept := map[string]bool{}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				res, err := r.Create(s3To(ResourceNetworkInterface, fmt.Sprintf("b-%d-%d", w, i), "eth0"))
				if err != nil || len(res.FlowLogIDs) != 1 {
					t.Errorf("%+v %v", res, err)
					return
				}
				id := res.FlowLogIDs[0]
				if i%2 == 0 {
					if bad, err := r.Delete([]string{id}); err != nil || len(bad) != 0 {
						t.Errorf("%+v %v", bad, err)
					}
				} else {
					mu.Lock()
					kept[id] = true
					mu.Unlock()
				}
				r.Logs()
				r.Version()
				if _, err := r.Describe(nil, map[string][]string{"resource-id": {"eth0"}}, 3, ""); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	logs := r.Logs()
	if len(logs) != len(kept) {
		t.Fatalf("%d logs, want %d", len(logs), len(kept))
	}
	for _, l := range logs {
		if !kept[l.ID] {
			t.Errorf("%s should be gone", l.ID)
		}
	}
}
