package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzConfig feeds arbitrary bytes to serve's config file loader: no
// panic, and every error names the file, so a user knows which one is
// wrong. What loads must give each source a flow log interface or an
// error naming the source.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		"",
		"listen: 127.0.0.1:4566\nworkers: 2\ntimeout-tcp-established: 350s\n",
		"pcap:\n  - edge.pcap\n  - core=/captures/core-1.pcapng\n",
		"pcap:\n  - file: b.pcap\n    name: b\n    availability-zone: us-east-1b\n    vpc-endpoint-id: vpce-0b\n    interface-id: eni-0123456789abcdef0\n    local-addresses: [10.0.0.5, 2001:db8::5]\n",
		"pcap: [a.pcap, {file: b.pcap, bogus: 1}]\n",
		"workers: [1, 2]\n",
		"workers: {a: 1}\n",
		"wrkers: 2\n",
		"config: other.yaml\n",
		"listen: &a 127.0.0.1:1\nmetrics-listen: *a\n",
		"pcap:\n  - file: x\n    local-addresses: [not-an-ip]\n",
		"- a\n- b\n",
		"? [a]\n: b\n",
		"listen: !!binary aGVsbG8=\n",
		"%YAML 1.1\n---\nlisten: x\n",
		"a: b\n---\nc: d\n",
		"\t bad indent\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "flowd.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var o serveOpts
		fs := newServeFlags(&o)
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		if err := loadConfig(fs.FlagSet, path); err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for i, p := range o.pcaps {
			name := p.Name
			if name == "" {
				name = "src" + string(rune('0'+i%10))
			}
			if _, err := p.Iface.flowLogInterface(name); err != nil && !strings.Contains(err.Error(), name) {
				t.Fatalf("error does not name the source %q: %v", name, err)
			}
		}
	})
}

// FuzzTimePoint: --since/--until values parse or are refused with a
// message naming the flag; never a panic.
func FuzzTimePoint(f *testing.F) {
	for _, s := range []string{"", "90s", "1h", "2026-01-02T15:04:05Z", "2026-01-02T15:04:05.123456789+02:00", "-1s", "1e9h", "9999999999h", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tp, err := parseTimePoint("since", v)
		if err != nil {
			if !strings.Contains(err.Error(), "--since") {
				t.Fatalf("%q: error does not name the flag: %v", v, err)
			}
			return
		}
		if v != "" && !tp.set {
			t.Fatalf("%q accepted but not set", v)
		}
		if tp.rel && tp.offset < 0 {
			t.Fatalf("%q: negative offset %v", v, tp.offset)
		}
	})
}
