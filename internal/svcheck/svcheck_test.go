package svcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const eveLine = `{"event_type":"flow","src_ip":"10.0.0.1","src_port":1234,"proto":"TCP",
"vlan":[10,20],"flow":{"pkts_toserver":3,"bytes_toserver":180,"alerted":false,"age":0,"start":"2024-01-01T00:00:00.000000+0000"},
"tcp":{"tcp_flags":"1b","syn":true},"flow_id":1407376232318662}`

// yamlMatch decodes a match block as test.yaml would give it.
func yamlMatch(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatch(t *testing.T) {
	evs, err := ReadEVE(strings.NewReader(strings.ReplaceAll(eveLine, "\n", "") + "\n"))
	if err != nil || len(evs) != 1 {
		t.Fatalf("ReadEVE: %v, %d events", err, len(evs))
	}
	ev := evs[0]
	for _, c := range []struct {
		match string
		want  bool
	}{
		{"event_type: flow", true},
		{"event_type: alert", false},
		{"flow.pkts_toserver: 3", true},
		{"flow.pkts_toserver: 3.0", true}, // Python: 3 == 3.0
		{"flow.pkts_toserver: 4", false},
		{"flow.pkts_toserver: '3'", false}, // a string is not a number
		{"flow.alerted: false", true},
		{"flow.alerted: 0", true}, // Python: False == 0
		{"flow.alerted: true", false},
		{"flow.age: false", true},
		{"flow_id: 1407376232318662", true},
		{"flow_id: 1407376232318663", false}, // exact, past float64's 2^53
		{"flow.action: null", true},          // a missing key is None
		{"flow.action: drop", false},
		{"vlan: [10, 20]", true},
		{"vlan: [10]", false},
		{"vlan[0]: 10", true},
		{"vlan[1]: 20", true},
		{"vlan[2]: 0", false},
		{"vlan.__len: 2", true},
		{"src_ip.__len: 8", true},
		{"flow.pkts_toserver.__len: -1", true},
		{"flow.__len: 5", true},
		{"tcp.tcp_flags: 1b", true},
		{"tcp.fin: true", false},
		{"src_ip.__startswith: '10.'", true},
		{"src_ip.__startswith: '11.'", false},
		{"src_ip.__endswith: '.1'", true},
		{"src_ip.__find: '0.0'", true},
		{"src_ip.__contains: '0.0'", true},
		{"vlan.__contains: 20", true},
		{"vlan.__contains: 30", false},
		{"flow.pkts_toserver.__gt: 2", true},
		{"flow.pkts_toserver.__gt: 3", false},
		{"flow.pkts_toserver.__gte: 3", true},
		{"flow.pkts_toserver.__lt: 3", false},
		{"flow.pkts_toserver.__lte: 3.5", true},
		{"flow.alerted.__lt: 1", false}, // bools are not numbers here
		{"has-key: tcp.syn", true},
		{"has-key: [tcp.syn, tcp.fin]", false},
		{"not-has-key: flow.action", true},
		{"not-has-key: [flow.action, tcp.syn]", false},
		{"event_type: flow\nproto: TCP\nsrc_port: 1234", true},
		{"event_type: flow\nproto: UDP\nsrc_port: 1234", false},
	} {
		got, err := Match(ev, yamlMatch(t, c.match))
		if err != nil {
			t.Errorf("%q: %v", c.match, err)
		}
		if got != c.want {
			t.Errorf("%q: match %v, want %v", c.match, got, c.want)
		}
	}
	// A string operator on a number cannot be evaluated: the runner fails
	// the check with an error.
	if ok, err := Match(ev, yamlMatch(t, "src_port.__startswith: '12'")); ok || err == nil {
		t.Errorf("__startswith on a number: %v, %v; want no match and an error", ok, err)
	}
}

func TestCount(t *testing.T) {
	in := strings.Join([]string{
		`{"event_type":"flow","proto":"TCP"}`,
		`{"event_type":"flow","proto":"UDP"}`,
		``,
		`{"event_type":"alert","proto":"TCP"}`,
		`{"event_type":"flow","proto":"TCP"}`,
	}, "\n")
	evs, err := ReadEVE(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for match, want := range map[string]int{
		"event_type: flow":             3,
		"event_type: flow\nproto: TCP": 2,
		"proto: TCP":                   3,
		"event_type: stats":            0,
	} {
		if n, err := Count(evs, yamlMatch(t, match)); n != want || err != nil {
			t.Errorf("%q: %d (%v), want %d", match, n, err, want)
		}
	}
	if _, err := ReadEVE(strings.NewReader("{not json}\n")); err == nil {
		t.Error("ReadEVE took a line that is not JSON")
	}
}

func TestLoad(t *testing.T) {
	root := t.TempDir()
	write := func(rel, body string) {
		t.Helper()
		p := filepath.Join(root, "tests", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/test.yaml", `
requires:
  min-version: 8
args:
  - -k none
  - --set stream.midstream=true
checks:
  - filter:
      count: 2
      match:
        event_type: flow
        proto: TCP
  - filter:
      count: 1
      match:
        event_type: alert
  - shell:
      args: true
  - filter:
      requires:
        lt-version: 8
      count: 0
      match:
        event_type: flow
        src_ip: 10.0.0.1
`)
	write("a/input.pcap", "")
	write("group/b/test.yaml", "pcap: ../../a/input.pcap\nchecks: []\n")
	write("c/test.yaml", "checks:\n  - filter:\n      count: 1\n      match: {event_type: flow}\n")
	write("c/one.pcap", "")
	write("c/two.pcapng", "")
	write("d/test.yaml", "checks: [\n")

	tests, bad, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || bad["d"] == nil {
		t.Errorf("bad = %v, want d only", bad)
	}
	names := []string{}
	for _, st := range tests {
		names = append(names, st.Name)
	}
	if strings.Join(names, " ") != "a c group/b" {
		t.Fatalf("tests %v", names)
	}
	a := tests[0]
	fs, err := a.FlowFilters()
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || fs[0].Index != 1 || fs[0].Count != 2 || fs[1].Index != 4 || fs[1].Requires == nil {
		t.Fatalf("flow filters %+v", fs)
	}
	if strings.Join(fs[0].Keys, ",") != "event_type,proto" {
		t.Errorf("keys %v: not in test.yaml's order", fs[0].Keys)
	}
	if why := Unmet(fs[1].Requires, Version{9, 0, 0}, a.Dir); why == "" {
		t.Error("lt-version 8 met by 9.0.0")
	}
	if p, why := a.Pcap(); why != "" || filepath.Base(p) != "input.pcap" {
		t.Errorf("a's pcap %q (%s)", p, why)
	}
	if a.Sets()["stream.midstream"] != "true" {
		t.Errorf("sets %v", a.Sets())
	}
	if _, why := tests[1].Pcap(); why != "more than one pcap" {
		t.Errorf("c's pcap: %q", why)
	}
	if p, why := tests[2].Pcap(); why != "" || !strings.HasSuffix(filepath.ToSlash(p), "a/input.pcap") {
		t.Errorf("group/b's pcap %q (%s)", p, why)
	}
}

func TestUnmet(t *testing.T) {
	v := Version{9, 0, 0}
	for req, met := range map[string]bool{
		"min-version: 8":        true,
		"min-version: 9":        true,
		"min-version: 9.0.1":    false,
		"min-version: 10":       false,
		"lt-version: 9":         false,
		"lt-version: 9.0.1":     true,
		"gt-version: 8.0.7":     true,
		"gt-version: 9":         false,
		"version: 9":            true,
		"version: 9.1":          false,
		"version: 8":            false,
		"script: [true]":        false,
		"lambda: 'True'":        false,
		"features: [HAVE_LUA]":  true,
		"os: linux":             true,
		"files: [nonexistent]":  false,
		"env: [FLOWD_NO_SUCH_]": false,
	} {
		if got := Unmet(yamlMatch(t, req), v, t.TempDir()) == ""; got != met {
			t.Errorf("%s: met %v, want %v", req, got, met)
		}
	}
}
