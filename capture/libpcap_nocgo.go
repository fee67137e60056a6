//go:build !cgo

package capture

import "github.com/flowd/flowd/internal/sys"

// Without cgo there is no libpcap: no Libpcap source and no BPF compiler.

func compileFilter(source, iface, expr string, link LinkType, snap int) ([]sys.SockFilter, error) {
	return nil, liveErr(source, iface, ErrBadFilter, quote(expr), errNoCgo)
}

var errNoCgo = liveErr("libpcap", "", ErrNotSupported, "(flowd was built without cgo, so without libpcap)", nil)

// Libpcap is the libpcap live source; this build has none.
type Libpcap struct{}

// OpenLibpcap reports that this build has no libpcap.
func OpenLibpcap(iface string, cfg LibpcapConfig) (*Libpcap, error) { return nil, errNoCgo }

func (s *Libpcap) ReadBatch(dst []Frame) (int, error) { return 0, ErrClosed }
func (s *Libpcap) Stats() Stats                       { return Stats{Size: -1} }
func (s *Libpcap) LiveStats() LiveStats               { return LiveStats{Stats: Stats{Size: -1}} }
func (s *Libpcap) LinkType() LinkType                 { return LinkEthernet }
func (s *Libpcap) Close() error                       { return nil }
