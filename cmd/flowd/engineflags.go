package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowtable"
)

// engineFlags are the settings every command that runs the engine shares.
type engineFlags struct {
	workers  int
	maxFlows int
	batch    int
	clock    string
	to, emg  flowtable.Timeouts
	// tunnel decoding
	genevePorts, vxlanPorts, teredoPorts string
	vxlanPermissive, noTunnels           bool
	tunnelDepth                          int
}

func (ef *engineFlags) register(fs *cmdFlags) {
	d, de := flowtable.DefaultTimeouts(), flowtable.DefaultEmergencyTimeouts()
	fs.section(groupTable)
	fs.IntVar(&ef.workers, "workers", 1, "worker goroutines, each owning one shard of the flow table")
	fs.IntVar(&ef.maxFlows, "max-flows", flowtable.DefaultMaxFlows, "most flows held at once (120 B + index each); a full table enters emergency mode")
	fs.StringVar(&ef.clock, "clock", "packet", "engine clock after the files end: packet (stands still) or wall (keeps running)")
	for _, t := range []struct {
		name string
		p    *time.Duration
		def  time.Duration
		what string
	}{
		{"timeout-tcp-new", &ef.to.TCPNew, d.TCPNew, "idle timeout of a TCP flow seen in one direction only"},
		{"timeout-tcp-established", &ef.to.TCPEstablished, d.TCPEstablished, "idle timeout of an established or closing TCP flow (AWS Network Firewall's default)"},
		{"timeout-tcp-closed", &ef.to.TCPClosed, d.TCPClosed, "how long a closed TCP flow stays in the table"},
		{"timeout-udp-new", &ef.to.UDPNew, d.UDPNew, "idle timeout of a one-way UDP flow"},
		{"timeout-udp-established", &ef.to.UDPEstablished, d.UDPEstablished, "idle timeout of a two-way UDP flow"},
		{"timeout-icmp-new", &ef.to.ICMPNew, d.ICMPNew, "idle timeout of a one-way ICMP/ICMPv6 flow"},
		{"timeout-icmp-established", &ef.to.ICMPEstablished, d.ICMPEstablished, "idle timeout of a two-way ICMP/ICMPv6 flow"},
		{"timeout-other-new", &ef.to.OtherNew, d.OtherNew, "idle timeout of a one-way flow of any other protocol (SCTP, GRE, ...)"},
		{"timeout-other-established", &ef.to.OtherEstablished, d.OtherEstablished, "idle timeout of a two-way flow of any other protocol"},
		{"emergency-timeout-tcp-new", &ef.emg.TCPNew, de.TCPNew, "TCP new timeout while the table is full"},
		{"emergency-timeout-tcp-established", &ef.emg.TCPEstablished, de.TCPEstablished, "TCP established timeout while the table is full"},
		{"emergency-timeout-tcp-closed", &ef.emg.TCPClosed, de.TCPClosed, "TCP closed timeout while the table is full"},
		{"emergency-timeout-udp-new", &ef.emg.UDPNew, de.UDPNew, "UDP new timeout while the table is full"},
		{"emergency-timeout-udp-established", &ef.emg.UDPEstablished, de.UDPEstablished, "UDP established timeout while the table is full"},
		{"emergency-timeout-icmp-new", &ef.emg.ICMPNew, de.ICMPNew, "ICMP new timeout while the table is full"},
		{"emergency-timeout-icmp-established", &ef.emg.ICMPEstablished, de.ICMPEstablished, "ICMP established timeout while the table is full"},
		{"emergency-timeout-other-new", &ef.emg.OtherNew, de.OtherNew, "other protocols' new timeout while the table is full"},
		{"emergency-timeout-other-established", &ef.emg.OtherEstablished, de.OtherEstablished, "other protocols' established timeout while the table is full"},
	} {
		if strings.HasPrefix(t.name, "emergency-") {
			fs.section(groupEmergency)
		}
		fs.DurationVar(t.p, t.name, t.def, t.what)
	}
	fs.section(groupAdvanced)
	fs.IntVar(&ef.batch, "batch", engine.DefaultBatchSize, "frames read and packets handed to a worker at a time")
	fs.StringVar(&ef.genevePorts, "geneve-ports", strconv.Itoa(decode.GenevePort), "UDP ports (source or destination, comma-separated, at most 8) carrying GENEVE; empty: none")
	fs.StringVar(&ef.vxlanPorts, "vxlan-ports", strconv.Itoa(decode.VXLANPort), "UDP destination ports (comma-separated, at most 8) carrying VXLAN; empty: none")
	fs.StringVar(&ef.teredoPorts, "teredo-ports", strconv.Itoa(decode.TeredoPort), "UDP ports (comma-separated, at most 8) that may carry Teredo; empty: none")
	fs.BoolVar(&ef.vxlanPermissive, "vxlan-permissive", false, "accept VXLAN headers with reserved bits set (group policy, vendor uses) instead of counting them bad_vxlan")
	fs.IntVar(&ef.tunnelDepth, "tunnel-depth", decode.DefaultMaxTunnelDepth, "how many tunnels deep packets are decoded into flows of their own (1-16); deeper ones are counted, not decoded")
	fs.BoolVar(&ef.noTunnels, "no-tunnels", false, "decode no tunnels: tunnel packets are flows of their outer headers only")
}

// tunnelConfig is the decoder's tunnel settings from the flags.
func (ef *engineFlags) tunnelConfig() (decode.Config, error) {
	c := decode.Config{VXLANPermissive: ef.vxlanPermissive, NoTunnels: ef.noTunnels, MaxTunnelDepth: ef.tunnelDepth}
	for _, l := range []struct {
		flag, val string
		to        *[]uint16
	}{{"geneve-ports", ef.genevePorts, &c.GenevePorts}, {"vxlan-ports", ef.vxlanPorts, &c.VXLANPorts}, {"teredo-ports", ef.teredoPorts, &c.TeredoPorts}} {
		ports := []uint16{} // empty, not nil: none
		for _, f := range strings.Split(l.val, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			n, err := strconv.ParseUint(f, 10, 16)
			if err != nil || n == 0 {
				return c, usagef("--%s %q: %q is not a port (1-65535)", l.flag, l.val, f)
			}
			ports = append(ports, uint16(n))
		}
		if len(ports) > decode.MaxTunnelPorts {
			return c, usagef("--%s %q: %d ports, at most %d", l.flag, l.val, len(ports), decode.MaxTunnelPorts)
		}
		*l.to = ports
	}
	if ef.tunnelDepth < 1 || ef.tunnelDepth > 16 {
		return c, usagef("--tunnel-depth %d: want 1 to 16", ef.tunnelDepth)
	}
	return c, nil
}

func (ef *engineFlags) config() (engine.Config, error) {
	mode, err := engine.ParseClockMode(ef.clock)
	if err != nil {
		return engine.Config{}, usagef("--clock: %v", err)
	}
	if ef.workers < 1 {
		return engine.Config{}, usagef("--workers %d: want at least 1", ef.workers)
	}
	if ef.maxFlows < ef.workers {
		return engine.Config{}, usagef("--max-flows %d: want at least one flow per worker (%d)", ef.maxFlows, ef.workers)
	}
	// The decoder's tunnel settings are process-wide: set them every time,
	// so a command run after another (the tests run many in one process)
	// never keeps the previous one's.
	tc, err := ef.tunnelConfig()
	if err != nil {
		return engine.Config{}, err
	}
	if err := decode.Configure(tc); err != nil {
		return engine.Config{}, usagef("%v", err)
	}
	return engine.Config{
		Workers:   ef.workers,
		BatchSize: ef.batch,
		Clock:     mode,
		Table:     flowtable.Config{MaxFlows: ef.maxFlows, Timeouts: ef.to, EmergencyTimeouts: ef.emg},
	}, nil
}

// sourceName names a file source after its base name without the capture
// extensions, as flow logs name interfaces: "/tmp/edge-1.pcap.gz" is "edge-1".
func sourceName(path string) string {
	name := filepath.Base(path)
	for _, ext := range []string{".gz", ".pcapng", ".pcap", ".cap"} {
		name = strings.TrimSuffix(name, ext)
	}
	return name
}

// sourceNames names flows' sources for the output writers.
func sourceNames(infos []engine.SourceInfo) func(id uint16) string {
	return func(id uint16) string {
		if int(id) < len(infos) {
			return infos[id].Name
		}
		return fmt.Sprint(id)
	}
}

// openFile opens a capture file as an engine source; info's Name defaults to
// the file's base name and its Path is the spec's.
func openFile(e *engine.Engine, spec pcapSpec, info engine.SourceInfo) (engine.SourceInfo, error) {
	info.Name, info.Path = spec.Name, spec.Path
	if info.Name == "" {
		info.Name = sourceName(spec.Path)
	}
	f, err := capture.OpenFile(spec.Path)
	if err != nil {
		return info, err
	}
	if _, err := e.AddSource(f, info); err != nil {
		f.Close()
		return info, err
	}
	return info, nil
}

// longestTimeout is the longest idle timeout set: a gap in packet time
// longer than it ends every flow.
func (ef *engineFlags) longestTimeout() time.Duration {
	t := ef.to
	return max(t.TCPNew, t.TCPEstablished, t.TCPClosed, t.UDPNew, t.UDPEstablished,
		t.ICMPNew, t.ICMPEstablished, t.OtherNew, t.OtherEstablished)
}
