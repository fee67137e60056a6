package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flowd/flowd/internal/testminio"
)

// startServe starts flowd serve with args and returns its API URL; the
// process is killed at cleanup. stop sends SIGTERM and waits for it.
func startServe(t *testing.T, bin string, args ...string) (url string, stop func()) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	lines := bufio.NewScanner(stderr)
	var said []string
	for lines.Scan() {
		said = append(said, lines.Text())
		if _, rest, ok := strings.Cut(lines.Text(), "listening on "); ok {
			url, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	if url == "" {
		t.Fatalf("flowd serve never said where it listens:\n%s", strings.Join(said, "\n"))
	}
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(stderr)
		rest <- string(b)
	}()
	return url, func() {
		t.Helper()
		cmd.Process.Signal(syscall.SIGTERM)
		out := <-rest
		if err := cmd.Wait(); err != nil {
			t.Fatalf("flowd serve: %v\n%s", err, out)
		}
		t.Logf("flowd serve said:\n%s", out)
	}
}

// ec2Client is the official EC2 client aimed at a flowd.
func ec2Client(url string) *ec2.Client {
	return ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
}

// TestServeFlowLogs creates three flow logs (s3, cloud-watch-logs,
// kinesis-data-firehose) with the official EC2 client against a flowd serve
// with --data-dir, restarts flowd on a capture with the same --data-dir
// (the definitions survive, and a log read back at start records from the
// start), and requires every destination's records to sum to the flows'
// per-direction counters.
func TestServeFlowLogs(t *testing.T) {
	bin := buildFlowd(t)
	dir := t.TempDir()
	pcap, tr := writeGenPcapTruth(t, dir)
	total := truthByDirection(tr).total()
	data := filepath.Join(dir, "data")

	url, stop := startServe(t, bin, "--data-dir", data, "--pcap", "edge="+pcap)
	client := ec2Client(url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eni := "edge" // a source's name is an alias of its interface id
	creates := []*ec2.CreateFlowLogsInput{
		{LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String("arn:aws:s3:::flows/edge"),
			MaxAggregationInterval: aws.Int32(60), DestinationOptions: &ec2types.DestinationOptionsRequest{
				FileFormat: ec2types.DestinationFileFormatPlainText, HiveCompatiblePartitions: aws.Bool(true)}},
		{LogDestinationType: ec2types.LogDestinationTypeCloudWatchLogs, LogGroupName: aws.String("vpc-flows"),
			DeliverLogsPermissionArn: aws.String("arn:aws:iam::123456789012:role/flow-logs")},
		{LogDestinationType: ec2types.LogDestinationTypeKinesisDataFirehose,
			LogDestination: aws.String("arn:aws:firehose:us-east-1:123456789012:deliverystream/flows")},
	}
	for _, in := range creates {
		in.ResourceIds, in.ResourceType, in.TrafficType = []string{eni}, ec2types.FlowLogsResourceTypeNetworkInterface, ec2types.TrafficTypeAll
		out, err := client.CreateFlowLogs(ctx, in)
		if err != nil {
			t.Fatalf("CreateFlowLogs %s: %v", in.LogDestinationType, err)
		}
		if len(out.FlowLogIds) != 1 || len(out.Unsuccessful) != 0 {
			t.Fatalf("CreateFlowLogs %s: ids %v, unsuccessful %+v", in.LogDestinationType, out.FlowLogIds, out.Unsuccessful)
		}
	}
	stop()

	url, stop = startServe(t, bin, "--data-dir", data, "--pcap", "edge="+pcap)
	desc, err := ec2Client(url).DescribeFlowLogs(ctx, &ec2.DescribeFlowLogsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.FlowLogs) != 3 {
		t.Fatalf("after a restart, %d flow logs described, want 3", len(desc.FlowLogs))
	}
	waitDone(t, url)
	if m, err := httpGet(url + "/metrics"); err != nil || !strings.Contains(string(m), `flowd_output_events_total{output="flow logs"}`) {
		t.Errorf("/metrics has no flow logs output series (%v)", err)
	}
	stop()

	// s3: gzip text objects at Hive keys under --data-dir's s3/.
	var got [3]struct{ pkts, bytes uint64 }
	objs := objects(t, filepath.Join(data, "s3", "flows", "edge", "AWSLogs"), ".log.gz")
	if len(objs) == 0 {
		t.Fatal("no s3 objects")
	}
	for _, o := range objs {
		if !strings.Contains(o, "aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2025/") {
			t.Errorf("object %s is not at a Hive key", o)
		}
		for _, line := range gzipLines(t, o)[1:] {
			sumRecord(&got[0].pkts, &got[0].bytes, strings.Fields(line))
		}
	}
	// cloud-watch-logs: JSON events in the interface's stream.
	logs := objects(t, filepath.Join(data, "cloudwatch-logs", "vpc-flows"), "-all")
	if len(logs) != 1 {
		t.Fatalf("cloud-watch-logs streams %v, want one", logs)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev struct{ Message string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		sumRecord(&got[1].pkts, &got[1].bytes, strings.Fields(ev.Message))
	}
	// kinesis-data-firehose: text lines.
	b, err = os.ReadFile(filepath.Join(data, "firehose", "flows"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		sumRecord(&got[2].pkts, &got[2].bytes, strings.Fields(line))
	}
	for i, name := range []string{"s3", "cloud-watch-logs", "kinesis-data-firehose"} {
		if got[i].pkts != total.pkts || got[i].bytes != total.bytes {
			t.Errorf("%s: records sum to %d packets %d bytes, flows to %d %d", name, got[i].pkts, got[i].bytes, total.pkts, total.bytes)
		}
	}
}

// sumRecord adds a default-format OK record's packets and bytes.
func sumRecord(pkts, bytes *uint64, f []string) {
	if len(f) < 14 || f[13] != "OK" {
		return
	}
	p, _ := strconv.ParseUint(f[8], 10, 64)
	b, _ := strconv.ParseUint(f[9], 10, 64)
	*pkts += p
	*bytes += b
}

// waitDone waits until /status says every source is read.
func waitDone(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct{ Done bool }
		if resp, err := httpGet(url + "/status"); err == nil {
			json.Unmarshal(resp, &st)
		}
		if st.Done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the capture was not read in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gzipLines returns the lines of a gzip file.
func gzipLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func httpGet(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// TestServeFlowLogsS3 writes a flow log to a real MinIO with --s3-endpoint,
// through an outage: MinIO is down while flowd replays the capture, so
// flowd stops with the objects spooled under --data-dir; flowd then starts
// again with MinIO back and uploads them. The objects, listed and read with
// the S3 client, sum to the flows.
func TestServeFlowLogsS3(t *testing.T) {
	bin := buildFlowd(t)
	mc := testminio.Start(t)
	mc.CreateBucket("flows")
	dir := t.TempDir()
	pcap, tr := writeGenPcapTruth(t, dir)
	total := truthByDirection(tr).total()
	data := filepath.Join(dir, "data")
	t.Setenv("AWS_ACCESS_KEY_ID", mc.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", mc.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	args := []string{"--data-dir", data, "--s3-endpoint", mc.Endpoint, "--s3-upload-wait", "2s"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The definition, made while flowd serves the capture.
	url, stop := startServe(t, bin, append(args, "--pcap", "edge="+pcap)...)
	if _, err := ec2Client(url).CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{ResourceIds: []string{"edge"},
		ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, TrafficType: ec2types.TrafficTypeAll,
		LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String("arn:aws:s3:::flows/a"),
		MaxAggregationInterval: aws.Int32(60)}); err != nil {
		t.Fatal(err)
	}
	stop()

	// MinIO down: the replay's objects stay in the spool.
	mc.Stop()
	url, stop = startServe(t, bin, append(args, "--pcap", "edge="+pcap)...)
	waitDone(t, url)
	stop()
	spooled := objects(t, filepath.Join(data, "s3-spool"), ".obj")
	if len(spooled) == 0 {
		t.Fatal("nothing spooled while MinIO was down")
	}

	// MinIO back: a flowd on the same --data-dir uploads the spool.
	mc.Restart()
	_, stop = startServe(t, bin, args...)
	deadline := time.Now().Add(30 * time.Second)
	for len(objects(t, filepath.Join(data, "s3-spool"), ".obj")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the spool was not uploaded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()

	cl := mc.Client()
	list, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("flows"), Prefix: aws.String("a/AWSLogs/123456789012/vpcflowlogs/us-east-1/2025/01/01/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != len(spooled) {
		t.Errorf("%d objects in the bucket, %d were spooled", len(list.Contents), len(spooled))
	}
	var pkts, bytes uint64
	for _, o := range list.Contents {
		obj, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("flows"), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(obj.Body)
		if err != nil {
			t.Fatalf("%s: %v", *o.Key, err)
		}
		b, err := io.ReadAll(zr)
		obj.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
			sumRecord(&pkts, &bytes, strings.Fields(line))
		}
	}
	if pkts != total.pkts || bytes != total.bytes {
		t.Errorf("objects in MinIO sum to %d packets %d bytes, flows to %d %d", pkts, bytes, total.pkts, total.bytes)
	}
}

// TestLiveFlowLogInterface: a live source's local addresses are the host's
// on that interface, so loopback traffic is egress from 127.0.0.1.
func TestLiveFlowLogInterface(t *testing.T) {
	in := liveFlowLogInterface("lo")
	if !slices.Contains(in.Local, netip.MustParseAddr("127.0.0.1")) {
		t.Skipf("lo has addresses %v here, not 127.0.0.1", in.Local)
	}
	if d := in.Direction(netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.0.2.1")); d.String() != "egress" {
		t.Errorf("direction from 127.0.0.1: %v", d)
	}
	if in.InterfaceID == "" || in.Name != "lo" {
		t.Errorf("interface %+v", in)
	}
	if got := liveFlowLogInterface("no-such-if0"); len(got.Local) != 0 {
		t.Errorf("unknown interface has local addresses %v", got.Local)
	}
}

// TestConfigIfaceMetadata: a config file's iface list takes names and
// mappings with an interface's flow log metadata; an unknown key is an
// error naming it.
func TestConfigIfaceMetadata(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flowd.yaml")
	os.WriteFile(path, []byte("iface:\n  - eth0\n  - name: eth1\n    interface-id: eni-0123456789abcdef0\n    local-addresses: [10.1.2.3]\n"), 0o644)
	var o serveOpts
	fs := newServeFlags(&o)
	if err := loadConfig(fs.FlagSet, path); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.lf.ifaces, listFlag{"eth0", "eth1"}) {
		t.Fatalf("ifaces %v", o.lf.ifaces)
	}
	in, err := o.lf.meta["eth1"].apply(liveFlowLogInterface("eth1"))
	if err != nil || in.InterfaceID != "eni-0123456789abcdef0" || !slices.Equal(in.Local, []netip.Addr{netip.MustParseAddr("10.1.2.3")}) {
		t.Errorf("eth1: %+v, %v", in, err)
	}
	os.WriteFile(path, []byte("iface:\n  - name: eth1\n    subnet: x\n"), 0o644)
	var o2 serveOpts
	if err := loadConfig(newServeFlags(&o2).FlagSet, path); err == nil || !strings.Contains(err.Error(), `"subnet"`) {
		t.Errorf("unknown key: %v", err)
	}
}
