package flowlog

import (
	"net/netip"
	"testing"
	"time"
)

func TestWindowStart(t *testing.T) {
	for _, c := range []struct {
		unix int64
		iv   time.Duration
		want int64
	}{
		{1418530010, time.Minute, 1418529960},
		{1418530010, 10 * time.Minute, 1418529600},
		{600, 10 * time.Minute, 600},
		{599, 10 * time.Minute, 0},
		{-1, time.Minute, -60},
		{-60, time.Minute, -60},
		{42, 0, 42},
	} {
		if got := WindowStart(c.unix, c.iv); got != c.want {
			t.Errorf("WindowStart(%d, %v) = %d, want %d", c.unix, c.iv, got, c.want)
		}
	}
}

// TestInterfaceRecords builds the two records of the AWS version 5 example
// from packets and checks their text.
func TestInterfaceRecords(t *testing.T) {
	eni := Interface{
		AccountID: "123456789012", InterfaceID: "eni-1235b8ca123456789", VPCID: "vpc-abcdefab012345678",
		SubnetID: "subnet-aaaaaaaa012345678", InstanceID: "i-0c50d5961bcb2d47b", Region: "ap-southeast-2",
		AZID: "apse2-az3", Local: []netip.Addr{netip.MustParseAddr("10.0.0.71")},
	}
	s3 := netip.MustParseAddr("52.95.128.179")
	local := netip.MustParseAddr("10.0.0.71")
	var in, out Tally
	// Request: SYN, then data, then FIN; response: SYN-ACK, data, FIN.
	out.Add(1616729292, 60, fSYN)
	in.Add(1616729292, 60, fSYN|fACK)
	for i := range 5 {
		out.Add(1616729300+int64(i), 81, fACK|fPSH)
	}
	for i := range 12 {
		in.Add(1616729300+int64(i), 1240, fACK)
	}
	out.Add(1616729349, 6, fFIN|fACK)
	in.Add(1616729349, 104, fFIN|fACK)
	f := MustParseFormat(awsExamples[len(awsExamples)-1].format)
	var r Record
	if !eni.Record(&r, FlowDir{Src: s3, Dst: local, SrcPort: 80, DstPort: 34210, Protocol: 6}, &in, ActionAccept) {
		t.Fatal("no record for the response")
	}
	r.PktSrcAWSService = "S3"
	want := "5 52.95.128.179 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 19 52.95.128.179 10.0.0.71 S3 - - ingress OK"
	if got := string(f.AppendText(nil, &r)); got != want {
		t.Errorf("ingress:\n got %s\nwant %s", got, want)
	}
	eni.Record(&r, FlowDir{Src: local, Dst: s3, SrcPort: 34210, DstPort: 80, Protocol: 6}, &out, ActionAccept)
	r.PktDstAWSService, r.TrafficPath = "S3", 8
	want = "5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK"
	if got := string(f.AppendText(nil, &r)); got != want {
		t.Errorf("egress:\n got %s\nwant %s", got, want)
	}
	var empty Tally
	if eni.Record(&r, FlowDir{Src: local, Dst: s3}, &empty, ActionAccept) {
		t.Error("a record for a direction without packets")
	}
	eni.Status(&r, LogNoData, 1431280876, 1431280934)
	want = "2 123456789012 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"
	if got := string(Format{}.AppendText(nil, &r)); got != want {
		t.Errorf("NODATA:\n got %s\nwant %s", got, want)
	}
	if d := eni.Direction(s3, netip.MustParseAddr("10.9.9.9")); d != DirectionUnknown {
		t.Errorf("foreign traffic: %v", d)
	}
	if d := eni.Direction(netip.MustParseAddr("::ffff:10.0.0.71"), s3); d != DirectionEgress {
		t.Errorf("mapped local address: %v", d)
	}
}

func TestTallyMerge(t *testing.T) {
	var a, b, whole Tally
	pkts := []struct {
		t     int64
		n     uint32
		flags uint8
	}{{100, 60, fSYN}, {90, 52, fACK}, {130, 1500, fACK}, {95, 40, fFIN | fACK}}
	for i, p := range pkts {
		whole.Add(p.t, p.n, p.flags)
		if i%2 == 0 {
			a.Add(p.t, p.n, p.flags)
		} else {
			b.Add(p.t, p.n, p.flags)
		}
	}
	a.Merge(b)
	if a != whole {
		t.Errorf("merged %+v, want %+v", a, whole)
	}
	if whole.First != 90 || whole.Last != 130 || whole.Flags != 3 || whole.Bytes != 1652 {
		t.Errorf("tally %+v", whole)
	}
	var empty Tally
	empty.Merge(whole)
	if empty != whole {
		t.Errorf("merge into empty: %+v", empty)
	}
}

func TestWindowAllocs(t *testing.T) {
	eni := Interface{AccountID: "1", InterfaceID: "eni-1", Local: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}
	d := FlowDir{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 1, DstPort: 2, Protocol: 6}
	var tl Tally
	var r Record
	if n := testing.AllocsPerRun(1000, func() {
		tl.Add(1, 60, fSYN)
		eni.Record(&r, d, &tl, ActionAccept)
	}); n != 0 {
		t.Errorf("%v allocs", n)
	}
}
