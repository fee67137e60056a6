package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/internal/synth"
)

func tunnelKindNames() []string {
	var n []string
	for _, k := range synth.AllTunnelKinds() {
		n = append(n, k.String())
	}
	return n
}

const genUsage = `Usage: flowd gen [flags]

Writes deterministic sample traffic (pcap or pcapng) and, with -truth, the
exact per-flow result a correct flowd must report for it, as CSV with the
columns of 'flowd replay --format csv'. The same flags and seed always give
the same bytes. Shares are fractions of flows (0 turns a kind off); weights
are relative. -tunnels, -vlan3 and -esp (off by default) add flows in
tunnels of every kind flowd decodes (GENEVE with Gateway Load Balancer
options, VXLAN, GRE with a key and with Ethernet inside, ERSPAN I/II/III,
IPv4/IPv6 in IPv4/IPv6, EtherIP, Teredo, nested up to past flowd's depth
limit, outer IPv4 fragments), with three or four VLAN tags, and ESP pairs;
the truth lists the flows inside tunnels and the tunnels' own flows.
`

// runGen is the 'flowd gen' command.
func runGen(args []string) error {
	fs := newCmdFlags("gen", genUsage)
	fs.section(groupOutput)
	out := fs.String("o", "-", "output `file` (- for stdout, refused when stdout is a terminal)")
	format := fs.String("format", "", "capture `format`: pcap or pcapng (default: pcapng when -o ends in .pcapng or .pcapng.gz, else pcap)")
	truthFile := fs.String("truth", "", "write the truth CSV to this `file`")
	gz := fs.Bool("gzip", false, "gzip the capture (implied by a .gz suffix on -o)")
	fs.section(groupGeneral)
	seed := fs.Uint64("seed", 1, "random seed")
	flows := fs.Int("flows", 100, "number of flows")
	packets := fs.Int("packets", 0, "about this many packets in all (sets -mean to packets/flows; 0: use -mean)")
	mean := fs.Float64("mean", 10, "mean packets per flow")
	skew := fs.Float64("skew", 1, "elephant skew: packets per flow are Lomax with shape 1+1/skew (0: exponential)")
	start := fs.String("start", gen.DefaultStart.Format(time.RFC3339), "start of the span over which flows start (RFC 3339)")
	duration := fs.Duration("duration", 10*time.Second, "span over which flows start")
	ipv6 := fs.Float64("ipv6", 0.25, "share of flows over IPv6")
	vlan := fs.Float64("vlan", 0.1, "share of Ethernet flows with one 802.1Q tag")
	qinq := fs.Float64("qinq", 0.05, "share of Ethernet flows with QinQ tags (802.1ad outer, 802.1Q inner)")
	ipopt := fs.Float64("ip-options", 0.05, "share of flows with an IPv4 option or IPv6 extension header")
	tcp := fs.Float64("tcp", 60, "weight of TCP flows")
	udp := fs.Float64("udp", 25, "weight of UDP flows")
	icmp := fs.Float64("icmp", 10, "weight of ICMP/ICMPv6 echo flows")
	sctp := fs.Float64("sctp", 5, "weight of SCTP flows")
	fin := fs.Float64("fin", 70, "weight of TCP connections ending with FINs")
	rst := fs.Float64("rst", 15, "weight of TCP connections ending with a RST")
	open := fs.Float64("open", 15, "weight of TCP connections left open")
	half := fs.Float64("half-close", 0.1, "share of FIN endings that only half-close (state closing)")
	reject := fs.Float64("reject", 0.02, "share of TCP flows whose SYN is answered by a RST")
	unanswered := fs.Float64("unanswered", 0.03, "share of flows that get no answer")
	synack := fs.Float64("synack", 0.03, "share of TCP flows captured from the SYN/ACK on")
	reuse := fs.Float64("reuse", 0.03, "share of TCP flows that reconnect from the same port after closing")
	frags := fs.Float64("frag", 0.05, "share of UDP flows with a datagram sent as 2-4 IP fragments")
	icmpErr := fs.Float64("icmp-errors", 0.03, "share of TCP and UDP flows that draw ICMP errors")
	malformed := fs.Int("malformed", len(gen.MalformedKinds), "number of malformed frames (cycling through every kind)")
	sizes := fs.String("sizes", "imix", "data packet sizes: imix, small, large or uniform")
	mtu := fs.Int("mtu", 1500, "largest IP packet (1280-9000); bigger UDP datagrams are fragmented")
	link := fs.String("link", "ethernet", "link type: ethernet, sll, sll2, raw or null")
	res := fs.String("resolution", "", "timestamp resolution, us or ns (default: us for pcap, ns for pcapng)")
	link2 := fs.String("link2", "", "pcapng only: add a second interface with this link type")
	res2 := fs.String("resolution2", "us", "timestamp resolution of the second interface")
	share2 := fs.Float64("link2-share", 0.5, "share of flows on the second interface")
	tunnels := fs.Float64("tunnels", 0, "share of flows carried in tunnels (Ethernet, first interface); the truth also lists each tunnel's own flow")
	tunnelKinds := fs.String("tunnel-kinds", "all", "`kinds` of tunnel, taking turns: all, or some of "+strings.Join(tunnelKindNames(), ","))
	vlan3 := fs.Float64("vlan3", 0, "share of flows with three VLAN tags (every fourth with four; keyed by three)")
	esp := fs.Float64("esp", 0, "share of flows that are ESP, in pairs of security associations (one flow per SPI and direction)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}

	// Flags say 0 for "none"; Config says Off.
	off := func(v float64) float64 {
		if v == 0 {
			return gen.Off
		}
		return v
	}
	cfg := gen.Config{
		Seed: *seed, Flows: *flows, MeanPackets: *mean, Skew: off(*skew), Duration: *duration,
		IPv6: off(*ipv6), VLAN: off(*vlan), QinQ: off(*qinq), IPOptions: off(*ipopt),
		TCP: off(*tcp), UDP: off(*udp), ICMP: off(*icmp), SCTP: off(*sctp),
		FIN: off(*fin), RST: off(*rst), Open: off(*open),
		HalfClose: off(*half), Reject: off(*reject), Unanswered: off(*unanswered),
		SynAck: off(*synack), Reuse: off(*reuse), Fragments: off(*frags), ICMPErrors: off(*icmpErr),
		Malformed: *malformed, MTU: *mtu,
	}
	if *malformed == 0 {
		cfg.Malformed = -1
	}
	if *flows <= 0 {
		return usagef("-flows %d: must be at least 1", *flows)
	}
	if *packets < 0 {
		return usagef("-packets %d: must not be negative", *packets)
	}
	if *packets > 0 {
		cfg.MeanPackets = float64(*packets) / float64(*flows)
	}
	if cfg.MeanPackets < 1 {
		return usagef("-mean %g: must be at least 1 packet per flow", cfg.MeanPackets)
	}
	if *duration <= 0 {
		return usagef("-duration %v: must be positive", *duration)
	}
	t, err := time.Parse(time.RFC3339Nano, *start)
	if err != nil {
		return usagef("-start %q: not an RFC 3339 time", *start)
	}
	cfg.Start = t
	if cfg.Sizes, err = gen.ParseSizeDist(*sizes); err != nil {
		return usagef("-sizes: %v", err)
	}
	in := gen.Interface{}
	if in.Link, err = gen.ParseLink(*link); err != nil {
		return usagef("-link: %v", err)
	}
	if in.Resolution, err = gen.ParseResolution(*res); err != nil {
		return usagef("-resolution: %v", err)
	}
	cfg.Interfaces = []gen.Interface{in}

	name := *out
	compress := *gz || strings.HasSuffix(name, ".gz")
	plain := strings.TrimSuffix(name, ".gz")
	f := *format
	if f == "" {
		f = "pcap"
		if strings.HasSuffix(plain, ".pcapng") {
			f = "pcapng"
		}
	}
	if f != "pcap" && f != "pcapng" {
		return usagef("-format %q: must be pcap or pcapng", f)
	}
	if *link2 != "" {
		if f != "pcapng" {
			return usagef("-link2 needs -format pcapng: a pcap file holds one interface")
		}
		if *share2 <= 0 || *share2 >= 1 {
			return usagef("-link2-share %g: must be between 0 and 1", *share2)
		}
		in2 := gen.Interface{Weight: *share2}
		if in2.Link, err = gen.ParseLink(*link2); err != nil {
			return usagef("-link2: %v", err)
		}
		if in2.Resolution, err = gen.ParseResolution(*res2); err != nil {
			return usagef("-resolution2: %v", err)
		}
		cfg.Interfaces[0].Weight = 1 - *share2
		cfg.Interfaces = append(cfg.Interfaces, in2)
	}

	var x synth.Extra
	for _, v := range []struct {
		name  string
		share float64
	}{{"tunnels", *tunnels}, {"vlan3", *vlan3}, {"esp", *esp}} {
		if v.share < 0 || v.share >= 1 {
			return usagef("-%s %g: must be at least 0 and below 1", v.name, v.share)
		}
	}
	x.Tunnelled = int(*tunnels * float64(*flows))
	x.VLAN3 = int(*vlan3 * float64(*flows))
	x.ESP = int(*esp * float64(*flows) / 2)
	if x.Kinds, err = synth.ParseTunnelKinds(*tunnelKinds); err != nil {
		return usagef("-tunnel-kinds: %v", err)
	}
	if x.On() {
		// The extra flows come out of -flows; bench/gen makes the rest.
		rest := *flows - x.Tunnelled - x.VLAN3 - 2*x.ESP
		if rest < 1 {
			return usagef("-tunnels + -vlan3 + -esp: %d flows leave none of -flows %d to the other kinds", *flows-rest, *flows)
		}
		if cfg.Interfaces[0].Link != gen.Ethernet {
			return usagef("-tunnels, -vlan3 and -esp need -link ethernet")
		}
		cfg.Flows = rest
		x.Seed = cfg.Seed
	}

	var w io.Writer
	var file *os.File
	if name == "-" {
		if isTerminal(os.Stdout) {
			return errors.New("refusing to write a capture to a terminal; use -o FILE or a pipe")
		}
		w = os.Stdout
	} else {
		file, err = os.Create(name)
		if err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	w = bw
	var zw *gzip.Writer
	if compress {
		zw = gzip.NewWriter(bw)
		w = zw
	}
	var truth *gen.Truth
	switch {
	case x.On() && f == "pcapng":
		truth, _, err = synth.WritePcapNG(w, cfg, x)
	case x.On():
		truth, _, err = synth.WritePcap(w, cfg, x)
	case f == "pcapng":
		truth, err = gen.WritePcapNG(w, cfg)
	default:
		truth, err = gen.WritePcap(w, cfg)
	}
	if err != nil {
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return err
		}
	}
	if *truthFile != "" {
		tf, err := os.Create(*truthFile)
		if err != nil {
			return err
		}
		tw := bufio.NewWriter(tf)
		if err := truth.WriteCSV(tw); err != nil {
			tf.Close()
			return err
		}
		if err := tw.Flush(); err != nil {
			tf.Close()
			return err
		}
		if err := tf.Close(); err != nil {
			return err
		}
	}
	var bad uint64
	for _, n := range truth.DecodeErrors {
		bad += n
	}
	fmt.Fprintf(os.Stderr, "flowd gen: %d packets, %d bytes, %d flows, %d malformed frames, %s to %s\n",
		truth.Packets, truth.Bytes, len(truth.Flows), bad,
		time.Unix(0, truth.First).UTC().Format(time.RFC3339Nano), time.Unix(0, truth.Last).UTC().Format(time.RFC3339Nano))
	return nil
}
