package s3store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSpoolHeaderRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for i, c := range []struct{ bucket, key, body string }{
		{"b", "k", ""},
		{"flow-logs", "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/12/04/x.log.gz", "body\nwith lines"},
		{"b", "key with\nnewline and spaces " + strings.Repeat("x", 1500), "z"},
	} {
		path := filepath.Join(dir, spoolName(uint64(i+1)))
		if err := os.WriteFile(path, []byte(encodeHeader(c.bucket, c.key)+c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		it, n, err := readItem(path)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		if it.bucket != c.bucket || it.key != c.key || it.size != int64(len(c.body)) || n != int64(len(data)) ||
			string(data[it.off:]) != c.body {
			t.Errorf("case %d: got %+v (file %d bytes)", i, it, n)
		}
		if seq, ok := parseSpoolName(filepath.Base(path)); !ok || seq != uint64(i+1) {
			t.Errorf("case %d: parseSpoolName = %d, %v", i, seq, ok)
		}
	}
	for _, bad := range []string{"", "junk\n", "flowd-spool 1 3 4\nabc", "flowd-spool 1 0 1\n\nk\n"} {
		path := filepath.Join(dir, "bad.obj")
		os.WriteFile(path, []byte(bad), 0o600)
		if _, _, err := readItem(path); err == nil {
			t.Errorf("readItem(%q): no error", bad)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	s := &Store{cfg: Config{MinBackoff: 100 * time.Millisecond, MaxBackoff: 30 * time.Second}}
	for try := range 100 {
		want := min(30*time.Second, 100*time.Millisecond<<min(try, 30))
		for range 20 {
			if d := s.backoff(try); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", try, d, want/2, want)
			}
		}
	}
}
