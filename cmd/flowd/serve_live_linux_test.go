package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"

	"github.com/flowd/flowd/internal/testnet"
)

// TestServeLiveConcurrentCaptures runs flowd serve on one end of a veth
// pair with two AF_PACKET workers while traffic flows, and has four SDK
// clients run flow captures at once: each completes (or is throttled, as one
// operation per zone at a time must be) and sees the live flows; /status
// reports the interface as one source with both sockets capturing inside;
// SIGTERM exits 0.
func TestServeLiveConcurrentCaptures(t *testing.T) {
	testnet.Require(t)
	bin := buildFlowd(t)
	p := testnet.NewPair(t, testnet.Options{})
	cmd := p.B.Command(bin, "serve", "--iface", p.IfB, "--workers", "2", "--listen", "127.0.0.1:0", "--poll-interval", "20ms")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stderr)
	url := ""
	for url == "" && lines.Scan() {
		if _, rest, ok := strings.Cut(lines.Text(), "listening on "); ok {
			url, _, _ = strings.Cut(rest, " ")
		}
	}
	if url == "" {
		t.Fatal("flowd serve never said where it listens")
	}
	go io.Copy(io.Discard, stderr)
	// flowd listens on B's loopback: dial from inside B.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		err = p.B.Do(func() (err error) {
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}}

	// Traffic: 8 UDP flows from A to B:9000 until the test ends.
	stop := make(chan struct{})
	var sent atomic.Uint64
	var senders sync.WaitGroup
	for range 8 {
		var conn *net.UDPConn
		if err := p.A.Do(func() (err error) {
			conn, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: p.AddrB.AsSlice(), Port: 9000})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		senders.Add(1)
		go func() {
			defer senders.Done()
			defer conn.Close()
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
					if _, err := conn.Write(make([]byte, 64)); err == nil {
						sent.Add(1)
					}
				}
			}
		}()
	}
	defer func() { close(stop); senders.Wait() }()

	client := nfw.New(nfw.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	arn := aws.String("arn:aws:network-firewall:us-east-1:123456789012:firewall/flowd")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	time.Sleep(200 * time.Millisecond)
	var completed, throttled atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < 3; {
				out, err := client.StartFlowCapture(ctx, &nfw.StartFlowCaptureInput{FirewallArn: arn,
					FlowFilters: []types.FlowFilter{{DestinationPort: aws.String("9000")}}})
				var thr *types.ThrottlingException
				if errors.As(err, &thr) {
					throttled.Add(1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				for {
					d, err := client.DescribeFlowOperation(ctx, &nfw.DescribeFlowOperationInput{FirewallArn: arn, FlowOperationId: out.FlowOperationId})
					if err != nil {
						t.Error(err)
						return
					}
					if d.FlowOperationStatus != types.FlowOperationStatusInProgress {
						if d.FlowOperationStatus != types.FlowOperationStatusCompleted {
							t.Errorf("capture ended %s", d.FlowOperationStatus)
						}
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				res, err := client.ListFlowOperationResults(ctx, &nfw.ListFlowOperationResultsInput{FirewallArn: arn, FlowOperationId: out.FlowOperationId})
				if err != nil {
					t.Error(err)
					return
				}
				if len(res.Flows) != 8 {
					var fs []string
					for _, f := range res.Flows {
						fs = append(fs, aws.ToString(f.SourceAddress.AddressDefinition)+":"+aws.ToString(f.SourcePort)+">"+aws.ToString(f.DestinationAddress.AddressDefinition)+":"+aws.ToString(f.DestinationPort))
					}
					t.Errorf("a capture saw %d flows to port 9000, want the 8 live ones: %v", len(res.Flows), fs)
				}
				completed.Add(1)
				done++
			}
		}()
	}
	wg.Wait()
	if completed.Load() != 12 {
		t.Fatalf("%d captures completed, want 12 (%d throttled)", completed.Load(), throttled.Load())
	}

	resp, err := hc.Get(url + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Sources []struct {
			Name     string
			Live     bool
			Packets  uint64
			Received uint64
			State    string
			Sockets  []struct {
				Packets uint64
				State   string
			}
		}
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	// One source for the interface, its two sockets inside.
	if len(st.Sources) != 1 {
		t.Fatalf("status: %d sources, want one for %s: %+v", len(st.Sources), p.IfB, st.Sources)
	}
	s := st.Sources[0]
	var captured uint64
	for _, k := range s.Sockets {
		if k.State != "capturing" {
			t.Errorf("socket %+v", k)
		}
		captured += k.Packets
	}
	if s.Name != p.IfB || !s.Live || s.State != "capturing" || len(s.Sockets) != 2 || captured != s.Packets || captured == 0 {
		t.Errorf("status: source %+v; want %s capturing, 2 sockets capturing whose frames (%d) sum to the source's", s, p.IfB, captured)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("flowd serve on SIGTERM: %v", err)
	}
	t.Logf("%d captures completed, %d throttled, %d datagrams sent", completed.Load(), throttled.Load(), sent.Load())
}
