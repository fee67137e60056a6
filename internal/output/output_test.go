package output

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/engine"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 900_000_000, time.UTC) // .9 s: age rounds by seconds

// flowsFor returns three flows as the engine hands them to sinks: a TCP
// connection over IPv6 on VLANs 10/20 (client first, FIN both ways), an
// ICMP echo over IPv4, and a UDP flow whose only packet is from the client;
// every packet 100 frame bytes, 80 IP bytes.
func flowsFor(t *testing.T) []engine.Flow {
	t.Helper()
	addr := func(s string) (a [16]byte, fam uint8) {
		ip := netip.MustParseAddr(s)
		if ip.Is4() {
			v4 := ip.As4()
			copy(a[:], v4[:])
			return a, 4
		}
		return ip.As16(), 6
	}
	flow := func(proto uint8, src string, sp uint16, dst string, dp uint16, pkts [2]uint64, last time.Duration) engine.Flow {
		f := engine.Flow{Proto: proto, SrcPort: sp, DstPort: dp, Pkts: pkts,
			Bytes: [2]uint64{100 * pkts[0], 100 * pkts[1]}, IPBytes: [2]uint64{80 * pkts[0], 80 * pkts[1]},
			First: t0.UnixNano(), Last: t0.Add(last).UnixNano(), State: engine.StateEstablished}
		f.Src, f.Family = addr(src)
		f.Dst, _ = addr(dst)
		f.ID = uint64(proto) << 40
		return f
	}
	tcp := flow(6, "2001:db8::1", 40000, "2001:db8::2", 443, [2]uint64{2, 2}, 200*time.Millisecond)
	tcp.VLAN = [3]uint16{10, 20, 30}
	tcp.TCPFlags = [2]uint8{0x13, 0x13}
	tcp.State = engine.StateClosed
	icmp := flow(1, "10.0.0.1", 0, "10.0.0.2", 0, [2]uint64{1, 1}, 1500*time.Millisecond)
	icmp.ICMPType = 8
	udp := flow(17, "10.0.0.1", 5353, "224.0.0.251", 5353, [2]uint64{1, 0}, 0)
	udp.State = engine.StateNew
	return []engine.Flow{tcp, icmp, udp}
}

func write(t *testing.T, f Format, flows []engine.Flow) string {
	t.Helper()
	var b bytes.Buffer
	w, err := New(f, &b, Options{SourceName: func(uint16) string { return "edge" }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range flows {
		if err := w.Write(&flows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCSV(t *testing.T) {
	out := write(t, FormatCSV, flowsFor(t))
	want := CSVHeader + "\n" +
		"6,2001:db8::1,40000,2001:db8::2,443,10/20/30,2,2,200,200,160,160,2026-11-21T12:00:00.900000Z,2026-11-21T12:00:01.100000Z,1,closed,active\n" +
		"1,10.0.0.1,0,10.0.0.2,0,,1,1,100,100,80,80,2026-11-21T12:00:00.900000Z,2026-11-21T12:00:02.400000Z,2,established,active\n" +
		"17,10.0.0.1,5353,224.0.0.251,5353,,1,0,100,0,80,0,2026-11-21T12:00:00.900000Z,2026-11-21T12:00:00.900000Z,0,new,active\n"
	if out != want {
		t.Errorf("csv:\n%s\nwant:\n%s", out, want)
	}
	if got := write(t, FormatCSV, nil); got != CSVHeader+"\n" {
		t.Errorf("csv of no flows = %q, want the header alone", got)
	}
}

func TestEVE(t *testing.T) {
	flows := flowsFor(t)
	flows[0].Reason = engine.ReasonEvicted
	lines := strings.Split(strings.TrimSpace(write(t, FormatEVE, flows)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3", len(lines))
	}
	var ev []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, l)
		}
		ev = append(ev, m)
	}
	tcp, icmp, udp := ev[0], ev[1], ev[2]
	for k, want := range map[string]any{
		"timestamp": "2026-11-21T12:00:01.100000+0000", "event_type": "flow", "in_iface": "edge",
		"src_ip": "2001:0db8:0000:0000:0000:0000:0000:0001", "src_port": 40000.0, "dest_ip": "2001:0db8:0000:0000:0000:0000:0000:0002", "dest_port": 443.0,
		"proto": "TCP", "ip_v": 6.0,
	} {
		if tcp[k] != want {
			t.Errorf("tcp %s = %v, want %v", k, tcp[k], want)
		}
	}
	if id, _ := tcp["community_id"].(string); id != string(appendCommunityID(nil, &flows[0], 0)) || len(id) != 30 {
		t.Errorf("community_id = %v", tcp["community_id"])
	}
	if v := tcp["vlan"].([]any); len(v) != 3 || v[0] != 10.0 || v[1] != 20.0 || v[2] != 30.0 {
		t.Errorf("vlan = %v", v)
	}
	fl := tcp["flow"].(map[string]any)
	for k, want := range map[string]any{
		"pkts_toserver": 2.0, "pkts_toclient": 2.0, "bytes_toserver": 200.0, "bytes_toclient": 200.0,
		"start": "2026-11-21T12:00:00.900000+0000", "end": "2026-11-21T12:00:01.100000+0000",
		"age": 1.0, "state": "closed", "reason": "forced", "alerted": false,
	} {
		if fl[k] != want {
			t.Errorf("tcp flow.%s = %v, want %v", k, fl[k], want)
		}
	}
	tc := tcp["tcp"].(map[string]any)
	for k, want := range map[string]any{"tcp_flags": "13", "tcp_flags_ts": "13", "tcp_flags_tc": "13",
		"syn": true, "fin": true, "ack": true, "state": "closed"} {
		if tc[k] != want {
			t.Errorf("tcp.%s = %v, want %v", k, tc[k], want)
		}
	}
	if _, ok := tc["rst"]; ok {
		t.Error("tcp.rst present although no RST was seen (Suricata omits false flags)")
	}
	// ICMP: no ports, type and code, Suricata's state and reason words.
	if _, ok := icmp["src_port"]; ok {
		t.Error("ICMP event has ports")
	}
	if icmp["proto"] != "ICMP" || icmp["icmp_type"] != 8.0 || icmp["icmp_code"] != 0.0 {
		t.Errorf("icmp event: proto %v type %v code %v", icmp["proto"], icmp["icmp_type"], icmp["icmp_code"])
	}
	// The echo was answered: Suricata's response type (the answering type)
	// and code (always 0: it keeps nothing of the answer).
	if icmp["response_icmp_type"] != 0.0 || icmp["response_icmp_code"] != 0.0 {
		t.Errorf("icmp event: response type %v code %v, want 0 and 0", icmp["response_icmp_type"], icmp["response_icmp_code"])
	}
	if _, ok := tcp["spi"]; ok {
		t.Error("TCP event has an spi")
	}
	if f := icmp["flow"].(map[string]any); f["state"] != "established" || f["reason"] != "shutdown" || f["age"] != 2.0 {
		t.Errorf("icmp flow: %v", f)
	}
	if _, ok := icmp["tcp"]; ok {
		t.Error("ICMP event has a tcp object")
	}
	if udp["proto"] != "UDP" || udp["dest_port"] != 5353.0 || udp["flow"].(map[string]any)["state"] != "new" {
		t.Errorf("udp event: %v", udp)
	}
}

// TestEVEResponseAndSPI: an ICMP flow nothing answered has no response
// fields; one answered has them; an ESP flow shows its SPI and no ports,
// in EVE and in flowd's JSON.
func TestEVEResponseAndSPI(t *testing.T) {
	src, dst := [16]byte{10, 0, 0, 1}, [16]byte{10, 0, 0, 2}
	flows := []engine.Flow{
		{Proto: 1, Family: 4, Src: src, Dst: dst, ICMPType: 13, ResponseICMPType: 14, Pkts: [2]uint64{1, 0}},
		{Proto: 1, Family: 4, Src: src, Dst: dst, ICMPType: 13, ResponseICMPType: 14, Pkts: [2]uint64{1, 1}},
		{Proto: 50, Family: 4, Src: src, Dst: dst, SPI: 0xc0ffee01, Pkts: [2]uint64{3, 0}},
	}
	var ev []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(write(t, FormatEVE, flows)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, l)
		}
		ev = append(ev, m)
	}
	if _, ok := ev[0]["response_icmp_type"]; ok {
		t.Errorf("unanswered ICMP flow has response fields: %v", ev[0])
	}
	if _, ok := ev[0]["response_icmp_code"]; ok {
		t.Errorf("unanswered ICMP flow has response fields: %v", ev[0])
	}
	if ev[1]["icmp_type"] != 13.0 || ev[1]["response_icmp_type"] != 14.0 || ev[1]["response_icmp_code"] != 0.0 {
		t.Errorf("answered ICMP flow: %v", ev[1])
	}
	if ev[2]["spi"] != float64(0xc0ffee01) || ev[2]["proto"] != "ESP" {
		t.Errorf("ESP flow: spi %v proto %v", ev[2]["spi"], ev[2]["proto"])
	}
	if _, ok := ev[2]["src_port"]; ok {
		t.Errorf("ESP flow has ports: %v", ev[2])
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.Split(write(t, FormatJSON, flows[2:]), "\n")[0]), &m); err != nil || m["spi"] != float64(0xc0ffee01) {
		t.Errorf("flowd JSON of the ESP flow: %v %v", m, err)
	}
}

func TestJSON(t *testing.T) {
	for i, l := range strings.Split(strings.TrimSpace(write(t, FormatJSON, flowsFor(t))), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d not JSON: %v\n%s", i, err, l)
		}
		if m["source"] != "edge" || m["reason"] != "active" {
			t.Errorf("line %d: %v", i, m)
		}
		if i == 0 && (m["ipbytes_toserver"] != 160.0 || m["tcp_flags_tc"] != "13" || m["proto"] != 6.0) {
			t.Errorf("tcp line: %v", m)
		}
	}
}

func TestTable(t *testing.T) {
	out := write(t, FormatTable, flowsFor(t))
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "PROTO") {
		t.Fatalf("table:\n%s", out)
	}
	// Columns line up: DESTINATION starts at the same offset on every line.
	col := strings.Index(lines[0], "DESTINATION")
	for _, l := range lines[1:] {
		if l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("column not aligned at %d:\n%s\n%s", col, lines[0], l)
		}
	}
	for _, want := range []string{"[2001:db8::1]:40000", "10/20", "ICMP 8/0", "10.0.0.1:5353", " - "} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		if got, err := ParseFormat(string(f)); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("ParseFormat(xml) = %v", err)
	}
}

func TestAgeFloors(t *testing.T) {
	f := engine.Flow{First: t0.UnixNano(), Last: t0.Add(200 * time.Millisecond).UnixNano()}
	if Age(&f) != 1 { // 12:00:00.9 to 12:00:01.1 crosses a second
		t.Errorf("Age = %d, want 1 (end.sec - start.sec)", Age(&f))
	}
	f.First, f.Last = -1_500_000_000, -400_000_000 // before 1970 still floors
	if Age(&f) != 1 {
		t.Errorf("Age before the epoch = %d, want 1", Age(&f))
	}
}

// TestAppendUTC: the hand-written time format equals the time package's
// for times across leap years, month ends, before 1970 and past 2038.
func TestAppendUTC(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for range 20000 {
		ns := r.Int64N(8e18) - 3e18
		tm := time.Unix(0, ns).UTC()
		for _, c := range []struct {
			sep    byte
			frac   int
			zone   string
			layout string
		}{
			{'T', 6, "Z", "2006-01-02T15:04:05.000000Z"},
			{'T', 6, "+0000", "2006-01-02T15:04:05.000000+0000"},
			{' ', 3, "", "2006-01-02 15:04:05.000"},
		} {
			if got, want := string(appendUTC(nil, ns, c.sep, c.frac, c.zone)), tm.Format(c.layout); got != want {
				t.Fatalf("%d: %s, want %s", ns, got, want)
			}
		}
	}
}

// TestEVETimes: the start, end and timestamp of EVE events are the times
// the time package writes, whether or not a flow starts and ends within one
// second (the formatter takes a shortcut when it does).
func TestEVETimes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	f := eveFormat{}
	for range 5000 {
		var fl engine.Flow
		fl.Family, fl.Proto = 4, 17
		fl.First = r.Int64N(4e18)
		fl.Last = fl.First + r.Int64N(3e9)
		var m struct {
			Timestamp string
			Flow      struct{ Start, End string }
		}
		if err := json.Unmarshal(f.appendFlow(nil, &fl), &m); err != nil {
			t.Fatal(err)
		}
		const layout = "2006-01-02T15:04:05.000000+0000"
		start, end := time.Unix(0, fl.First).UTC().Format(layout), time.Unix(0, fl.Last).UTC().Format(layout)
		if m.Flow.Start != start || m.Flow.End != end || m.Timestamp != end {
			t.Fatalf("first %d last %d: start %s end %s timestamp %s; want %s, %s", fl.First, fl.Last, m.Flow.Start, m.Flow.End, m.Timestamp, start, end)
		}
	}
}
