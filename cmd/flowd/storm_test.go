package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"

	"github.com/flowd/flowd/api"
)

// stormSDKBound is the worst latency TestServeRequestStorm allows a
// well-behaved SDK call (default retries) while 10 000 requests arrive at
// once. Measured on 2 shared cores: the storm is answered in 1-3 s, and the
// worst SDK call during it took 0.8-2.1 s (median about 1 s; 3-15 ms
// before the storm), queued behind the storm for the CPU; the bound leaves
// room for a loaded machine.
const stormSDKBound = 5 * time.Second

// TestServeRequestStorm opens 10 000 connections to a real flowd serve on
// loopback, holds them all open, then sends a ListFlowOperations on every
// one at the same moment. Every request gets 200, or, past flowd's bound of
// 256 requests being served at once, 503 ThrottlingException with
// Retry-After, never anything else, and no connection fails; flowd stays
// up; and a well-behaved SDK client calling meanwhile stays under
// stormSDKBound. (A ListFlowOperations takes about 0.1 ms, so on 2 cores
// the bound is not reached and all 10 000 get 200; TestConcurrencyLimit in
// api holds requests to prove the 503.)
func TestServeRequestStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10 000 connections")
	}
	const clients = 10_000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); lim.Cur < clients+1000 {
		t.Skipf("open-file limit %d: too low for %d connections", lim.Cur, clients)
	}
	bin := buildFlowd(t)
	dir := t.TempDir()
	pcap, _ := writeGenPcapTruth(t, dir)
	url, stop := startServeWithin(t, 20*time.Second, bin, "--pcap", "edge="+pcap)
	defer stop()
	addr := strings.TrimPrefix(url, "http://")

	client := nfwClient(url) // default retries: 3 attempts with backoff
	var newConns, reused atomic.Int64
	var connectWorst atomic.Int64
	call := func() (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var dialAt time.Time
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			ConnectStart: func(string, string) { dialAt = time.Now() },
			ConnectDone: func(string, string, error) {
				if d := int64(time.Since(dialAt)); d > connectWorst.Load() {
					connectWorst.Store(d)
				}
			},
			GotConn: func(i httptrace.GotConnInfo) {
				if i.Reused {
					reused.Add(1)
				} else {
					newConns.Add(1)
				}
			},
		})
		start := time.Now()
		_, err := client.ListFlowOperations(ctx, &nfw.ListFlowOperationsInput{FirewallArn: aws.String(api.DefaultFirewallArn)})
		return time.Since(start), err
	}
	var baseline time.Duration
	for range 5 {
		d, err := call()
		if err != nil {
			t.Fatal(err)
		}
		baseline = max(baseline, d)
	}

	// Open every connection first (a bounded number of dials in flight,
	// to stay within the listen backlog), then send on all at once.
	req := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: NetworkFirewall_20201112.ListFlowOperations\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		addr, len(`{"FirewallArn":"`+api.DefaultFirewallArn+`"}`), `{"FirewallArn":"`+api.DefaultFirewallArn+`"}`)
	var (
		dialed, ok, throttled, other, failed atomic.Int64
		otherSaid                            sync.Map
		ready, done                          sync.WaitGroup
	)
	fire := make(chan struct{})
	dialers := make(chan struct{}, 256)
	ready.Add(clients)
	done.Add(clients)
	for range clients {
		go func() {
			defer done.Done()
			dialers <- struct{}{}
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			<-dialers
			ready.Done()
			if err != nil {
				failed.Add(1)
				otherSaid.Store("dial: "+err.Error(), true)
				return
			}
			defer c.Close()
			dialed.Add(1)
			<-fire
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.WriteString(c, req); err != nil {
				failed.Add(1)
				otherSaid.Store("write: "+err.Error(), true)
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				failed.Add(1)
				otherSaid.Store("read: "+err.Error(), true)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == 200:
				ok.Add(1)
			case resp.StatusCode == 503 && strings.Contains(string(b), "ThrottlingException") && resp.Header.Get("Retry-After") == "1":
				throttled.Add(1)
			default:
				other.Add(1)
				otherSaid.Store(fmt.Sprintf("%d %s", resp.StatusCode, b), true)
			}
		}()
	}
	dialStart := time.Now()
	ready.Wait()
	dialTime := time.Since(dialStart)

	// The well-behaved client calls every 10 ms from just before the storm
	// until it is over.
	var lat []time.Duration
	var sdkErrs []error
	stormDone := make(chan struct{})
	sdkDone := make(chan struct{})
	go func() {
		defer close(sdkDone)
		for {
			d, err := call()
			lat = append(lat, d)
			if err != nil {
				sdkErrs = append(sdkErrs, err)
			}
			select {
			case <-stormDone:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	stormStart := time.Now()
	close(fire)
	done.Wait()
	stormTime := time.Since(stormStart)
	close(stormDone)
	<-sdkDone

	var said []string
	otherSaid.Range(func(k, _ any) bool { said = append(said, k.(string)); return len(said) < 5 })
	slices.Sort(lat)
	t.Logf("%d connections open at once (opened in %v); storm answered in %v: %d OK, %d 503 ThrottlingException, %d other, %d failed %q",
		dialed.Load(), dialTime.Round(time.Millisecond), stormTime.Round(time.Millisecond), ok.Load(), throttled.Load(), other.Load(), failed.Load(), said)
	t.Logf("well-behaved SDK calls during the storm: %d, baseline worst %v, median %v, p99 %v, worst %v (bound %v)",
		len(lat), baseline.Round(time.Microsecond), pct(lat, 50), pct(lat, 99), pct(lat, 100), stormSDKBound)
	t.Logf("SDK connections: %d new, %d reused; slowest connect %v", newConns.Load(), reused.Load(), time.Duration(connectWorst.Load()))
	if dialed.Load() != clients || failed.Load() != 0 || other.Load() != 0 {
		t.Errorf("every connection must open and get 200 or 503 Throttling: %d opened, %d failed, %d other answers", dialed.Load(), failed.Load(), other.Load())
	}
	if ok.Load()+throttled.Load() != clients || ok.Load() < 256 {
		t.Errorf("%d OK + %d throttled of %d", ok.Load(), throttled.Load(), clients)
	}
	if len(sdkErrs) > 0 {
		t.Errorf("%d of %d well-behaved calls failed, first: %v", len(sdkErrs), len(lat), sdkErrs[0])
	}
	if w := pct(lat, 100); w > stormSDKBound {
		t.Errorf("a well-behaved call took %v during the storm, past the bound of %v", w, stormSDKBound)
	}
	// flowd is still up and serving.
	if st, err := httpGet(url + "/healthz"); err != nil {
		t.Errorf("/healthz after the storm: %v %s", err, st)
	}
	if _, err := call(); err != nil {
		t.Errorf("a call after the storm: %v", err)
	}
}

// pct is the p-th percentile of sorted d.
func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[(len(d)-1)*p/100]
}
