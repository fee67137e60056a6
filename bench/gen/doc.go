// Package gen makes deterministic sample traffic for flowd, and the exact
// per-flow result a correct flowd must report for it (the Truth).
//
// The same Config (Seed included) gives the same bytes, frame for frame:
// all randomness comes from one PCG stream through the package's own
// integer and float derivations, so a seed keeps its traffic across Go
// releases (on one CPU architecture: math.Pow and math.Log feed the flow
// sizes).
//
// Traffic: Ethernet (some flows with an 802.1Q tag or QinQ, an 802.1ad
// outer plus an 802.1Q inner tag, Ethernet frames padded to 60 bytes),
// Linux SLL and SLL2, raw IP or BSD null links; IPv4 (some with a router
// alert option) and IPv6 (some with a hop-by-hop or destination options
// header), every checksum right; TCP connections with options, handshakes,
// request/response bursts with PSH and delayed ACKs, FIN or RST endings,
// half closes, rejected and unanswered SYNs, SYN/ACK-first captures and
// port reuse; UDP request/response, with in-order IPv4 and IPv6 fragments
// and ICMP port unreachable answers; ICMP and ICMPv6 echo (two echo ids
// between the same hosts on longer flows); time exceeded errors quoting TCP
// segments; SCTP associations (INIT to SHUTDOWN COMPLETE, DATA and SACK);
// and malformed frames of every kind in MalformedKinds. Packet counts per
// flow are skewed (Config.Skew), so a few flows are elephants. Flows
// interleave; frames come in timestamp order.
//
// Use: Generator streams frames for in-memory benchmarks,
//
//	g, err := gen.New(gen.Config{Seed: 1, Flows: 100_000, NoTruth: true})
//	var fr capture.Frame
//	for g.Next(&fr) { ... } // fr.Data is valid until the next call
//
// and WritePcap and WritePcapNG write files and return their Truth, whose
// WriteCSV writes the columns of `flowd replay --format csv`. The command
// `flowd gen` wraps them; the samples in testdata/ were made with it:
//
//	flowd gen -o testdata/sample.pcap -truth testdata/sample.truth.csv \
//	    -seed 1 -flows 300 -mean 10 -vlan 0.15 -qinq 0.1 -ip-options 0.1 \
//	    -frag 0.2 -icmp-errors 0.1 -reuse 0.08 -synack 0.06 -reject 0.04 \
//	    -unanswered 0.05 -half-close 0.2 -malformed 18
//	flowd gen -o testdata/sample-2if.pcapng -truth testdata/sample-2if.truth.csv \
//	    -seed 2 -flows 100 -link2 raw -resolution2 us -frag 0.2 -icmp-errors 0.1 \
//	    -reuse 0.08 -synack 0.06
//
// (go run ./cmd/flowd gen ... from the repository root; cmd/flowd's
// TestGenSamples fails when the files differ from what the commands make.)
//
// Allocation: Next allocates nothing per packet once the flow slab and heap
// have grown to the number of concurrently active flows (the truth, when
// kept, appends one record per flow). About 300 ns of CPU per packet on the
// 2-core build VM (2026-11, BenchmarkGenerate), so 1 M packets take well
// under a second.
//
// Concurrency: a Generator is used by one goroutine; distinct Generators
// share nothing but the read-only payload pattern.
package gen
