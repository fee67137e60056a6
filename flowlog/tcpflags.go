package flowlog

// TCPFlags is the tcp-flags value of a record: the OR over the window's
// packets of each packet's reportable flags. Only FIN (1), SYN (2) and RST
// (4) are reported, plus 16 for a packet that carries SYN and ACK together,
// so SYN-ACK reads 18. ACK alone, PSH, URG, ECE and CWR are never reported:
// an ACK-only stream reads 0. The possible values are 0-7, 18, 19, 22 and 23;
// 19 is a short connection whose SYN-ACK and FIN fell in the same window.
type TCPFlags uint8

// Raw TCP header flag bits, as in byte 13 of the TCP header.
const (
	rawFIN = 0x01
	rawSYN = 0x02
	rawRST = 0x04
	rawACK = 0x10
)

// TCPFlagsInvalid marks a value that cannot be computed; it prints "-".
const TCPFlagsInvalid TCPFlags = 0x80

// PacketTCPFlags maps the flags byte of one TCP header to its contribution to
// tcp-flags. The mapping has to be made per packet: ORing the raw bytes first
// and mapping afterwards would turn a SYN followed by a bare ACK into 18.
func PacketTCPFlags(raw uint8) TCPFlags {
	f := TCPFlags(raw & (rawFIN | rawSYN | rawRST))
	if raw&(rawSYN|rawACK) == rawSYN|rawACK {
		f |= 16
	}
	return f
}

// Add folds one packet's raw flags byte into t.
func (t TCPFlags) Add(raw uint8) TCPFlags { return t | PacketTCPFlags(raw) }

// WindowTCPFlags returns tcp-flags for the raw flag bytes of every TCP packet
// of one direction of a flow in one window.
func WindowTCPFlags(raw []uint8) TCPFlags {
	var t TCPFlags
	for _, b := range raw {
		t |= PacketTCPFlags(b)
	}
	return t
}

// Valid reports whether t is a value AWS can report (0-7, 18, 19, 22, 23).
func (t TCPFlags) Valid() bool {
	if t&16 != 0 {
		return t&^(16|rawFIN|rawRST) == rawSYN
	}
	return t <= 7
}
