package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowtable"
)

// liveFlags are the live-capture settings serve and watch share.
type liveFlags struct {
	ifaces       listFlag
	meta         map[string]ifaceSpec // flow log metadata by interface name, from the config
	source       string
	bpf          string
	promisc      bool
	snapLen      int
	ringBlock    int
	ringBlocks   int
	ringTimeout  time.Duration
	noDefrag     bool
	fanout       string
	pcapBuffer   int
	pollInterval time.Duration
}

func (l *liveFlags) register(fs *cmdFlags) {
	fs.section(groupLive)
	fs.Var(ifaceFlag{l}, "iface", "capture this network interface `NAME` live (repeatable; in a config file, also a mapping with name and flow log metadata)")
	fs.StringVar(&l.source, "source", "afpacket", "live capture: afpacket (Linux; one socket per worker in a fanout group, rings read in place) or libpcap (portable; one worker per interface)")
	fs.StringVar(&l.bpf, "bpf", "", "capture only frames matching this filter `expression` (pcap-filter syntax, compiled by libpcap)")
	fs.BoolVar(&l.promisc, "promisc", false, "put the interfaces into promiscuous mode while capturing")
	fs.IntVar(&l.snapLen, "snaplen", capture.DefaultSnapLen, "bytes captured per frame at most")
	fs.IntVar(&l.ringBlock, "ring-block-size", 1<<20, "afpacket: bytes per ring block (a multiple of the page size); each socket's ring takes block size × blocks")
	fs.IntVar(&l.ringBlocks, "ring-blocks", 32, "afpacket: blocks per socket's ring (default 32 × 1 MiB = 32 MiB per worker)")
	fs.DurationVar(&l.ringTimeout, "ring-timeout", 10*time.Millisecond, "afpacket: how long the kernel holds a partly filled block")
	fs.BoolVar(&l.noDefrag, "no-defrag", false, "afpacket: do not let the kernel reassemble IP fragments before fanout (counts every fragment; with --fanout hash, a datagram's fragments may reach different workers)")
	fs.StringVar(&l.fanout, "fanout", "addr", "afpacket, several workers: how the kernel spreads frames over the workers' sockets, `MODE` addr (a BPF program hashes the IP address pair: every frame between two hosts, fragments and ICMP errors included, reaches one worker in order, but one busy host pair cannot use more than one worker) or hash (the kernel's flow hash of addresses and ports: one pair's flows spread over workers, but IPv6 fragments and ICMP errors may reach another worker than their flow, and their order relative to it is lost)")
	fs.IntVar(&l.pcapBuffer, "pcap-buffer", 32<<20, "libpcap: kernel buffer bytes")
	fs.DurationVar(&l.pollInterval, "poll-interval", 100*time.Millisecond, "how long a live source waits for frames before the engine looks at its clock and at shutdown")
}

// errLiveUsage marks a live source that cannot be opened for a reason the
// person running flowd must fix (unknown interface, no privilege, bad
// filter): exit status 2.
var errLiveUsage = errors.New("live capture")

// open opens every --iface as engine sources: with afpacket, one socket per
// worker in one fanout group per interface; with libpcap, one source per
// interface (so one worker each is all it can use). info gives the
// endpoint; Name is the interface's.
func (l *liveFlags) open(e *engine.Engine, info engine.SourceInfo) ([]engine.SourceInfo, error) {
	live := capture.LiveConfig{SnapLen: l.snapLen, Promiscuous: l.promisc, BPF: l.bpf, PollTimeout: l.pollInterval}
	var infos []engine.SourceInfo
	add := func(src capture.Source, name string) error {
		in := info
		in.Name, in.Live = name, true
		if _, err := e.AddSource(src, in); err != nil {
			src.Close()
			return err
		}
		infos = append(infos, in)
		return nil
	}
	var fanout capture.FanoutMode
	switch l.fanout {
	case "addr":
		fanout = capture.FanoutAddr
	case "hash":
		fanout = capture.FanoutHash
	default:
		return nil, fmt.Errorf("%w: --fanout %q: want addr or hash", errLiveUsage, l.fanout)
	}
	if n := len(slices.Compact(slices.Sorted(slices.Values(l.ifaces)))); n > flowtable.MaxDomain {
		fmt.Fprintf(os.Stderr, "flowd: warning: %d interfaces: flows are kept apart per interface for %d of them; interface %d and later share a tracking domain with an earlier one, so identical flows on the two are counted together\n",
			n, flowtable.MaxDomain, flowtable.MaxDomain+1)
	}
	for _, iface := range l.ifaces {
		switch l.source {
		case "afpacket":
			srcs, err := capture.OpenAFPacket(iface, e.Workers(), capture.AFPacketConfig{LiveConfig: live,
				BlockSize: l.ringBlock, BlockCount: l.ringBlocks, BlockTimeout: l.ringTimeout, NoDefrag: l.noDefrag, Fanout: fanout})
			if err != nil {
				return infos, liveError(err)
			}
			for i, s := range srcs {
				if err := add(s, iface); err != nil {
					for _, rest := range srcs[i+1:] {
						rest.Close()
					}
					return infos, err
				}
			}
		case "libpcap":
			src, err := capture.OpenLibpcap(iface, capture.LibpcapConfig{LiveConfig: live, BufferSize: l.pcapBuffer})
			if err != nil {
				return infos, liveError(err)
			}
			if err := add(src, iface); err != nil {
				return infos, err
			}
		default:
			return nil, fmt.Errorf("%w: --source %q: want afpacket or libpcap", errLiveUsage, l.source)
		}
	}
	return infos, nil
}

// liveError marks the errors a person must fix as usage errors.
func liveError(err error) error {
	for _, k := range []error{capture.ErrNoInterface, capture.ErrPermission, capture.ErrBadFilter,
		capture.ErrInterfaceDown, capture.ErrBadConfig, capture.ErrNotSupported} {
		if errors.Is(err, k) {
			return fmt.Errorf("%w: %w", errLiveUsage, err)
		}
	}
	return err
}
