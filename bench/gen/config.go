package gen

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flowd/flowd/capture"
)

// Off disables a share or weight of Config whose zero value means "the
// default": Config{IPv6: gen.Off} makes no IPv6 flows.
const Off = -1.0

// Link is the link-layer framing of an interface. The zero value is
// Ethernet.
type Link uint8

// Link types the generator writes.
const (
	Ethernet Link = iota // IEEE 802.3, with 802.1Q and QinQ tags on some flows
	SLL                  // Linux cooked capture v1 (16-byte header)
	SLL2                 // Linux cooked capture v2 (20-byte header)
	Raw                  // raw IPv4/IPv6 (LINKTYPE_RAW)
	Null                 // BSD null/loopback: 4-byte address family, little endian
	numLinks
)

var linkNames = [numLinks]string{"ethernet", "sll", "sll2", "raw", "null"}

func (l Link) String() string {
	if l < numLinks {
		return linkNames[l]
	}
	return fmt.Sprintf("link(%d)", uint8(l))
}

// LinkType returns the LINKTYPE_* value written to the capture file.
func (l Link) LinkType() capture.LinkType {
	switch l {
	case SLL:
		return capture.LinkLinuxSLL
	case SLL2:
		return capture.LinkLinuxSLL2
	case Raw:
		return capture.LinkRaw
	case Null:
		return capture.LinkNull
	}
	return capture.LinkEthernet
}

// ParseLink parses a link name as String writes it, or as
// capture.LinkType's String does ("linux-sll").
func ParseLink(s string) (Link, error) {
	for i, n := range linkNames {
		if strings.EqualFold(s, n) || strings.EqualFold(s, Link(i).LinkType().String()) {
			return Link(i), nil
		}
	}
	return 0, fmt.Errorf("link %q is not one of %s", s, strings.Join(linkNames[:], ", "))
}

// Resolution is the timestamp resolution of an interface.
type Resolution uint8

const (
	// DefaultResolution takes the output's default: microseconds for pcap
	// (as tcpdump writes), nanoseconds for pcapng and for the stream.
	DefaultResolution Resolution = iota
	Micro                        // microseconds
	Nano                         // nanoseconds
)

func (r Resolution) String() string {
	switch r {
	case Micro:
		return "us"
	case Nano:
		return "ns"
	}
	return "default"
}

// ParseResolution parses "us" or "ns" (also "micro", "nano").
func ParseResolution(s string) (Resolution, error) {
	switch strings.ToLower(s) {
	case "us", "µs", "micro", "usec":
		return Micro, nil
	case "ns", "nano", "nsec":
		return Nano, nil
	case "", "default":
		return DefaultResolution, nil
	}
	return 0, fmt.Errorf("resolution %q is not us or ns", s)
}

// step returns the resolution in nanoseconds.
func (r Resolution) step() int64 {
	if r == Micro {
		return 1000
	}
	return 1
}

// SizeDist is the distribution of the IP sizes of data-carrying packets
// (pure ACKs, handshakes and control chunks keep their natural sizes).
type SizeDist uint8

const (
	IMIX    SizeDist = iota // 7:4:1 of small (40-100 B), 576 B and MTU-sized packets
	Small                   // 40-128 B
	Large                   // 1000 B to the MTU
	Uniform                 // uniform from 40 B to the MTU
	numSizes
)

var sizeNames = [numSizes]string{"imix", "small", "large", "uniform"}

func (s SizeDist) String() string {
	if s < numSizes {
		return sizeNames[s]
	}
	return fmt.Sprintf("sizes(%d)", uint8(s))
}

// ParseSizeDist parses a size distribution name as String writes it.
func ParseSizeDist(s string) (SizeDist, error) {
	for i, n := range sizeNames {
		if strings.EqualFold(s, n) {
			return SizeDist(i), nil
		}
	}
	return 0, fmt.Errorf("sizes %q is not one of %s", s, strings.Join(sizeNames[:], ", "))
}

// Interface is one capture interface. A pcap file holds one; a pcapng file
// may hold several, each with its own link type and timestamp resolution.
type Interface struct {
	Link       Link       // zero: Ethernet
	Resolution Resolution // zero: the output's default
	// Weight is the interface's relative share of the flows; zero means 1.
	Weight float64
}

// Config describes the traffic to generate. The zero value is a small,
// varied default (100 flows of about 10 packets over 10 s on one Ethernet
// interface). For every share and weight, zero means "the default" and Off
// (any negative value) means none.
//
// Shares of a kind of flow are probabilities drawn per flow, so the counts
// vary around share × flows; the Truth says what was made.
type Config struct {
	// Seed selects the traffic: the same Config and Seed give the same
	// bytes, frame for frame.
	Seed uint64

	// Flows is the number of flows to make (default 100); the Truth holds
	// exactly this many (a port-reuse reconnection is one of them).
	Flows int
	// MeanPackets is the mean number of packets per flow (default 10).
	// Each flow gets at least what its script needs (a TCP connection
	// with a FIN teardown 8, SCTP 9, UDP and echo 2), so the realised mean
	// is higher when MeanPackets is below that; ICMP errors, fragments and
	// unanswered flows move it a little too.
	MeanPackets float64
	// Skew makes a few flows elephants: packets per flow follow a Lomax
	// (Pareto II) distribution with shape 1+1/Skew, the continuous kin of
	// zipf. Default 1: the top 1 % of flows carry about 10 % of the
	// packets (measured over 50 k flows of mean 10); 2 gives about 18 %;
	// Off gives an exponential distribution (4 %). Capped at 1000 ×
	// MeanPackets per flow, which lowers the mean for Skew above 2.
	Skew float64

	// Flows start at random times over [Start, Start+Duration): Start
	// defaults to 2025-01-01T00:00:00Z, Duration to 10 s. A flow lasts up
	// to about 10 s more (two connections with port reuse), and no gap
	// between two packets of a flow reaches 5 s, so with the defaults the
	// whole capture spans less than the shortest idle timeout (30 s) and no
	// flow times out. The truth does not model timeouts: with a Duration
	// above about 10 s, flows idle for 30 s or more before the end of the
	// capture may end with reason timeout in flowd, where the truth says
	// active (their counters still agree).
	Start    time.Time
	Duration time.Duration

	// IPv6 is the share of flows over IPv6 (default 0.25).
	IPv6 float64
	// VLAN and QinQ are the shares of flows on Ethernet interfaces that
	// carry one 802.1Q tag (default 0.1) or an 802.1ad outer tag plus an
	// 802.1Q inner tag (default 0.05).
	VLAN, QinQ float64
	// IPOptions is the share of IPv4 flows whose packets carry a 4-byte IP
	// option (router alert), and of IPv6 flows with a hop-by-hop or
	// destination options header before the transport (default 0.05).
	IPOptions float64

	// TCP, UDP, ICMP and SCTP weight the protocol mix; all zero means
	// 60:25:10:5. ICMP flows are echo request/reply (ICMPv6 over IPv6).
	TCP, UDP, ICMP, SCTP float64

	// FIN, RST and Open weight how TCP connections end: a FIN handshake, a
	// RST from either side, or not at all (still established at the end of
	// the capture). All zero means 70:15:15.
	FIN, RST, Open float64
	// HalfClose is the share of FIN endings where only one side closes
	// (its FIN acknowledged, no FIN back), leaving the flow closing
	// (default 0.1).
	HalfClose float64
	// Reject is the share of TCP flows whose SYN is answered by a RST
	// (default 0.02).
	Reject float64
	// Unanswered is the share of flows of every protocol that get no
	// answer: retransmitted SYNs, UDP requests, echo requests, SCTP INITs
	// (default 0.03).
	Unanswered float64
	// SynAck is the share of TCP flows captured midstream whose first
	// packet is the SYN/ACK (default 0.03).
	SynAck float64
	// Reuse is the share of TCP flows whose client reconnects from the same
	// port after the connection closed, making a second flow on the same
	// 5-tuple (default 0.03).
	Reuse float64
	// Fragments is the share of UDP flows with one datagram sent as 2-4
	// in-order IPv4 or IPv6 fragments (default 0.05).
	Fragments float64
	// ICMPErrors is the share of TCP and UDP flows that draw ICMP errors:
	// port unreachable answering each UDP request, time exceeded quoting a
	// TCP segment (ICMPv6 alike over IPv6). Default 0.03.
	ICMPErrors float64

	// Malformed is the number of malformed frames, cycling through every
	// kind (see MalformedKinds); zero means one of each, negative none.
	Malformed int

	// Sizes is the size distribution of data packets (default IMIX).
	Sizes SizeDist
	// MTU bounds IP packet sizes (default 1500, at least 1280, at most
	// 9000); bigger UDP datagrams are fragmented to fit.
	MTU int

	// Interfaces lists the capture interfaces (default one Ethernet
	// interface). Only pcapng holds more than one.
	Interfaces []Interface

	// NoTruth skips keeping per-flow truth (Truth then has only totals),
	// for big in-memory benchmarks.
	NoTruth bool
}

// DefaultStart is the default Config.Start.
var DefaultStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// maxFlows bounds Config.Flows so that every flow's client address stays
// in its block (10.0.0.0/9 holds 2^23-1 hosts of 8 flows, 10.128.0.0/9
// 2^23-1 ICMP hosts): host index maxHostIndex is the last address of a /9.
const maxFlows = maxHostIndex + 1

// Errors from Config validation.
var ErrConfig = errors.New("gen: bad config")

// settings is a Config with every default filled in and every Off turned
// into zero.
type settings struct {
	Config
	mix     [4]float64 // cumulative TCP, UDP, ICMP, SCTP
	ends    [3]float64 // cumulative FIN, RST, Open
	ifaces  []Interface
	ifCum   []float64
	ifStep  []int64
	start   int64
	dur     int64
	alpha   float64 // Lomax shape; 0 = exponential
	maxPkts int
}

func share(v, def float64) float64 {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return min(v, 1)
}

// resolve validates c and fills in defaults. defRes is the output's
// default resolution.
func (c Config) resolve(defRes Resolution) (*settings, error) {
	s := &settings{Config: c}
	if c.Flows < 0 || c.Flows > maxFlows {
		return nil, fmt.Errorf("%w: Flows %d is not between 0 and %d", ErrConfig, c.Flows, maxFlows)
	}
	if s.Flows == 0 {
		s.Flows = 100
	}
	if c.MeanPackets < 0 || c.MeanPackets > 1e6 {
		return nil, fmt.Errorf("%w: MeanPackets %g is not between 0 and 1000000", ErrConfig, c.MeanPackets)
	}
	if s.MeanPackets == 0 {
		s.MeanPackets = 10
	}
	if s.MeanPackets < 1 {
		s.MeanPackets = 1
	}
	if c.Skew > 10 {
		return nil, fmt.Errorf("%w: Skew %g is above 10", ErrConfig, c.Skew)
	}
	skew := c.Skew
	if skew == 0 {
		skew = 1
	}
	if skew > 0 {
		s.alpha = 1 + 1/skew
	}
	s.maxPkts = int(min(1000*s.MeanPackets, 1e7))
	if c.Start.IsZero() {
		s.Start = DefaultStart
	}
	s.start = s.Start.UnixNano()
	if c.Duration < 0 {
		return nil, fmt.Errorf("%w: Duration %v is negative", ErrConfig, c.Duration)
	}
	if s.Duration == 0 {
		s.Duration = 10 * time.Second
	}
	s.dur = int64(s.Duration)

	s.IPv6 = share(c.IPv6, 0.25)
	s.VLAN = share(c.VLAN, 0.1)
	s.QinQ = share(c.QinQ, 0.05)
	s.IPOptions = share(c.IPOptions, 0.05)
	s.HalfClose = share(c.HalfClose, 0.1)
	s.Reject = share(c.Reject, 0.02)
	s.Unanswered = share(c.Unanswered, 0.03)
	s.SynAck = share(c.SynAck, 0.03)
	s.Reuse = share(c.Reuse, 0.03)
	s.Fragments = share(c.Fragments, 0.05)
	s.ICMPErrors = share(c.ICMPErrors, 0.03)
	if s.Reject+s.Unanswered+s.SynAck > 1 {
		return nil, fmt.Errorf("%w: Reject+Unanswered+SynAck = %g is above 1", ErrConfig, s.Reject+s.Unanswered+s.SynAck)
	}

	mix := [4]float64{max(c.TCP, 0), max(c.UDP, 0), max(c.ICMP, 0), max(c.SCTP, 0)}
	if c.TCP == 0 && c.UDP == 0 && c.ICMP == 0 && c.SCTP == 0 {
		mix = [4]float64{60, 25, 10, 5}
	}
	if err := cumulate(mix[:], s.mix[:], "TCP+UDP+ICMP+SCTP"); err != nil {
		return nil, err
	}
	ends := [3]float64{max(c.FIN, 0), max(c.RST, 0), max(c.Open, 0)}
	if c.FIN == 0 && c.RST == 0 && c.Open == 0 {
		ends = [3]float64{70, 15, 15}
	}
	if err := cumulate(ends[:], s.ends[:], "FIN+RST+Open"); err != nil {
		return nil, err
	}

	switch {
	case c.Malformed == 0:
		s.Malformed = len(MalformedKinds)
	case c.Malformed < 0:
		s.Malformed = 0
	}
	if c.Sizes >= numSizes {
		return nil, fmt.Errorf("%w: Sizes %d is unknown", ErrConfig, c.Sizes)
	}
	if s.MTU == 0 {
		s.MTU = 1500
	}
	if s.MTU < 1280 || s.MTU > 9000 {
		return nil, fmt.Errorf("%w: MTU %d is not between 1280 and 9000", ErrConfig, c.MTU)
	}

	s.ifaces = append([]Interface(nil), c.Interfaces...)
	if len(s.ifaces) == 0 {
		s.ifaces = []Interface{{}}
	}
	if len(s.ifaces) > 255 {
		return nil, fmt.Errorf("%w: %d interfaces is above 255", ErrConfig, len(s.ifaces))
	}
	w := make([]float64, len(s.ifaces))
	for i := range s.ifaces {
		in := &s.ifaces[i]
		if in.Link >= numLinks {
			return nil, fmt.Errorf("%w: Interfaces[%d].Link %d is unknown", ErrConfig, i, in.Link)
		}
		if in.Resolution == DefaultResolution {
			in.Resolution = defRes
		}
		if in.Resolution != Micro && in.Resolution != Nano {
			return nil, fmt.Errorf("%w: Interfaces[%d].Resolution %d is unknown", ErrConfig, i, in.Resolution)
		}
		switch {
		case in.Weight < 0:
			return nil, fmt.Errorf("%w: Interfaces[%d].Weight %g is negative", ErrConfig, i, in.Weight)
		case in.Weight == 0:
			in.Weight = 1
		}
		w[i] = in.Weight
		s.ifStep = append(s.ifStep, in.Resolution.step())
	}
	s.ifCum = make([]float64, len(w))
	if err := cumulate(w, s.ifCum, "interface weights"); err != nil {
		return nil, err
	}
	s.Interfaces = s.ifaces
	return s, nil
}

// cumulate writes the normalised cumulative sums of w to out.
func cumulate(w, out []float64, what string) error {
	var sum float64
	for _, v := range w {
		sum += v
	}
	if sum <= 0 {
		return fmt.Errorf("%w: %s weights are all zero", ErrConfig, what)
	}
	var acc float64
	for i, v := range w {
		acc += v
		out[i] = acc / sum
	}
	out[len(out)-1] = 1
	return nil
}

// pick returns the index of the cumulative weight u falls under.
func pick(cum []float64, u float64) int {
	for i, c := range cum {
		if u < c {
			return i
		}
	}
	return len(cum) - 1
}
