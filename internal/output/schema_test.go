package output_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/eveschema"
	"github.com/flowd/flowd/internal/output"
)

// TestEVESchema replays generated captures (TCP, UDP, ICMP, SCTP, IPv6,
// VLANs, fragments, ICMP errors, several link types) and the bundled
// sample with EVE output, and validates every event against Suricata's
// EVE schema.
func TestEVESchema(t *testing.T) {
	schema := eveschema.Load(t)
	var caps [][]byte
	sample, err := os.ReadFile("../../testdata/sample.pcap")
	if err != nil {
		t.Fatal(err)
	}
	caps = append(caps, sample)
	for _, cfg := range []gen.Config{
		{Seed: 1, Flows: 300, IPv6: 0.5, VLAN: 0.3, QinQ: 0.2, Fragments: 0.2, ICMPErrors: 0.2, SCTP: 10},
		{Seed: 2, Flows: 200, Reuse: 0.3, SynAck: 0.2, Reject: 0.1, Unanswered: 0.2, Interfaces: []gen.Interface{{Link: gen.SLL}}},
	} {
		var b bytes.Buffer
		if _, err := gen.WritePcap(&b, cfg); err != nil {
			t.Fatal(err)
		}
		caps = append(caps, b.Bytes())
	}
	events := 0
	for i, capBytes := range caps {
		path := filepath.Join(t.TempDir(), "eve.json")
		e, err := engine.New(engine.Config{})
		if err != nil {
			t.Fatal(err)
		}
		src, err := capture.NewReader(bytes.NewReader(capBytes), "cap")
		if err != nil {
			t.Fatal(err)
		}
		e.AddSource(src, engine.SourceInfo{Name: "eth0"})
		sink, err := output.NewSink(output.SinkConfig{Format: output.FormatEVE, Path: path,
			Options: output.Options{SourceName: func(uint16) string { return "eth0" }}})
		if err != nil {
			t.Fatal(err)
		}
		e.AddSink(sink)
		e.Start(context.Background())
		<-e.SourcesDone()
		if err := e.Stop(engine.ReasonShutdown); err != nil {
			t.Fatal(err)
		}
		out, _ := os.ReadFile(path)
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var v any
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("capture %d: not JSON: %v\n%s", i, err, line)
			}
			if err := schema.Validate(v); err != nil {
				t.Fatalf("capture %d: an event breaks Suricata's schema: %v\n%s", i, err, line)
			}
			events++
		}
	}
	t.Logf("%d events valid", events)
	// Fields the generated captures lack: an ESP flow's spi, a two-way
	// ICMP flow's response type and code, three VLAN ids.
	var b bytes.Buffer
	w, err := output.New(output.FormatEVE, &b, output.Options{})
	if err != nil {
		t.Fatal(err)
	}
	esp := engine.Flow{Proto: 50, Family: 4, SPI: 0xc0ffee01, VLAN: [3]uint16{1, 2, 3}, Pkts: [2]uint64{1, 0}, Src: [16]byte{10, 0, 0, 1}, Dst: [16]byte{10, 0, 0, 2}}
	icmp := engine.Flow{Proto: 58, Family: 6, ICMPType: 128, ResponseICMPType: 129, Pkts: [2]uint64{1, 1}, Src: [16]byte{0x20, 1}, Dst: [16]byte{0x20, 2}}
	for _, f := range []engine.Flow{esp, icmp} {
		if err := w.Write(&f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, line)
		}
		if v["spi"] == nil && v["response_icmp_type"] == nil {
			t.Fatalf("event lacks the field it is here for: %s", line)
		}
		if err := schema.Validate(any(v)); err != nil {
			t.Fatalf("an event breaks Suricata's schema: %v\n%s", err, line)
		}
	}
	// The schema refuses what Suricata does not write, so the check above
	// can fail.
	var bogus any
	json.Unmarshal([]byte(`{"timestamp":"2026-01-01T00:00:00.000000+0000","event_type":"flow","flow":{"pkts_toserver":"many"}}`), &bogus)
	if schema.Validate(bogus) == nil {
		t.Error("the schema accepts a flow event with a string packet count")
	}
}
