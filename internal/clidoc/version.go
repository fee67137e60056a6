package clidoc

// Version information from the build.

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"time"
)

// buildInfo is what the Go toolchain recorded about this binary.
type buildInfo struct {
	version  string // the module version, "(devel)" for a build in a checkout
	revision string // vcs.revision, "" when built outside a repository
	modified bool   // vcs.modified: the work tree had uncommitted changes
	time     string // vcs.time
	goVer    string
}

func ReadBuildInfo() buildInfo {
	b := buildInfo{version: "(devel)", goVer: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := info.Main.Version; v != "" {
		b.version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.revision = s.Value
		case "vcs.modified":
			b.modified = s.Value == "true"
		case "vcs.time":
			b.time = s.Value
		}
	}
	return b
}

// VersionString is the version with the short commit: "(devel) 1a2b3c4d+".
func VersionString() string {
	b := ReadBuildInfo()
	s := b.version
	if b.revision != "" {
		s += " " + b.revision[:min(len(b.revision), 12)]
		if b.modified {
			s += "+"
		}
	}
	return s
}

// BuildTime is the commit time of the build, when it is known.
func BuildTime() (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, ReadBuildInfo().time)
	return t, err == nil
}

// WriteVersion writes what 'version' prints.
func WriteVersion(w io.Writer, prog string) {
	b := ReadBuildInfo()
	rev := b.revision
	if rev == "" {
		rev = "unknown (built outside a git checkout)"
	} else if b.modified {
		rev += " (modified: uncommitted changes)"
	}
	fmt.Fprintf(w, "%s %s\ncommit: %s\ngo: %s %s/%s\n", prog, b.version, rev, b.goVer, runtime.GOOS, runtime.GOARCH)
}
