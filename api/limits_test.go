package api_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"

	"github.com/flowd/flowd/api"
)

const listTarget = "NetworkFirewall_20201112.ListFlowOperations"

var listBody = `{"FirewallArn":"` + api.DefaultFirewallArn + `"}`

func TestConcurrencyLimit(t *testing.T) {
	b := &fakeBackend{hold: make(chan struct{}), entered: make(chan struct{}, 2)}
	srv, err := api.New(api.Config{Backend: b, Limits: api.Limits{MaxConcurrent: 2}})
	if err != nil {
		t.Fatal(err)
	}
	url := listen(t, srv)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { rawCall(t, url, listTarget, listBody) })
	}
	for range 2 {
		select {
		case <-b.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the held requests never reached the backend")
		}
	}
	// Both slots are held: the next request is turned away at once.
	status, hdr, body := rawCall(t, url, listTarget, listBody)
	typ, msg := jsonErr(t, body)
	if status != 503 || typ != api.Throttling || hdr.Get("Retry-After") != "1" || !strings.Contains(msg, "2 API requests are already being served") {
		t.Errorf("past the limit: %d %s %q, Retry-After %q", status, typ, msg, hdr.Get("Retry-After"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = newClient(url, 1).ListFlowOperations(ctx, &nfw.ListFlowOperationsInput{FirewallArn: firewall})
	var thr *types.ThrottlingException
	if !errors.As(err, &thr) {
		t.Errorf("SDK past the limit: %v, want a ThrottlingException", err)
	}
	// The probes are not counted against the limit.
	if status, _ := get(t, url+"/healthz"); status != 200 {
		t.Errorf("/healthz while the API is full: %d", status)
	}
	b.mu.Lock()
	hold := b.hold
	b.hold, b.entered = nil, nil
	b.mu.Unlock()
	close(hold)
	wg.Wait()
	if status, _, body := rawCall(t, url, listTarget, listBody); status != 200 {
		t.Errorf("after the slots were released: %d %s", status, body)
	}
}

// TestSlowBodies opens 2000 connections that send their headers and then
// trickle their bodies, and measures what a well-behaved SDK client sees
// meanwhile. The server runs with the recommended limits but a read
// timeout of 2 s, so that the test ends by itself.
func TestSlowBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2000 connections")
	}
	const (
		slowClients = 2000
		readTimeout = 2 * time.Second
		callBound   = 2 * time.Second // the bound asserted; the figure logged is far lower
	)
	srv, err := api.New(api.Config{Backend: &fakeBackend{}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := api.Limits{ReadTimeout: readTimeout, ReadHeaderTimeout: time.Second}
	hs := api.NewHTTPServer(srv, lim)
	go hs.Serve(api.LimitListener(ln, lim))
	defer hs.Close()
	url := "http://" + ln.Addr().String()
	client := newClient(url, 1)
	call := func() time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		if _, err := client.ListFlowOperations(ctx, &nfw.ListFlowOperationsInput{FirewallArn: firewall}); err != nil {
			t.Errorf("well-behaved call: %v", err)
		}
		return time.Since(start)
	}
	baseline := call()

	// The slow clients: headers at once, then a byte of body every 100 ms,
	// never finishing (Content-Length 1 MiB), until the server hangs up.
	// One in four trickles its headers instead.
	stop := make(chan struct{})
	var connected, cut, finished atomic.Int64
	var cutAfter sync.Map // conn index -> time from connect to cut
	var wg sync.WaitGroup
	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: %s\r\nContent-Length: %d\r\n\r\n{",
		ln.Addr(), listTarget, 1<<20)
	dialers := make(chan struct{}, 64) // dials in flight, to stay within the listen backlog
	for i := range slowClients {
		wg.Go(func() {
			defer finished.Add(1)
			dialers <- struct{}{}
			c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
			<-dialers
			if err != nil {
				return
			}
			defer c.Close()
			connected.Add(1)
			start := time.Now()
			first := head
			if i%4 == 0 {
				first = head[:strings.Index(head, "X-Amz-Target")] + "X-Slow: "
			}
			if _, err := c.Write([]byte(first)); err != nil {
				return
			}
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for range 100 { // 10 s at most
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write([]byte("a")); err != nil {
					cut.Add(1)
					cutAfter.Store(i, time.Since(start))
					return
				}
			}
		})
	}
	// While they trickle, the well-behaved client calls every 50 ms, until
	// every slow client is done (each stops by itself within 15 s).
	deadline := time.Now().Add(20 * time.Second)
	var lat []time.Duration
	for time.Now().Before(deadline) && finished.Load() < slowClients {
		lat = append(lat, call())
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	slices.Sort(lat)
	worst, median := lat[len(lat)-1], lat[len(lat)/2]
	var cuts []time.Duration
	cutAfter.Range(func(_, v any) bool { cuts = append(cuts, v.(time.Duration)); return true })
	slices.Sort(cuts)
	t.Logf("%d slow clients connected, %d cut off by the server (first after %v, median %v, last %v); well-behaved calls: %d, baseline %v, median %v, worst %v",
		connected.Load(), cut.Load(), pct(cuts, 0), pct(cuts, 50), pct(cuts, 100), len(lat), baseline, median, worst)
	if connected.Load() < slowClients*9/10 {
		t.Errorf("only %d of %d slow clients connected", connected.Load(), slowClients)
	}
	if worst > callBound {
		t.Errorf("a well-behaved call took %v under %d slow clients, past the bound of %v", worst, slowClients, callBound)
	}
	// Every slow client that got its headers in is cut off about
	// ReadTimeout after: none outlives it by seconds.
	if cut.Load() < connected.Load()*9/10 {
		t.Errorf("only %d of %d slow clients were cut off", cut.Load(), connected.Load())
	}
	if last := pct(cuts, 100); last > readTimeout+2*time.Second {
		t.Errorf("a slow client was cut off only after %v (read timeout %v)", last, readTimeout)
	}
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[(len(d)-1)*p/100]
}

func TestLimitListener(t *testing.T) {
	srv, err := api.New(api.Config{Backend: &fakeBackend{}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := api.Limits{MaxConns: 3}
	hs := api.NewHTTPServer(srv, lim)
	go hs.Serve(api.LimitListener(ln, lim))
	defer hs.Close()
	addr := ln.Addr().String()
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// The fourth is closed as soon as it is accepted.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection past the bound: read %d, %v; want it closed", n, err)
	}
	c.Close()
	// One held connection goes: its slot serves a new client.
	held[0].Close()
	url := "http://" + addr
	for try := 0; ; try++ {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if try == 50 {
			t.Fatalf("no slot came back after a connection closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
