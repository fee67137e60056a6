package api_test

import (
	"context"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/engine"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthAndReadiness(t *testing.T) {
	b := &fakeBackend{}
	srv, err := api.New(api.Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	url := listen(t, srv)
	file := engine.SourceStatus{ID: 0, Info: engine.SourceInfo{Name: "edge", Path: "/x.pcap"}, Frames: 10, Offset: 250, Size: 1000}
	live := engine.SourceStatus{ID: 1, Info: engine.SourceInfo{Name: "eth0", Live: true}, State: "interface down since 12:00:00"}
	for _, c := range []struct {
		name    string
		sources []engine.SourceStatus
		status  int
		body    []string
	}{
		{"no sources", nil, 200, []string{"ok"}},
		{"file still read, interface down", []engine.SourceStatus{file, live}, 503,
			[]string{"source edge: still reading (10 packets so far, 25% of 1000 bytes)", "source eth0: live source not capturing: interface down since 12:00:00"}},
		{"file at its end, interface up", []engine.SourceStatus{func() engine.SourceStatus { f := file; f.EOF = true; return f }(),
			func() engine.SourceStatus { l := live; l.Up = true; return l }()}, 200, []string{"ok"}},
	} {
		b.setStatus(engine.Status{Sources: c.sources})
		if status, body := get(t, url+"/healthz"); status != 200 || body != "ok\n" {
			t.Errorf("%s: /healthz %d %q", c.name, status, body)
		}
		status, body := get(t, url+"/readyz")
		if status != c.status {
			t.Errorf("%s: /readyz %d, want %d: %s", c.name, status, c.status, body)
		}
		for _, w := range c.body {
			if !strings.Contains(body, w) {
				t.Errorf("%s: /readyz says %q, lacking %q", c.name, body, w)
			}
		}
	}
	// Each handler on its own: the API one has no /metrics, the metrics
	// one no API.
	api1, mon := listen(t, srv.APIHandler()), listen(t, srv.MetricsHandler())
	for _, c := range []struct {
		url    string
		status int
	}{{api1 + "/healthz", 200}, {api1 + "/metrics", 404}, {api1 + "/status", 404},
		{mon + "/metrics", 200}, {mon + "/status", 200}, {mon + "/readyz", 200}, {mon + "/", 404}} {
		if status, _ := get(t, c.url); status != c.status {
			t.Errorf("GET %s: %d, want %d", c.url, status, c.status)
		}
	}
	if status, _, _ := rawCall(t, mon, "NetworkFirewall_20201112.ListFlowOperations", "{}"); status != 404 {
		t.Errorf("POST / to the metrics handler: %d, want 404", status)
	}
	if status, _, _ := rawCall(t, api1, "NetworkFirewall_20201112.ListFlowOperations", `{"FirewallArn":"`+api.DefaultFirewallArn+`"}`); status != 200 {
		t.Errorf("POST / to the API handler: %d, want 200", status)
	}
}

func TestUnknownOperation(t *testing.T) {
	srv, err := api.New(api.Config{Backend: &fakeBackend{}})
	if err != nil {
		t.Fatal(err)
	}
	url := listen(t, srv)
	status, hdr, body := rawCall(t, url, "NetworkFirewall_20201112.ListFirewalls", "{}")
	typ, msg := jsonErr(t, body)
	if status != 400 || hdr.Get("X-Amzn-ErrorType") != api.UnknownOperation || typ != api.UnknownOperation ||
		!strings.Contains(msg, `"NetworkFirewall_20201112.ListFirewalls" is not an operation this flowd serves`) {
		t.Errorf("raw ListFirewalls: %d %s %s", status, hdr.Get("X-Amzn-ErrorType"), body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = newClient(url, 1).ListFirewalls(ctx, &nfw.ListFirewallsInput{})
	code, msg, status := sdkError(err)
	if code != "UnknownOperationException" || status != 400 || !strings.Contains(msg, "ListFirewalls") {
		t.Errorf("SDK ListFirewalls: %s %d %q (%v)", code, status, msg, err)
	}
}

// scrape parses /metrics with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func TestMetricNames(t *testing.T) {
	b := &fakeBackend{}
	b.setStatus(engine.Status{Sources: []engine.SourceStatus{
		{ID: 0, Info: engine.SourceInfo{Name: "edge"}, Frames: 1},
		{ID: 1, Info: engine.SourceInfo{Name: "edge"}, Frames: 2},
		{ID: 2, Info: engine.SourceInfo{Name: "core"}, Frames: 3},
		{ID: 3, Frames: 4},
	}})
	srv, err := api.New(api.Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	url := listen(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := newClient(url, 1).ListFlowOperations(ctx, &nfw.ListFlowOperationsInput{FirewallArn: aws.String(api.DefaultFirewallArn)}); err != nil {
		t.Fatal(err)
	}
	rawCall(t, url, "NetworkFirewall_20201112.ListFirewalls", "{}")
	mf := scrape(t, url)

	bi := mf["flowd_build_info"]
	if bi == nil || len(bi.Metric) != 1 || bi.Metric[0].GetGauge().GetValue() != 1 {
		t.Fatalf("flowd_build_info: %v", bi)
	}
	l := labels(bi.Metric[0])
	if l["version"] == "" || !strings.HasPrefix(l["goversion"], "go") || l["revision"] == "" || len(l) != 3 {
		t.Errorf("flowd_build_info labels %v", l)
	}

	h := mf["flowd_api_request_duration_seconds"]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("flowd_api_request_duration_seconds: %v", h)
	}
	counts := map[string]uint64{}
	for _, m := range h.Metric {
		counts[labels(m)["operation"]] = m.GetHistogram().GetSampleCount()
	}
	if counts["ListFlowOperations"] != 1 || counts["unknown"] != 1 {
		t.Errorf("request durations by operation: %v", counts)
	}

	var sources []string
	for _, m := range mf["flowd_source_packets_total"].GetMetric() {
		l := labels(m)
		if len(l) != 1 {
			t.Errorf("source labels %v: want source alone", l)
		}
		sources = append(sources, l["source"])
	}
	slices.Sort(sources)
	if want := []string{"#3", "core", "edge#0", "edge#1"}; !slices.Equal(sources, want) {
		t.Errorf("source label values %v, want %v", sources, want)
	}
	for _, name := range []string{"flowd_api_requests_total", "flowd_flows_active", "flowd_source_eof", "go_goroutines"} {
		if mf[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

// TestOutputMetrics: Config.Outputs appears in /metrics as one series per
// output, events and drops.
func TestOutputMetrics(t *testing.T) {
	outs := []api.OutputCount{{Output: "eve", Events: 7}, {Output: "ipfix 127.0.0.1:4739", Events: 14, Dropped: 2}}
	srv, err := api.New(api.Config{Backend: &fakeBackend{}, Outputs: func() []api.OutputCount { return outs }})
	if err != nil {
		t.Fatal(err)
	}
	mf := scrape(t, listen(t, srv))
	got := map[string]float64{}
	for _, name := range []string{"flowd_output_events_total", "flowd_output_dropped_total"} {
		f := mf[name]
		if f == nil || f.GetType() != dto.MetricType_COUNTER {
			t.Fatalf("%s: %v", name, f)
		}
		for _, m := range f.Metric {
			got[name+"/"+labels(m)["output"]] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"flowd_output_events_total/eve": 7, "flowd_output_dropped_total/eve": 0,
		"flowd_output_events_total/ipfix 127.0.0.1:4739": 14, "flowd_output_dropped_total/ipfix 127.0.0.1:4739": 2,
	}
	if !maps.Equal(got, want) {
		t.Errorf("output metrics %v, want %v", got, want)
	}
}
