package engine

import (
	"slices"

	"github.com/flowd/flowd/flowtable"
)

// domainFor returns the tracking domain of a source about to be added with
// info (see flowtable.MaxDomain). Flows are kept per domain: a packet joins
// a flow only if it came through the same domain, so the same tuple seen on
// two live interfaces makes two flows (with two flow ids), as Suricata keys
// flows by live device.
//
// Every file is in domain 0: a capture split over several files continues
// its flows from one file to the next, and files fed together are counted
// as one capture, as before. Each live interface gets a domain of its own,
// 1, 2, ... in the order the interfaces are added, shared by all the
// sources of the interface (its sockets in one fanout group; live sources
// are the same interface when their SourceInfo.Name is). The key has room
// for 15: a 16th interface shares domain 1 with the first, the 17th
// domain 2, and so on, so flows of two interfaces sharing a domain are
// counted together, as all interfaces were before domains.
func (e *Engine) domainFor(info SourceInfo) uint8 {
	if !info.Live {
		return 0
	}
	var names []string // live interfaces so far, in order
	for _, s := range e.sources {
		if !s.info.Live {
			continue
		}
		if s.info.Name == info.Name {
			return s.domain
		}
		if !slices.Contains(names, s.info.Name) {
			names = append(names, s.info.Name)
		}
	}
	return uint8(len(names)%flowtable.MaxDomain + 1)
}
