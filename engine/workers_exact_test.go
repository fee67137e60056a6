package engine_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/engine"
)

// timeoutCapture is half an hour of traffic: long enough that flows end by
// idle timeout all through it, which the exactness cases (seconds long)
// never do.
func timeoutCapture(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := gen.WritePcap(&buf, gen.Config{Seed: 7, Flows: 4000, Duration: 30 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWorkersAgreeOnTimeouts: the same capture gives the same flows, row for
// row, with 1, 2 and 4 workers, though flows end by idle timeout
// throughout. A worker that swept with the engine clock, which the source
// moves as it reads ahead, ended flows whose next packet was still on its
// way (5000 flows became 5005 with 2 workers).
func TestWorkersAgreeOnTimeouts(t *testing.T) {
	capBytes := timeoutCapture(t)
	one, st := replayCSV(t, capBytes, engine.Config{Workers: 1})
	if st.Table.Ended[engine.ReasonTimeout] < 500 {
		t.Fatalf("only %d flows ended by timeout: not a test of timeouts", st.Table.Ended[engine.ReasonTimeout])
	}
	want := sortedRows(one)
	for _, workers := range []int{2, 4} {
		got, _ := replayCSV(t, capBytes, engine.Config{Workers: workers})
		if rows := sortedRows(got); !slices.Equal(rows, want) {
			t.Errorf("%d workers: %d rows, 1 worker %d\n%s", workers, len(rows), len(want), rowDiff(rows, want))
		}
	}
}

// TestWorkersAgreeOnWindows: the flow windows (one minute) of that capture
// are the same with 1 and 4 workers: no packet lands in another window
// because its worker's windows were closed by a clock ahead of it.
func TestWorkersAgreeOnWindows(t *testing.T) {
	capBytes := timeoutCapture(t)
	key := func(w *engine.FlowWindow) string {
		return fmt.Sprintf("%d %v:%d>%v:%d/%d start %d pkts %v bytes %v first %v last %v flags %v",
			w.Source, w.SrcAddr(), w.SrcPort, w.DstAddr(), w.DstPort, w.Proto, w.Start, w.Pkts, w.IPBytes, w.First, w.Last, w.TCPFlags)
	}
	rows := func(workers int) []string {
		_, ws := replayWindows(t, capBytes, workers, time.Minute)
		var out []string
		for i := range ws {
			out = append(out, key(&ws[i]))
		}
		slices.Sort(out)
		return out
	}
	want := rows(1)
	if got := rows(4); !slices.Equal(got, want) {
		t.Errorf("4 workers: %d windows, 1 worker %d\n%s", len(got), len(want), rowDiff(got, want))
	}
}
