package flowtable

import (
	"fmt"
	"time"
)

// Timeouts are idle timeouts per protocol class and state: a flow ends when
// no packet arrived for this long. A zero field takes its default.
type Timeouts struct {
	TCPNew, TCPEstablished, TCPClosed time.Duration
	UDPNew, UDPEstablished            time.Duration
	ICMPNew, ICMPEstablished          time.Duration // ICMP and ICMPv6
	OtherNew, OtherEstablished        time.Duration // SCTP and every other protocol
}

// DefaultTimeouts are Suricata's shipped suricata.yaml values, except TCP
// established, which is 350 s as AWS Network Firewall's default TCP idle
// timeout. A closing TCP flow (one FIN seen) uses the established timeout,
// as Suricata's FIN_WAIT/CLOSE_WAIT states do.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		TCPNew: 60 * time.Second, TCPEstablished: 350 * time.Second, TCPClosed: 60 * time.Second,
		UDPNew: 30 * time.Second, UDPEstablished: 300 * time.Second,
		ICMPNew: 30 * time.Second, ICMPEstablished: 300 * time.Second,
		OtherNew: 30 * time.Second, OtherEstablished: 300 * time.Second,
	}
}

// DefaultEmergencyTimeouts are Suricata's emergency values, used while the
// table is full.
func DefaultEmergencyTimeouts() Timeouts {
	return Timeouts{
		TCPNew: 5 * time.Second, TCPEstablished: 100 * time.Second, TCPClosed: 10 * time.Second,
		UDPNew: 10 * time.Second, UDPEstablished: 100 * time.Second,
		ICMPNew: 10 * time.Second, ICMPEstablished: 100 * time.Second,
		OtherNew: 10 * time.Second, OtherEstablished: 100 * time.Second,
	}
}

func (t Timeouts) withDefaults(d Timeouts) Timeouts {
	pick := func(v, def time.Duration) time.Duration {
		if v == 0 {
			return def
		}
		return v
	}
	return Timeouts{
		TCPNew: pick(t.TCPNew, d.TCPNew), TCPEstablished: pick(t.TCPEstablished, d.TCPEstablished),
		TCPClosed: pick(t.TCPClosed, d.TCPClosed),
		UDPNew:    pick(t.UDPNew, d.UDPNew), UDPEstablished: pick(t.UDPEstablished, d.UDPEstablished),
		ICMPNew: pick(t.ICMPNew, d.ICMPNew), ICMPEstablished: pick(t.ICMPEstablished, d.ICMPEstablished),
		OtherNew: pick(t.OtherNew, d.OtherNew), OtherEstablished: pick(t.OtherEstablished, d.OtherEstablished),
	}
}

// Protocol classes for timeouts.
const (
	classTCP = iota
	classUDP
	classICMP
	classOther
	numClasses
)

// classOf maps an IP protocol number to its timeout class.
var classOf = func() (c [256]uint8) {
	for i := range c {
		c[i] = classOther
	}
	c[6], c[17], c[1], c[58] = classTCP, classUDP, classICMP, classICMP
	return c
}()

// table returns the timeouts in nanoseconds indexed by class and state.
func (t Timeouts) table() (tab [numClasses][numStates]int64) {
	set := func(c int, n, e, closed time.Duration) {
		tab[c][StateNew] = int64(n)
		tab[c][StateEstablished] = int64(e)
		tab[c][StateClosing] = int64(e)
		tab[c][StateClosed] = int64(closed)
	}
	set(classTCP, t.TCPNew, t.TCPEstablished, t.TCPClosed)
	// Non-TCP flows are never closing or closed; the values are for safety.
	set(classUDP, t.UDPNew, t.UDPEstablished, t.UDPEstablished)
	set(classICMP, t.ICMPNew, t.ICMPEstablished, t.ICMPEstablished)
	set(classOther, t.OtherNew, t.OtherEstablished, t.OtherEstablished)
	return tab
}

// Config sets up a Table. The zero value means defaults.
type Config struct {
	// Shards is the number of shards, one per worker (default 1).
	Shards int
	// MaxFlows bounds the flows held across all shards (default 1,048,576).
	// Each shard holds at most MaxFlows/Shards (rounded up); its slab is
	// reserved up front, but memory the OS has not touched costs nothing.
	MaxFlows int
	// Timeouts and EmergencyTimeouts: zero fields take DefaultTimeouts and
	// DefaultEmergencyTimeouts.
	Timeouts, EmergencyTimeouts Timeouts
	// EmergencyRecovery is the share of free slots, in percent, at which a
	// shard leaves emergency mode (default 30, as Suricata's
	// emergency-recovery).
	EmergencyRecovery int
	// ActiveTimeout, when set, reports a flow still in the table to the
	// shard's sink (if it is an ActiveSink) every ActiveTimeout of its age,
	// from the expiry sweep: how flow exporters report long flows while
	// they last. Zero: never.
	ActiveTimeout time.Duration
	// Window, when set, keeps per-flow counts in windows of this length
	// aligned to the Unix epoch (whole seconds, at most 18 h), for VPC flow
	// logs: when a shard's clock leaves a window, every flow that counted a
	// packet in it is reported to the shard's WindowSink with what it
	// counted there, and a flow that ends reports its last part window
	// first. Zero: off, at no cost to the packet path.
	Window time.Duration
}

// DefaultMaxFlows is the default bound on flows in a table.
const DefaultMaxFlows = 1 << 20

func (c Config) withDefaults() (Config, error) {
	if c.Shards == 0 {
		c.Shards = 1
	}
	if c.MaxFlows == 0 {
		c.MaxFlows = DefaultMaxFlows
	}
	if c.EmergencyRecovery == 0 {
		c.EmergencyRecovery = 30
	}
	if c.Window < 0 || c.Window%time.Second != 0 || c.Window > 18*time.Hour {
		return c, fmt.Errorf("flowtable: window %v: want whole seconds from 1s to 18h, or 0 for none", c.Window)
	}
	switch {
	case c.Shards < 0 || c.Shards > 1024:
		return c, fmt.Errorf("flowtable: %d shards: want 1 to 1024", c.Shards)
	case c.MaxFlows < c.Shards:
		return c, fmt.Errorf("flowtable: max flows %d: want at least one per shard (%d)", c.MaxFlows, c.Shards)
	case c.MaxFlows > 1<<31:
		return c, fmt.Errorf("flowtable: max flows %d: want at most %d", c.MaxFlows, 1<<31)
	case c.EmergencyRecovery < 1 || c.EmergencyRecovery > 99:
		return c, fmt.Errorf("flowtable: emergency recovery %d%%: want 1 to 99", c.EmergencyRecovery)
	}
	c.Timeouts = c.Timeouts.withDefaults(DefaultTimeouts())
	c.EmergencyTimeouts = c.EmergencyTimeouts.withDefaults(DefaultEmergencyTimeouts())
	for _, tt := range []Timeouts{c.Timeouts, c.EmergencyTimeouts} {
		for _, d := range []time.Duration{tt.TCPNew, tt.TCPEstablished, tt.TCPClosed, tt.UDPNew, tt.UDPEstablished,
			tt.ICMPNew, tt.ICMPEstablished, tt.OtherNew, tt.OtherEstablished} {
			if d < 0 {
				return c, fmt.Errorf("flowtable: timeout %v is negative", d)
			}
		}
	}
	return c, nil
}
