package flowlogs

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowlog"
)

// commitFailStore is a DirStore whose objects fail to commit while *fail
// is set, as a full disk fails them at the last flush: every write is
// taken, the object is lost whole.
type commitFailStore struct {
	flowlog.DirStore
	fail *bool
}

func (s commitFailStore) Create(bucket, key string) (flowlog.Object, error) {
	o, err := s.DirStore.Create(bucket, key)
	if err != nil {
		return nil, err
	}
	return &commitFailObject{Object: o, fail: s.fail}, nil
}

type commitFailObject struct {
	flowlog.Object
	fail *bool
}

func (o *commitFailObject) Commit() error {
	if *o.fail {
		o.Object.Abort()
		return errors.New("no space left on device")
	}
	return o.Object.Commit()
}

// TestObjectLostAtCommit: records written to an object that then fails to
// commit are taken back from the records counted, counted as not written,
// and every interval they belonged to gets SKIPDATA once the destination
// takes objects again; the intervals of objects committed are untouched.
func TestObjectLostAtCommit(t *testing.T) {
	dir := t.TempDir()
	fail := false
	set := settings(t, flowlog.Definition{LogDestinationType: flowlog.DestinationS3, LogDestination: "arn:aws:s3:::bkt",
		MaxAggregationInterval: 60, DestinationOptions: flowlog.DestinationOptions{FileFormat: flowlog.FilePlainText}})
	var said []string
	s := newSink(t, Config{S3: commitFailStore{flowlog.DirStore{Root: dir}, &fail},
		Logf: func(f string, a ...any) { said = append(said, f) }},
		Log{ID: "fl-c", Settings: set, Interfaces: []int{0}})
	// Ten flows in each minute of 15 minutes, 20 records a minute (both
	// directions): three 5-minute objects.
	minute := func(m int64) []engine.FlowWindow {
		ws := make([]engine.FlowWindow, 10)
		for i := range ws {
			ws[i] = win(t0+60*m, 0, 1, 1, 0, 0)
			ws[i].SrcPort = uint16(2000 + i)
		}
		return ws
	}
	feed := func(from, to int64) {
		for m := from; m < to; m++ {
			s.FlowWindows(minute(m))
		}
	}
	feed(0, 7) // the first object (minutes 0-4) commits in minute 6
	if st := s.Stats(); st.Records != 100 || st.Errors != 0 {
		t.Fatalf("after the first object: %+v", st)
	}
	fail = true
	feed(7, 12) // the second (minutes 5-9) is lost in minute 11
	st := s.Stats()
	if st.Records != 100 || st.Errors != 100 {
		t.Errorf("after the lost object: %+v, want its 100 records taken back and counted", st)
	}
	fail = false
	feed(12, 15)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st = s.Stats()
	lines := fileLines(t, dir)
	skip := map[string]bool{}
	var ok int
	for _, l := range lines {
		f := strings.Fields(l)
		switch f[len(f)-1] {
		case "OK":
			ok++
		case "SKIPDATA":
			skip[f[10]] = true // start (default format)
		}
	}
	if ok != int(st.Records) || ok != 20*15-100 || len(lines)-ok != int(st.SkipData) {
		t.Errorf("%d OK and %d other lines; stats %+v; want 200 OK", ok, len(lines)-ok, st)
	}
	if len(skip) != 5 {
		t.Errorf("SKIPDATA for intervals %v, want the 5 minutes of the lost object", skip)
	}
	for m := int64(5); m < 10; m++ {
		if !skip[strconv.FormatInt(t0+60*m, 10)] {
			t.Errorf("no SKIPDATA for minute %d", m)
		}
	}
	if len(said) == 0 {
		t.Error("the lost object was not reported")
	}
}
