package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/flowd/flowd/engine"
)

// progress draws a one-line progress bar on stderr while files are read.
type progress struct {
	done chan struct{}
	quit chan struct{}
}

// progressAfter is how long a replay runs before the bar appears: short
// replays finish without one.
const progressAfter = time.Second

func newProgress(mode string, e *engine.Engine) *progress {
	p := &progress{done: make(chan struct{}), quit: make(chan struct{})}
	show := mode == "always" || (mode == "auto" && isTerminal(os.Stderr))
	if !show {
		close(p.done)
		return p
	}
	go p.run(e, mode == "always")
	return p
}

func (p *progress) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.quit)
	<-p.done
}

func (p *progress) run(e *engine.Engine, always bool) {
	defer close(p.done)
	start := time.Now()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	drawn := false
	for {
		select {
		case <-p.quit:
			if drawn {
				fmt.Fprint(os.Stderr, "\r\033[K")
			}
			return
		case <-tick.C:
		}
		if !always && time.Since(start) < progressAfter {
			continue
		}
		st := e.Status()
		var off, size int64
		var frames uint64
		known := true
		for _, s := range st.Sources {
			off += s.Offset
			frames += s.Frames
			if s.Size < 0 {
				known = false
			}
			size += s.Size
		}
		el := time.Since(start).Seconds()
		line := fmt.Sprintf("%s read, %d packets, %.2f Mpkt/s, %d flows", humanBytes(uint64(off)), frames,
			float64(frames)/el/1e6, st.Table.Active)
		if known && size > 0 {
			frac := min(float64(off)/float64(size), 1)
			const width = 30
			n := int(frac * width)
			eta := ""
			if frac > 0.01 {
				eta = fmt.Sprintf(", ETA %s", time.Duration(el*(1-frac)/frac*float64(time.Second)).Round(time.Second))
			}
			line = fmt.Sprintf("[%s%s] %3.0f%% %s%s", strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100, line, eta)
		}
		fmt.Fprintf(os.Stderr, "\r\033[K%s", line)
		drawn = true
	}
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
