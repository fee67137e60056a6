package ipfix

import "encoding/binary"

// kind says which value of a Record a template field carries. A data record
// is written by walking its template's fields, so the template set sent to
// the collector and the data records can never disagree.
type kind uint8

const (
	kSrcAddr kind = iota // address of the record's source side
	kDstAddr
	kSrcPort
	kDstPort
	kProto
	kFlags     // TCP flags of the record's direction
	kPackets   // packets of the record's direction
	kOctets    // IP-layer octets of the record's direction
	kStartMs   // flowStartMilliseconds (IPFIX, absolute)
	kEndMs     // flowEndMilliseconds
	kFirstUp   // FIRST_SWITCHED (v9, sysUptime ms)
	kLastUp    // LAST_SWITCHED
	kVLAN0     // outermost VLAN id
	kVLAN1     // second VLAN id
	kICMP      // type<<8 | code of the record's direction
	kReason    // flowEndReason
	kIngress   // ingressInterface
	kRevFlags  // biflow: reverse direction's TCP flags
	kRevPkts   // biflow: reverse packets
	kRevOctets // biflow: reverse IP-layer octets
	kRevICMP   // biflow: reverse type<<8 | code
	kBiflowDir // biflowDirection: 1, the source is the initiator
)

// reversePEN is the private enterprise number RFC 5103 reserves for the
// reverse counterpart of every IANA information element.
const reversePEN = 29305

// field is one field specifier of a template.
type field struct {
	id   uint16 // information element id (enterprise bit not included)
	size uint16 // bytes on the wire
	pen  uint32 // enterprise number, 0 for IANA elements
	kind kind
}

// template is a prebuilt template: its fields and the size of one data record.
type template struct {
	id     uint16
	fields []field
	recLen int
}

// Template ids, the same in IPFIX and NetFlow v9 (both reserve 0-255).
const (
	tmplUni4 uint16 = 256
	tmplUni6 uint16 = 257
	tmplBi4  uint16 = 258
	tmplBi6  uint16 = 259
)

// Information element ids used below (IANA IPFIX registry; v9 shares 1-127).
const (
	ieOctetDeltaCount      = 1
	iePacketDeltaCount     = 2
	ieProtocolIdentifier   = 4
	ieTCPControlBits       = 6
	ieSourceTransportPort  = 7
	ieSourceIPv4Address    = 8
	ieIngressInterface     = 10
	ieDestTransportPort    = 11
	ieDestIPv4Address      = 12
	ieLastSwitched         = 21 // v9 LAST_SWITCHED (flowEndSysUpTime)
	ieFirstSwitched        = 22 // v9 FIRST_SWITCHED (flowStartSysUpTime)
	ieSourceIPv6Address    = 27
	ieDestIPv6Address      = 28
	ieICMPTypeCodeIPv4     = 32
	ieVLANID               = 58
	ieFlowEndReason        = 136
	ieICMPTypeCodeIPv6     = 139
	ieFlowStartMillis      = 152
	ieFlowEndMillis        = 153
	ieBiflowDirection      = 239
	ieDot1qCustomerVLANID  = 245
	ipfixTemplateSetID     = 2
	v9TemplateFlowSetID    = 0
	minDataSetID           = 256
	biflowDirectionInitiat = 1 // biflowDirection: source address is the initiator
)

// buildTemplate lays out the fields of one template. IPFIX uses the 16-bit
// tcpControlBits of RFC 7125 and absolute millisecond times; NetFlow v9 the
// 8-bit TCP_FLAGS and sysUptime-relative FIRST/LAST_SWITCHED. Field order
// puts the key first, as most exporters do.
func buildTemplate(id uint16, p Protocol, family uint8, biflow bool) *template {
	var f []field
	if family == 4 {
		f = append(f,
			field{id: ieSourceIPv4Address, size: 4, kind: kSrcAddr},
			field{id: ieDestIPv4Address, size: 4, kind: kDstAddr})
	} else {
		f = append(f,
			field{id: ieSourceIPv6Address, size: 16, kind: kSrcAddr},
			field{id: ieDestIPv6Address, size: 16, kind: kDstAddr})
	}
	flagSize := uint16(2)
	if p == NetFlow9 {
		flagSize = 1
	}
	f = append(f,
		field{id: ieSourceTransportPort, size: 2, kind: kSrcPort},
		field{id: ieDestTransportPort, size: 2, kind: kDstPort},
		field{id: ieProtocolIdentifier, size: 1, kind: kProto},
		field{id: ieTCPControlBits, size: flagSize, kind: kFlags},
		field{id: iePacketDeltaCount, size: 8, kind: kPackets},
		field{id: ieOctetDeltaCount, size: 8, kind: kOctets})
	if p == NetFlow9 {
		f = append(f,
			field{id: ieFirstSwitched, size: 4, kind: kFirstUp},
			field{id: ieLastSwitched, size: 4, kind: kLastUp})
	} else {
		f = append(f,
			field{id: ieFlowStartMillis, size: 8, kind: kStartMs},
			field{id: ieFlowEndMillis, size: 8, kind: kEndMs})
	}
	// RFC 3954 has one ICMP_TYPE (32) for both families; NetFlow v9
	// collectors (nfdump among them) do not know the IPFIX-only 139.
	icmpIE := uint16(ieICMPTypeCodeIPv4)
	if family == 6 && p == IPFIX {
		icmpIE = ieICMPTypeCodeIPv6
	}
	f = append(f,
		field{id: ieVLANID, size: 2, kind: kVLAN0},
		field{id: ieDot1qCustomerVLANID, size: 2, kind: kVLAN1},
		field{id: icmpIE, size: 2, kind: kICMP},
		field{id: ieFlowEndReason, size: 1, kind: kReason},
		field{id: ieIngressInterface, size: 4, kind: kIngress})
	if biflow {
		f = append(f,
			field{id: iePacketDeltaCount, size: 8, pen: reversePEN, kind: kRevPkts},
			field{id: ieOctetDeltaCount, size: 8, pen: reversePEN, kind: kRevOctets},
			field{id: ieTCPControlBits, size: flagSize, pen: reversePEN, kind: kRevFlags},
			field{id: icmpIE, size: 2, pen: reversePEN, kind: kRevICMP},
			field{id: ieBiflowDirection, size: 1, kind: kBiflowDir})
	}
	t := &template{id: id, fields: f}
	for _, x := range f {
		t.recLen += int(x.size)
	}
	return t
}

// appendTemplateRecord appends the template record (header and field
// specifiers) of t. An enterprise-specific field has the top bit of its id
// set and its enterprise number after the length.
func appendTemplateRecord(b []byte, t *template) []byte {
	b = binary.BigEndian.AppendUint16(b, t.id)
	b = binary.BigEndian.AppendUint16(b, uint16(len(t.fields)))
	for _, f := range t.fields {
		id := f.id
		if f.pen != 0 {
			id |= 0x8000
		}
		b = binary.BigEndian.AppendUint16(b, id)
		b = binary.BigEndian.AppendUint16(b, f.size)
		if f.pen != 0 {
			b = binary.BigEndian.AppendUint32(b, f.pen)
		}
	}
	return b
}
