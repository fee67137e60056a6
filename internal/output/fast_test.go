package output

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// The hand-written pieces of the EVE formatter against the library code
// they stand in for.

func TestBase64SHA1(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		var sum [sha1.Size]byte
		for i := range sum {
			sum[i] = byte(rng.UintN(256))
		}
		got := string(appendBase64SHA1([]byte("x"), &sum))
		if want := "x" + base64.StdEncoding.EncodeToString(sum[:]); got != want {
			t.Fatalf("%x: %s, want %s", sum, got, want)
		}
	}
}

func TestCivilCached(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	// Runs of one day (the cache's hits) between jumps, both ways.
	for range 20000 {
		days := rng.Int64N(3_000_000) - 10_000
		for range 1 + rng.IntN(3) {
			y, m, d := civilCached(days)
			tm := time.Unix(days*86400, 0).UTC()
			if y != tm.Year() || m != int(tm.Month()) || d != tm.Day() {
				t.Fatalf("day %d: %04d-%02d-%02d, want %s", days, y, m, d, tm.Format("2006-01-02"))
			}
		}
	}
}

func TestQuotedNamesConcurrent(t *testing.T) {
	q := &quotedNames{name: func(id uint16) string { return fmt.Sprintf("src\"%d", id) }}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				id := uint16((i*7 + g) % 300)
				got := string(q.appendQuoted(nil, id))
				if want := fmt.Sprintf("%q", fmt.Sprintf("src\"%d", id)); got != want {
					t.Errorf("source %d: %s, want %s", id, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
