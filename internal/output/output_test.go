package output

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/flowtable"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 900_000_000, time.UTC) // .9 s: age rounds by seconds

// flowsFor builds real flows through a flow table: a TCP connection over
// IPv6 on VLANs 10/20 (client first, FIN both ways), an ICMP echo over
// IPv4, and a UDP flow whose only packet is from the client.
func flowsFor(t *testing.T) []flowtable.Flow {
	t.Helper()
	tab, err := flowtable.New(flowtable.Config{MaxFlows: 16}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := tab.Shard(0)
	send := func(proto uint8, src string, sp uint16, dst string, dp uint16, at time.Duration, flags uint8, vlan [2]uint16, icmpType uint8) *flowtable.Flow {
		a, b := netip.MustParseAddr(src), netip.MustParseAddr(dst)
		var sa, da [16]byte
		fam := uint8(6)
		if a.Is4() {
			fam = 4
			v4a, v4b := a.As4(), b.As4()
			copy(sa[:], v4a[:])
			copy(da[:], v4b[:])
		} else {
			sa, da = a.As16(), b.As16()
		}
		var p flowtable.Packet
		p.Reverse = p.Key.Set(&sa, &da, sp, dp, proto, fam, vlan)
		p.Time = t0.Add(at).UnixNano()
		p.FrameLen, p.IPLen = 100, 80
		p.TCPFlags, p.ICMPType = flags, icmpType
		return s.Update(&p)
	}
	const syn, ack, fin = 0x02, 0x10, 0x01
	v := [2]uint16{10, 20}
	c, srv := "2001:db8::1", "2001:db8::2"
	tcp := send(6, c, 40000, srv, 443, 0, syn, v, 0)
	send(6, srv, 443, c, 40000, time.Millisecond, syn|ack, v, 0)
	send(6, c, 40000, srv, 443, 2*time.Millisecond, ack|fin, v, 0)
	send(6, srv, 443, c, 40000, 200*time.Millisecond, ack|fin, v, 0)
	icmp := send(1, "10.0.0.1", 0, "10.0.0.2", 0, 0, 0, [2]uint16{}, 8)
	send(1, "10.0.0.2", 0, "10.0.0.1", 0, 1500*time.Millisecond, 0, [2]uint16{}, 0)
	udp := send(17, "10.0.0.1", 5353, "224.0.0.251", 5353, 0, 0, [2]uint16{}, 0)
	return []flowtable.Flow{*tcp, *icmp, *udp}
}

func write(t *testing.T, f Format, flows []flowtable.Flow) string {
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
		"6,2001:db8::1,40000,2001:db8::2,443,10/20,2,2,200,200,160,160,2026-11-21T12:00:00.900000Z,2026-11-21T12:00:01.100000Z,1,closed,active\n" +
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
	flows[0].Reason = flowtable.ReasonEvicted
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
		"src_ip": "2001:db8::1", "src_port": 40000.0, "dest_ip": "2001:db8::2", "dest_port": 443.0,
		"proto": "TCP", "ip_v": 6.0,
	} {
		if tcp[k] != want {
			t.Errorf("tcp %s = %v, want %v", k, tcp[k], want)
		}
	}
	if v := tcp["vlan"].([]any); len(v) != 2 || v[0] != 10.0 || v[1] != 20.0 {
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
	f := flowtable.Flow{First: t0.UnixNano(), Last: t0.Add(200 * time.Millisecond).UnixNano()}
	if Age(&f) != 1 { // 12:00:00.9 to 12:00:01.1 crosses a second
		t.Errorf("Age = %d, want 1 (end.sec - start.sec)", Age(&f))
	}
	f.First, f.Last = -1_500_000_000, -400_000_000 // before 1970 still floors
	if Age(&f) != 1 {
		t.Errorf("Age before the epoch = %d, want 1", Age(&f))
	}
}
