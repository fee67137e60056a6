package bench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/filter"
	"github.com/flowd/flowd/flowtable"
)

// ScanFilters returns n (at most 20) filters shaped like real flow
// operations over the generator's address plan (clients in 10.0.0.0/9 and
// fd00:0:0:1::/64, servers in 198.18.0.0/15 and 2001:db8::1:0/112): client
// blocks with a server port, port ranges, single IPv6 servers, server
// addresses with protocols. Together they select about one generated flow
// in seven.
func ScanFilters(n int) []filter.Filter {
	str := func(s string) *string { return &s }
	var fs []filter.Filter
	for i := range min(n, filter.MaxFilters) {
		var f filter.Filter
		switch i % 4 {
		case 0:
			f.SourceAddress = str(fmt.Sprintf("10.%d.0.0/16", i))
			f.DestinationPort = str("443")
			f.Protocols = []string{"6"}
		case 1:
			f.SourceAddress = str(fmt.Sprintf("10.%d.128.0/17", i))
			f.DestinationPort = str("50:60")
		case 2:
			f.DestinationAddress = str(fmt.Sprintf("2001:db8::1:%x/128", i))
			f.SourcePort = str("1024:2047")
		case 3:
			f.DestinationAddress = str(fmt.Sprintf("198.18.0.%d/32", i))
			f.Protocols = []string{"17", "132"}
		}
		fs = append(fs, f)
	}
	return fs
}

// scan times one filter scan over the whole table (with one worker, on one
// core) and one StartFlowCapture through engine.Ops with the same filters.
func (h *harness) scan(ctx context.Context, e *engine.Engine, workers int, flows uint64) error {
	if h.set == nil {
		set, err := filter.Compile(ScanFilters(h.cfg.Filters), 0)
		if err != nil {
			return fmt.Errorf("bench: scan filters: %w", err)
		}
		h.set = set
	}
	runtime.GC()
	t0 := time.Now()
	res, err := e.Scan(ctx, engine.ScanRequest{Filters: h.set})
	wall := time.Since(t0)
	if err != nil {
		return fmt.Errorf("bench: scan: %w", err)
	}
	h.scans = append(h.scans, float64(wall))
	h.scanInfo = Scan{Workers: workers, Filters: h.set.Len(), Flows: flows, Matched: res.Matched}

	ops, err := engine.NewOps(e, engine.OpsConfig{})
	if err != nil {
		return fmt.Errorf("bench: flow operations: %w", err)
	}
	defer ops.Close()
	t0 = time.Now()
	op, err := ops.Start(engine.OpRequest{Type: engine.OpCapture, Filters: h.set})
	if err != nil {
		return fmt.Errorf("bench: StartFlowCapture: %w", err)
	}
	op, err = ops.Wait(ctx, op.ID)
	wall = time.Since(t0)
	if err != nil {
		return fmt.Errorf("bench: StartFlowCapture: %w", err)
	}
	h.caps = append(h.caps, float64(op.Finished.Sub(op.Requested))/1e6)
	h.capWall = append(h.capWall, float64(wall)/1e6)
	h.capInfo = CaptureOp{Flows: flows, Matched: op.Matched, Status: string(op.Status)}
	return nil
}

func (h *harness) finishScans(rep *Report) {
	if len(h.scans) == 0 {
		return
	}
	sc := h.scanInfo
	sc.WallNs = Median(h.scans)
	if sc.WallNs > 0 {
		cores := float64(min(sc.Workers, runtime.NumCPU()))
		sc.FlowsPerSecPerCore = float64(sc.Flows) / (sc.WallNs / 1e9) / cores
	}
	rep.Scan = &sc
	c := h.capInfo
	c.Ms, c.WallMs = Median(h.caps), Median(h.capWall)
	rep.Capture = &c
}

// mapTwin is the dumb twin of the engine's packet path: decode, canonical
// key, and a plain map[Key]*Flow, one goroutine, no batching, no expiry.
// It counts what the table counts (packets, bytes, IP bytes, last time, TCP
// flags per direction); ICMP errors count toward the quoted flow. Later IP
// fragments are counted under ports 0, as it keeps no fragment state.
// With memory it also returns the map's heap, measured while it is alive.
func (h *harness) mapTwin(memory bool) (s Sample, flows int, heap uint64) {
	h.br.Reset(h.cfg.Pcap)
	if err := h.file.Reset(h.br, h.cfg.Name); err != nil {
		return Sample{}, 0, 0
	}
	heap0 := heapInUse()
	m := make(map[flowtable.Key]*flowtable.Flow)
	d := &h.dec
	var mt meter
	mt.start()
	for {
		k, err := h.file.ReadBatch(h.frames)
		for i := range h.frames[:k] {
			fr := &h.frames[i]
			d.Decode(fr.Data, fr.LinkType)
			if d.Reason != decode.ReasonOK {
				continue
			}
			t := &d.Tuple
			if d.IsICMPError {
				t = &d.Inner
			}
			key, rev := flowtable.MakeKey(&t.Src, &t.Dst, t.SrcPort, t.DstPort, t.Proto, t.Family, d.VLAN)
			if d.IsICMPError {
				rev = !rev
			}
			f := m[key]
			if f == nil {
				if d.IsICMPError {
					continue
				}
				f = &flowtable.Flow{Key: key, State: flowtable.StateNew, First: fr.Timestamp, Last: fr.Timestamp}
				m[key] = f
			}
			dir := 0
			if rev {
				dir = 1
			}
			f.Pkts[dir]++
			f.Bytes[dir] += uint64(len(fr.Data))
			f.IPBytes[dir] += uint64(d.IPLen)
			f.Last = max(f.Last, fr.Timestamp)
			if d.Proto == decode.ProtoTCP && !d.IsICMPError {
				f.TCPFlags[dir] |= d.TCPFlags
			}
		}
		if err != nil {
			break // io.EOF; damage was already reported by the walk
		}
	}
	s = mt.stop()
	if memory {
		if h1 := heapInUse(); h1 > heap0 {
			heap = h1 - heap0
		}
	}
	flows = len(m)
	runtime.KeepAlive(m)
	return s, flows, heap
}

// churn pushes many short flows through a small table with short timeouts,
// one worker, and counts flows created and expired per second.
func (h *harness) churn(ctx context.Context) (*Churn, error) {
	c := h.cfg.Churn
	h.cfg.progress("churn: generating %d short flows", c.Flows)
	// Flows start at a rate that keeps about a third of the table busy
	// (each lives a few seconds plus the timeout), with no sink, as
	// replay --format none runs.
	life := 3*time.Second + c.Timeout
	rate := float64(c.Table) / 3 / life.Seconds() // flows started per second
	gcfg := gen.Config{
		Seed: c.Seed, Flows: c.Flows, MeanPackets: 3, Skew: gen.Off,
		Duration: time.Duration(float64(c.Flows) / rate * float64(time.Second)),
		VLAN:     gen.Off, QinQ: gen.Off, Malformed: -1, Sizes: gen.Small,
	}
	data, truth, err := Generate(gcfg)
	if err != nil {
		return nil, fmt.Errorf("bench: churn traffic: %w", err)
	}
	to := flowtable.Timeouts{
		TCPNew: c.Timeout, TCPEstablished: c.Timeout, TCPClosed: c.Timeout,
		UDPNew: c.Timeout, UDPEstablished: c.Timeout,
		ICMPNew: c.Timeout, ICMPEstablished: c.Timeout,
		OtherNew: c.Timeout, OtherEstablished: c.Timeout,
	}
	res := &Churn{Flows: c.Flows, Packets: truth.Packets, Table: c.Table, TimeoutNs: int64(c.Timeout)}
	var walls, cpus, allocs, created, expired []float64
	for run := range h.cfg.Runs {
		h.cfg.progress("churn: run %d/%d", run+1, h.cfg.Runs)
		e, err := newEngine(data, "churn", engine.Config{Workers: 1, BatchSize: h.cfg.BatchSize,
			Table: flowtable.Config{MaxFlows: c.Table, Timeouts: to, EmergencyTimeouts: to}})
		if err != nil {
			return nil, fmt.Errorf("churn: %w", err)
		}
		runtime.GC()
		var m meter
		m.start()
		if err := runToEnd(ctx, e); err != nil {
			e.Stop(engine.ReasonActive)
			return nil, fmt.Errorf("churn: %w", err)
		}
		s := m.stop()
		st := e.Status()
		if err := e.Stop(engine.ReasonActive); err != nil {
			return nil, fmt.Errorf("bench: churn: %w", err)
		}
		var ended uint64
		for r := engine.ReasonTimeout; r < engine.NumEndReasons; r++ {
			ended += st.Table.Ended[r]
		}
		walls = append(walls, float64(s.Wall))
		cpus = append(cpus, float64(s.CPU))
		allocs = append(allocs, float64(s.Allocs))
		created = append(created, float64(st.Table.Created))
		expired = append(expired, float64(ended))
		res.EmergencyEntered = max(res.EmergencyEntered, st.Table.EmergencyEntered)
	}
	res.WallNs, res.CPUNs = Median(walls), Median(cpus)
	res.Created, res.Expired = uint64(Median(created)), uint64(Median(expired))
	if res.WallNs > 0 {
		res.CreatedPerSec = float64(res.Created) / (res.WallNs / 1e9)
		res.ExpiredPerSec = float64(res.Expired) / (res.WallNs / 1e9)
	}
	if res.Packets > 0 {
		res.AllocsPerPacket = Median(allocs) / float64(res.Packets)
	}
	return res, nil
}
