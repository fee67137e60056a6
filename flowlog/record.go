package flowlog

import "net/netip"

// Record is one flow log record: one direction of one flow, seen on one
// network interface, within one aggregation window. A NODATA or SKIPDATA
// record carries only the interface and the window.
//
// Empty strings, invalid addresses and zero enums print as "-", which is how
// AWS writes a value that does not apply or could not be computed. Strings
// are written as they are: they must not hold spaces or line breaks, which
// would split the text record. A Record
// holds no pointers into packet memory; the caller may reuse one Record for
// every record it writes.
type Record struct {
	// Interface metadata, the same for every record of one interface.
	AccountID       string // account-id
	InterfaceID     string // interface-id
	VPCID           string // vpc-id
	SubnetID        string // subnet-id
	InstanceID      string // instance-id; empty for requester-managed interfaces
	Region          string // region
	AZID            string // az-id, an AZ id such as use1-az2, not a zone name
	SublocationType string // sublocation-type: wavelength, outpost or localzone
	SublocationID   string // sublocation-id

	// Window. Always valid.
	Start     int64     // start: Unix seconds of the first packet in the window
	End       int64     // end: Unix seconds of the last packet in the window
	LogStatus LogStatus // log-status; the zero value is OK

	// The flow's direction. Valid only when LogStatus is OK; otherwise every
	// field below prints "-".
	SrcAddr    netip.Addr // srcaddr; its family also gives the type field
	DstAddr    netip.Addr // dstaddr
	PktSrcAddr netip.Addr // pkt-srcaddr: the address in the packet before any NAT
	PktDstAddr netip.Addr // pkt-dstaddr
	SrcPort    uint16     // srcport (0 for ICMP and protocols without ports)
	DstPort    uint16     // dstport
	Protocol   uint8      // protocol: IANA number
	TCPFlags   TCPFlags   // tcp-flags; printed only when Protocol is 6 (TCP)
	Packets    uint64     // packets in this window
	Bytes      uint64     // bytes in this window, counted at the IP layer
	Action     Action     // action

	FlowDirection    Direction // flow-direction, relative to the interface
	TrafficPath      uint8     // traffic-path 1-8 for egress; 0 prints "-"
	PktSrcAWSService string    // pkt-src-aws-service, e.g. S3
	PktDstAWSService string    // pkt-dst-aws-service
	RejectReason     string    // reject-reason, e.g. BPA

	// ECS task metadata (version 7 fields); empty outside ECS.
	ECSClusterARN           string
	ECSClusterName          string
	ECSContainerInstanceARN string
	ECSContainerInstanceID  string
	ECSContainerID          string
	ECSSecondContainerID    string
	ECSServiceName          string
	ECSTaskDefinitionARN    string
	ECSTaskARN              string
	ECSTaskID               string
}

// Action is the action field: whether the traffic was accepted.
type Action uint8

// Actions. The zero value prints "-", as in NODATA and SKIPDATA records.
const (
	ActionNone Action = iota
	ActionAccept
	ActionReject
)

func (a Action) String() string {
	switch a {
	case ActionAccept:
		return "ACCEPT"
	case ActionReject:
		return "REJECT"
	}
	return "-"
}

// LogStatus is the log-status field.
type LogStatus uint8

// Log statuses. OK is the zero value.
const (
	LogOK       LogStatus = iota // records are being logged normally
	LogNoData                    // no traffic on the interface in the window
	LogSkipData                  // records were lost in the window
)

func (s LogStatus) String() string {
	switch s {
	case LogOK:
		return "OK"
	case LogNoData:
		return "NODATA"
	case LogSkipData:
		return "SKIPDATA"
	}
	return "-"
}

// Direction is the flow-direction field.
type Direction uint8

// Directions relative to the interface that saw the traffic. The zero value
// prints "-".
const (
	DirectionUnknown Direction = iota
	DirectionIngress
	DirectionEgress
)

func (d Direction) String() string {
	switch d {
	case DirectionIngress:
		return "ingress"
	case DirectionEgress:
		return "egress"
	}
	return "-"
}

// AddrType returns the type field: IPv4 or IPv6 after the family of SrcAddr,
// or "-" when SrcAddr is not set.
func (r *Record) AddrType() string {
	switch {
	case r.SrcAddr.Is4() || r.SrcAddr.Is4In6():
		return "IPv4"
	case r.SrcAddr.Is6():
		return "IPv6"
	}
	return "-"
}
