// Package ipfix exports flow records to IPFIX (RFC 7011) and NetFlow v9
// (RFC 3954) collectors such as nfcapd, pmacct or goflow2, over UDP or TCP.
//
// # Use
//
// New(Config) starts an Exporter; Add(*Record) queues one flow report and
// never blocks; Close sends what is queued (bounded by Config.CloseTimeout)
// and returns the final Stats. Several Exporters may run at once: each is an
// independent value with its own socket, goroutine, queue and sequence
// numbers.
//
// A Record is one report of a flow, with per-direction counters that are
// deltas since the flow's previous report: the engine sends a report with
// EndActiveTimeout for a long flow still alive (counters since the last
// report) and a final one with the real end reason (the rest). Octets are
// IP-layer bytes, exported as octetDeltaCount.
//
// # What goes on the wire
//
// By default one data record per direction that saw packets (uniflow: the
// reverse direction is its own record with endpoints, ports, counters and
// TCP flags swapped). With Config.Biflow, one RFC 5103 biflow record per
// Record: the reverse counters are the same information elements under
// enterprise number 29305, plus biflowDirection = initiator. NetFlow v9 has
// no biflows.
//
// Templates (ids 256/257 uniflow IPv4/IPv6, 258/259 biflow) carry
// sourceIPv4Address/destinationIPv4Address (8/12) or sourceIPv6Address/
// destinationIPv6Address (27/28), sourceTransportPort/destinationTransportPort
// (7/11), protocolIdentifier (4), tcpControlBits (6; 2 bytes in IPFIX, 1 in
// v9), packetDeltaCount (2), octetDeltaCount (1), flowStartMilliseconds/
// flowEndMilliseconds (152/153; v9: FIRST_SWITCHED/LAST_SWITCHED 22/21,
// relative to sysUptime), vlanId (58, outermost tag), dot1qCustomerVlanId
// (245, inner tag of a double-tagged frame), icmpTypeCodeIPv4/IPv6 (32/139;
// v9 uses 32 for both, as RFC 3954 defines only that one), flowEndReason
// (136) and ingressInterface (10). Templates go out when the exporter starts
// (TCP: on every new connection) and, over UDP, again every
// Config.TemplateInterval or Config.TemplateMessages data messages.
//
// Sequence numbers are those of the one observation domain an Exporter
// serves (Config.ObservationDomain): IPFIX counts the data records sent
// before a message, NetFlow v9 counts messages. A message that could not be
// sent does not move them. Messages never exceed Config.MaxMessageSize
// (default 1400 bytes). UDP datagrams are paced (Config.MessagesPerSecond,
// default 2000/s with bursts of 32), because collectors read with small
// default socket buffers and lose most of an unpaced burst.
//
// NetFlow v9 record times are milliseconds since a virtual boot placed 2^31
// ms (24.8 days) before the first export time, and each header's sysUptime
// is counted to the same whole second as its unix seconds, so collectors
// recover the flows' times to the millisecond.
//
// # Allocation contract
//
// Add copies the Record into a preallocated queue and does not allocate.
// The exporting goroutine appends records into one message buffer allocated
// by New and writes it to the socket; it does not allocate per record or per
// message (TestAddDoesNotAllocate, TestEncodeAllocs, and 0 allocs/op in
// BenchmarkExportUDP, which covers the goroutine too).
//
// # Concurrency contract
//
// Add, Stats and Close may be called from any goroutine. One goroutine per
// Exporter owns the encoder and the connection. Add after (or racing with)
// Close returns false and is counted in Stats.DroppedQueue; after Close,
// Added == Exported + DroppedSend + DroppedClose + Invalid holds exactly.
// When the queue is full, the collector is down (TCP: reconnects with
// exponential backoff, Config.ReconnectMin to ReconnectMax) or a send fails,
// records are dropped and counted, never waited for.
//
// # Why a hand-written encoder
//
// github.com/vmware/go-ipfix v0.12.0 (the maintained Go IPFIX exporter) was
// measured on 2026-12-04 on this project's 2-vCPU VM, sending 12-field IPv4
// records to a loopback UDP socket through its ExportingProcess in batches
// of 32 with a reused buffer: 17.25 allocations and about 620 bytes per
// record (every element value and every record is a heap object, and each
// record's bytes are built in a fresh slice), 1.36 µs per record (733,000
// records/s). It has no NetFlow v9, and it pulls in klog, pion/dtls and
// Kafka/Kubernetes modules. The encoder here appends records straight into
// the message buffer: 0 allocations, 88 ns per Record (two data records,
// uniflow) in BenchmarkEncode, and 0.54-0.80 million Records/s end to end
// over loopback UDP in BenchmarkExportUDP, where the sendto system call per
// datagram dominates. github.com/netsampler/goflow2 only decodes, and
// github.com/calmh/ipfix and github.com/CN-TU/go-ipfix are not served by the
// module proxy here, so nothing else was a candidate.
package ipfix
