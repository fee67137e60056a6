package output_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/output"
)

// schemaPath is Suricata's published EVE JSON schema, kept beside the
// repository (not in it) as test data.
const schemaPath = "../../../shared/reference/suricata-eve-schema.json"

// TestEVESchema replays generated captures (TCP, UDP, ICMP, SCTP, IPv6,
// VLANs, fragments, ICMP errors, several link types) and the bundled
// sample with EVE output, and validates every event against Suricata's
// EVE schema.
func TestEVESchema(t *testing.T) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Skipf("Suricata's EVE schema is not at %s (%v): the events are checked where it is", schemaPath, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("eve.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("eve.json")
	if err != nil {
		t.Fatal(err)
	}
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
	// The schema refuses what Suricata does not write, so the check above
	// can fail.
	var bogus any
	json.Unmarshal([]byte(`{"timestamp":"2026-01-01T00:00:00.000000+0000","event_type":"flow","flow":{"pkts_toserver":"many"}}`), &bogus)
	if schema.Validate(bogus) == nil {
		t.Error("the schema accepts a flow event with a string packet count")
	}
}
