package api

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowd/flowd/engine"
)

// healthz answers 200 for as long as the server answers at all.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyz answers 200 once every source is where it should be (see
// Readiness), else 503 with one line per source that is not.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ready, reasons := Readiness(s.cfg.Backend.Status())
	if ready {
		w.Write([]byte("ok\n"))
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write([]byte("not ready:\n" + strings.Join(reasons, "\n") + "\n"))
}

// Readiness says whether the table holds what its sources will give it: a
// file has been read to its end (a damaged one too: it gave what it had),
// a live interface is capturing. When not, it says why for each source that
// is not.
func Readiness(st engine.Status) (bool, []string) {
	var reasons []string
	for i := range st.Sources {
		src := &st.Sources[i]
		name := src.Info.Name
		if name == "" {
			name = fmt.Sprintf("#%d", src.ID)
		}
		switch {
		case src.Info.Live && !src.Up:
			state := src.State
			if state == "" {
				state = "not capturing"
			}
			reasons = append(reasons, fmt.Sprintf("source %s: live source not capturing: %s", name, state))
		case !src.Info.Live && !src.EOF:
			progress := ""
			if src.Size > 0 {
				progress = fmt.Sprintf(", %d%% of %d bytes", src.Offset*100/src.Size, src.Size)
			}
			reasons = append(reasons, fmt.Sprintf("source %s: still reading (%d packets so far%s)", name, src.Frames, progress))
		}
	}
	return len(reasons) == 0, reasons
}

// buildInfo is flowd_build_info: which flowd this is, as the Go toolchain
// recorded it in the binary.
func buildInfo() prometheus.Collector {
	version, revision := "unknown", "unknown"
	goVersion := runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && kv.Value != "" {
				revision = kv.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "flowd_build_info",
		Help:        "Always 1; the labels say which flowd this is (module version, Go version, VCS revision).",
		ConstLabels: prometheus.Labels{"version": version, "goversion": goVersion, "revision": revision},
	})
	g.Set(1)
	return g
}
