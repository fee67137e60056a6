package flowlog_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/flowd/flowd/flowlog"
)

func ExampleFormat_AppendText() {
	f, err := flowlog.ParseFormat("${version} ${srcaddr} ${dstaddr} ${tcp-flags} ${flow-direction} ${log-status}")
	if err != nil {
		panic(err)
	}
	eni := flowlog.Interface{InterfaceID: "eni-1", Local: []netip.Addr{netip.MustParseAddr("10.0.0.62")}}
	var t flowlog.Tally
	t.Add(1566848875, 60, 0x12) // SYN-ACK
	t.Add(1566848933, 52, 0x10) // ACK
	var r flowlog.Record
	eni.Record(&r, flowlog.FlowDir{
		Src: netip.MustParseAddr("10.0.0.62"), Dst: netip.MustParseAddr("52.213.180.42"),
		SrcPort: 5001, DstPort: 43416, Protocol: 6,
	}, &t, flowlog.ActionAccept)
	fmt.Println(f.Header())
	fmt.Println(string(f.AppendText(nil, &r)))
	// Output:
	// version srcaddr dstaddr tcp-flags flow-direction log-status
	// 5 10.0.0.62 52.213.180.42 18 egress OK
}

func ExampleS3Writer() {
	dir, _ := os.MkdirTemp("", "flowlog")
	defer os.RemoveAll(dir)
	def := flowlog.Definition{
		ResourceType: "NetworkInterface", ResourceIds: []string{"eni-1"}, TrafficType: "ALL",
		LogDestinationType: "s3", LogDestination: "arn:aws:s3:::my-bucket/flows/",
		DestinationOptions: flowlog.DestinationOptions{HiveCompatiblePartitions: true},
	}
	s, err := def.Settings()
	if err != nil {
		panic(err)
	}
	w, err := flowlog.NewS3Writer(flowlog.S3Config{
		Store: flowlog.DirStore{Root: dir}, Destination: s.S3,
		AccountID: "123456789012", Region: "us-east-1", FlowLogID: "fl-1234abcd",
		Format: s.Format, Options: s.DestinationOptions,
	})
	if err != nil {
		panic(err)
	}
	eni := flowlog.Interface{AccountID: "123456789012", InterfaceID: "eni-1"}
	var r flowlog.Record
	eni.Status(&r, flowlog.LogNoData, 1529511600, 1529511659) // 2018-06-20 16:20
	if err := w.Write(&r); err != nil {
		panic(err)
	}
	if err := w.Rotate(time.Unix(1529511900, 0)); err != nil { // 16:25: the 16:20 object is due
		panic(err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "my-bucket", "flows", "AWSLogs", "*", "*", "*", "*", "*", "*", "*.log.gz"))
	for _, m := range matches {
		rel, _ := filepath.Rel(dir, filepath.Dir(m))
		fmt.Println(filepath.ToSlash(rel))
	}
	// Output:
	// my-bucket/flows/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2018/month=06/day=20
}
