package flowlog

import (
	"net/netip"
	"time"
)

// Tally accumulates one direction of one flow in one aggregation window: the
// engine calls Add for every packet and turns the tally into a Record when
// the window closes. The zero Tally is empty. Add does not allocate.
type Tally struct {
	Packets uint64
	Bytes   uint64   // IP-layer bytes
	First   int64    // Unix seconds of the first packet; valid when Packets > 0
	Last    int64    // Unix seconds of the last packet; valid when Packets > 0
	Flags   TCPFlags // tcp-flags so far; meaningful for TCP only
}

// Add counts one packet seen at unix seconds, of ipBytes bytes at the IP
// layer, with the raw TCP flags byte (0 for other protocols).
func (t *Tally) Add(unix int64, ipBytes uint32, rawTCPFlags uint8) {
	if t.Packets == 0 || unix < t.First {
		t.First = unix
	}
	if unix > t.Last || t.Packets == 0 {
		t.Last = unix
	}
	t.Packets++
	t.Bytes += uint64(ipBytes)
	t.Flags |= PacketTCPFlags(rawTCPFlags)
}

// Merge adds o's packets to t, as when two workers saw parts of one window.
func (t *Tally) Merge(o Tally) {
	if o.Packets == 0 {
		return
	}
	if t.Packets == 0 {
		*t = o
		return
	}
	t.First = min(t.First, o.First)
	t.Last = max(t.Last, o.Last)
	t.Packets += o.Packets
	t.Bytes += o.Bytes
	t.Flags |= o.Flags
}

// WindowStart returns the start of the aggregation window of the given
// interval that holds unix seconds. Windows are aligned to the epoch.
func WindowStart(unix int64, interval time.Duration) int64 {
	iv := int64(interval / time.Second)
	if iv <= 0 {
		return unix
	}
	q := unix / iv
	if unix < 0 && unix%iv != 0 {
		q--
	}
	return q * iv
}

// Interface is the metadata of one monitored network interface, copied into
// each of its records, and the addresses that decide flow-direction.
type Interface struct {
	// Name is the capture source's name (a pcap file's base name, a live
	// interface's name): an alias of InterfaceID in ResourceIds.
	Name            string
	AccountID       string
	InterfaceID     string
	VPCID           string
	SubnetID        string
	InstanceID      string
	Region          string
	AZID            string
	SublocationType string
	SublocationID   string
	// Local holds the interface's own addresses. Traffic to one of them is
	// ingress, traffic from one of them egress.
	Local []netip.Addr
}

// Direction returns the flow-direction of traffic from src to dst as seen by
// the interface, or DirectionUnknown when neither address is local.
func (i *Interface) Direction(src, dst netip.Addr) Direction {
	src, dst = src.Unmap(), dst.Unmap()
	for _, a := range i.Local {
		switch a.Unmap() {
		case dst:
			return DirectionIngress
		case src:
			return DirectionEgress
		}
	}
	return DirectionUnknown
}

// fill resets r and copies the interface metadata into it.
func (i *Interface) fill(r *Record) {
	*r = Record{
		AccountID: i.AccountID, InterfaceID: i.InterfaceID, VPCID: i.VPCID,
		SubnetID: i.SubnetID, InstanceID: i.InstanceID, Region: i.Region,
		AZID: i.AZID, SublocationType: i.SublocationType, SublocationID: i.SublocationID,
	}
}

// Status fills r with a NODATA or SKIPDATA record for the window
// [start, end].
func (i *Interface) Status(r *Record, status LogStatus, start, end int64) {
	i.fill(r)
	r.Start, r.End, r.LogStatus = start, end, status
}

// FlowDir identifies one direction of a flow: the addresses and ports as
// the packets carry them.
type FlowDir struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Protocol         uint8
}

// Record fills r with the record of one direction of a flow in one window.
// It returns false, leaving r reset, when the tally holds no packets: a
// direction with no packets in a window has no record. The packet addresses
// (pkt-srcaddr, pkt-dstaddr) are the flow's addresses: the host sees no NAT.
func (i *Interface) Record(r *Record, d FlowDir, t *Tally, action Action) bool {
	i.fill(r)
	if t.Packets == 0 {
		return false
	}
	r.SrcAddr, r.DstAddr = d.Src.Unmap(), d.Dst.Unmap()
	r.PktSrcAddr, r.PktDstAddr = r.SrcAddr, r.DstAddr
	r.SrcPort, r.DstPort, r.Protocol = d.SrcPort, d.DstPort, d.Protocol
	r.Packets, r.Bytes = t.Packets, t.Bytes
	r.Start, r.End = t.First, t.Last
	r.TCPFlags = t.Flags
	r.Action = action
	r.FlowDirection = i.Direction(d.Src, d.Dst)
	return true
}
