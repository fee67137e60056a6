package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/flowd/flowd/capture"
)

// Inputs of flowd replay beyond plain files: "-" (stdin), a directory or a
// glob (every capture in it, one source, files in order of their first
// packet), and --follow (a capture still being written, then the next file
// of its rotating set).

// isGlob says whether arg holds glob characters.
func isGlob(arg string) bool { return strings.ContainsAny(arg, "*?[") }

// expandInput returns the capture files of a directory or glob argument,
// in order of their first packet. Files that are not captures are skipped
// with a warning to warn; none at all is an error.
func expandInput(arg string, warn io.Writer) ([]string, error) {
	var paths []string
	if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
		entries, err := os.ReadDir(arg)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				paths = append(paths, filepath.Join(arg, e.Name()))
			}
		}
	} else {
		m, err := filepath.Glob(arg)
		if err != nil {
			return nil, usagef("%q: %v", arg, err)
		}
		for _, p := range m {
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				paths = append(paths, p)
			}
		}
	}
	type file struct {
		path  string
		first int64
	}
	var files []file
	for _, p := range paths {
		first, err := firstTimestamp(p)
		if errors.Is(err, capture.ErrFormat) {
			fmt.Fprintf(warn, "flowd replay: skipping %s: not a capture (%v)\n", p, err)
			continue
		}
		if err != nil {
			return nil, err
		}
		files = append(files, file{p, first})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no capture files", arg)
	}
	// An empty capture sorts last; equal times keep the names' order.
	slices.SortStableFunc(files, func(a, b file) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return naturalCompare(a.path, b.path)
	})
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.path
	}
	return out, nil
}

// firstTimestamp reads a capture's header and first record.
func firstTimestamp(path string) (int64, error) {
	f, err := capture.OpenFile(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var fr [1]capture.Frame
	n, err := f.ReadBatch(fr[:])
	if n == 1 {
		return fr[0].Timestamp, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return 1<<63 - 1, nil // empty
	}
	return 0, err
}

// naturalCompare orders names with their digit runs compared as numbers,
// so that cap.pcap9 comes before cap.pcap10 (tcpdump -C) and times in
// names (tcpdump -G) sort as times.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da != "" && db != "" {
			na, _ := strconv.ParseUint(strings.TrimLeft(da, "0"), 10, 64)
			nb, _ := strconv.ParseUint(strings.TrimLeft(db, "0"), 10, 64)
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			if a[0] < b[0] {
				return -1
			}
			return 1
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digitPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// rotationShape is a name with each run of digits replaced by '#': the files
// of one tcpdump -G set share it.
func rotationShape(name string) string {
	var b strings.Builder
	digits := false
	for _, r := range name {
		if unicode.IsDigit(r) {
			if !digits {
				b.WriteByte('#')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(r)
	}
	return b.String()
}

// sameSet says whether name belongs to the rotating set that first starts:
// tcpdump -C appends a number to the first file's name (cap.pcap,
// cap.pcap1, ...), -G puts a time or number in the same place of each name.
func sameSet(first, name string) bool {
	if rest, ok := strings.CutPrefix(name, first); ok {
		return rest == "" || digitPrefix(rest) == rest
	}
	return rotationShape(first) == rotationShape(name) && strings.ContainsFunc(first, unicode.IsDigit)
}

// nextInSet returns the file of cur's rotating set that comes right after
// cur, "" when there is none yet.
func nextInSet(first, cur string) string {
	dir := filepath.Dir(first)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	base, curBase := filepath.Base(first), filepath.Base(cur)
	next := ""
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || !sameSet(base, n) || naturalCompare(n, curBase) <= 0 {
			continue
		}
		if next == "" || naturalCompare(n, next) < 0 {
			next = n
		}
	}
	if next == "" {
		return ""
	}
	return filepath.Join(dir, next)
}

// followConfig says how --follow waits.
type followConfig struct {
	poll time.Duration // how often to look for growth and new files
	idle time.Duration // stop after this long without growth or a new file (0: never)
}

// chainSource reads captures one after another as one source, so that a
// flow that spans two files of a set is one flow. With follow set it waits
// for a file to grow, and moves on to the next file of the set once one
// appears; a record cut at the end of a file that is still growing waits
// for the rest of it.
type chainSource struct {
	name   string
	paths  []string // files still to read, in order (not following)
	stdin  io.Reader
	follow *followConfig
	first  string // the first file of a followed set

	cur      *capture.File
	curPath  string
	curFile  *followReader
	done     Stats
	err      error
	stopOnce sync.Once
	stop     chan struct{}
}

// Stats are the totals of the files already read.
type Stats = capture.Stats

func newChain(name string, paths []string) *chainSource {
	return &chainSource{name: name, paths: paths, stop: make(chan struct{})}
}

func newStdinSource(r io.Reader) *chainSource {
	return &chainSource{name: "stdin", stdin: r, stop: make(chan struct{})}
}

func newFollowSource(path string, cfg followConfig) *chainSource {
	return &chainSource{name: sourceName(path), first: path, paths: []string{path}, follow: &cfg, stop: make(chan struct{})}
}

// open opens the next input; io.EOF when there is none.
func (c *chainSource) open() error {
	switch {
	case c.stdin != nil:
		r := c.stdin
		c.stdin = nil
		f, err := capture.NewReader(r, "stdin")
		if err != nil {
			return err
		}
		c.cur, c.curPath = f, "-"
		return nil
	case c.follow != nil:
		if len(c.paths) == 0 {
			return io.EOF
		}
		p := c.paths[0]
		c.paths = c.paths[1:]
		fr, err := openFollow(p, c)
		if err != nil {
			return err
		}
		f, err := capture.NewReader(fr, p)
		if err != nil {
			fr.Close()
			return err
		}
		c.cur, c.curPath, c.curFile = f, p, fr
		return nil
	}
	if len(c.paths) == 0 {
		return io.EOF
	}
	p := c.paths[0]
	c.paths = c.paths[1:]
	f, err := capture.OpenFile(p)
	if err != nil {
		return err
	}
	c.cur, c.curPath = f, p
	return nil
}

func (c *chainSource) ReadBatch(dst []capture.Frame) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for {
		if c.cur == nil {
			if err := c.open(); err != nil {
				c.err = err
				return 0, err
			}
		}
		n, err := c.cur.ReadBatch(dst)
		if errors.Is(err, io.EOF) {
			c.closeCur()
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			c.err = err
		}
		return n, err
	}
}

func (c *chainSource) closeCur() {
	st := c.cur.Stats()
	c.done.Frames += st.Frames
	c.done.Bytes += st.Bytes
	c.done.Offset += st.Offset
	c.cur.Close()
	if c.curFile != nil {
		if next := c.curFile.next; next != "" {
			c.paths = append(c.paths, next)
		}
		c.curFile.Close()
		c.curFile = nil
	}
	c.cur = nil
}

func (c *chainSource) Stats() capture.Stats {
	st := c.done
	if c.cur != nil {
		cur := c.cur.Stats()
		st.Frames += cur.Frames
		st.Bytes += cur.Bytes
		st.Offset += cur.Offset
	}
	st.Size = -1
	return st
}

// interrupt makes a following read give up waiting; safe to call while a
// read is in progress.
func (c *chainSource) interrupt() { c.stopOnce.Do(func() { close(c.stop) }) }

func (c *chainSource) Close() error {
	c.interrupt()
	if c.cur != nil {
		c.cur.Close()
		c.cur = nil
	}
	if c.curFile != nil {
		c.curFile.Close()
		c.curFile = nil
	}
	return nil
}

// followReader reads a file that is still being written: at its end it
// waits for more bytes, and ends (io.EOF) once the next file of the set
// exists and this one has stopped growing, or after the idle time.
type followReader struct {
	f     *os.File
	path  string
	chain *chainSource
	next  string // the file to read after this one, set when it ends
}

func openFollow(path string, c *chainSource) (*followReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	return &followReader{f: f, path: path, chain: c}, nil
}

func (r *followReader) Read(p []byte) (int, error) {
	cfg := r.chain.follow
	idleSince := time.Now()
	sawNext := ""
	for {
		n, err := r.f.Read(p)
		if n > 0 || (err != nil && !errors.Is(err, io.EOF)) {
			return n, err
		}
		// At the end for now. A next file means the writer has moved on;
		// one more look for growth after seeing it closes the race
		// between the last write here and the first one there.
		if sawNext != "" {
			r.next = sawNext
			return 0, io.EOF
		}
		if next := nextInSet(r.chain.first, r.path); next != "" {
			sawNext = next
			continue
		}
		if cfg.idle > 0 && time.Since(idleSince) >= cfg.idle {
			return 0, io.EOF
		}
		select {
		case <-r.chain.stop:
			return 0, io.EOF
		case <-time.After(cfg.poll):
		}
	}
}

func (r *followReader) Close() error { return r.f.Close() }

// watchedSource notes, per source, the first packet's time and the link
// types read, for the time window and for the warning about captures whose
// frames could not be used. It looks at one frame per batch and allocates
// only when the link type changes.
type watchedSource struct {
	capture.Source
	first atomic.Int64
	end   atomic.Int64  // the time of the last frame read
	last  atomic.Uint32 // the last link type seen + 1; 0 before any

	mu    sync.Mutex
	links []capture.LinkType
}

func (w *watchedSource) ReadBatch(dst []capture.Frame) (int, error) {
	n, err := w.Source.ReadBatch(dst)
	if n > 0 {
		if w.first.Load() == 0 {
			w.first.Store(dst[0].Timestamp)
		}
		w.end.Store(dst[n-1].Timestamp)
		if lt := uint32(dst[0].LinkType) + 1; w.last.Load() != lt {
			w.last.Store(lt)
			w.mu.Lock()
			if !slices.Contains(w.links, dst[0].LinkType) {
				w.links = append(w.links, dst[0].LinkType)
			}
			w.mu.Unlock()
		}
	}
	return n, err
}

// linkTypes names the link types seen.
func (w *watchedSource) linkTypes() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var names []string
	for _, l := range w.links {
		names = append(names, l.String())
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
