package api_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd/flowd/api"
)

// FuzzAuthFile feeds arbitrary bytes to the --auth-file loader: no panic;
// an error names the file; a loaded file holds at least one key.
func FuzzAuthFile(f *testing.F) {
	for _, s := range []string{
		"AKIDFLOWD secret\n",
		"# keys\n\nAKID1 s1\nAKID2 s2\n",
		"AKID1 s1\nAKID1 s2\n",
		"AKID1\n",
		"AKID1 s1 extra\n",
		"bad-id s\n",
		"AKID1 sec\x01ret\n",
		"AKID1 " + strings.Repeat("s", 300) + "\n",
		strings.Repeat("x", 70000),
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "auth")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := api.LoadAuthFile(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if c.Len() == 0 {
			t.Fatal("loaded with no keys")
		}
	})
}
