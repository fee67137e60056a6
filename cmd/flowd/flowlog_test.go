package main

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"encoding/csv"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/flowd/flowd/bench/gen"
)

// dirKey is one direction of a flow as a flow log record names it.
type dirKey struct {
	src, dst, srcPort, dstPort, proto string
}

type dirSum struct{ pkts, bytes uint64 }

// dirSums are the sums of each direction.
type dirSums map[dirKey]dirSum

// writeGenPcapTruth writes a generated capture spanning several minutes
// and returns its path and truth (truthByDirection sums it per direction).
func writeGenPcapTruth(t *testing.T, dir string) (string, *gen.Truth) {
	t.Helper()
	path := filepath.Join(dir, "edge.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := gen.WritePcap(f, gen.Config{Seed: 5, Flows: 600, Duration: 150 * time.Second,
		MeanPackets: 30, Reject: 0.1, ICMPErrors: 0.2, Fragments: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, tr
}

// truthByDirection sums the generator's truth per direction of a 5-tuple:
// what a flow log's records must sum to.
func truthByDirection(tr *gen.Truth) dirSums {
	sums := dirSums{}
	add := func(src, dst netip.Addr, sp, dp uint16, proto uint8, pkts, bytes uint64) {
		if pkts == 0 {
			return
		}
		if proto == 1 || proto == 58 {
			sp, dp = 0, 0
		}
		k := dirKey{src.String(), dst.String(), strconv.Itoa(int(sp)), strconv.Itoa(int(dp)), strconv.Itoa(int(proto))}
		s := sums[k]
		s.pkts += pkts
		s.bytes += bytes
		sums[k] = s
	}
	for _, f := range tr.Flows {
		add(f.Src, f.Dst, f.SrcPort, f.DstPort, f.Proto, f.PktsToServer, f.IPBytesToServer)
		add(f.Dst, f.Src, f.DstPort, f.SrcPort, f.Proto, f.PktsToClient, f.IPBytesToClient)
	}
	return sums
}

// flowsByDirection replays pcap to CSV and sums each direction's packets
// and IP-layer bytes by the record key of that direction.
func flowsByDirection(t *testing.T, pcap string) dirSums {
	t.Helper()
	out := filepath.Join(t.TempDir(), "flows.csv")
	if err := runReplay([]string{"--format", "csv", "-o", out, "--quiet", "--progress", "never", pcap}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	sums := dirSums{}
	add := func(k dirKey, pkts, bytes string) {
		p, _ := strconv.ParseUint(pkts, 10, 64)
		b, _ := strconv.ParseUint(bytes, 10, 64)
		if p == 0 {
			return
		}
		s := sums[k]
		s.pkts += p
		s.bytes += b
		sums[k] = s
	}
	for _, r := range rows[1:] {
		sp, dp := cmp.Or(r[col["src_port"]], "0"), cmp.Or(r[col["dest_port"]], "0")
		add(dirKey{r[col["src_ip"]], r[col["dest_ip"]], sp, dp, r[col["proto"]]}, r[col["pkts_toserver"]], r[col["ipbytes_toserver"]])
		add(dirKey{r[col["dest_ip"]], r[col["src_ip"]], dp, sp, r[col["proto"]]}, r[col["pkts_toclient"]], r[col["ipbytes_toclient"]])
	}
	return sums
}

// total sums every direction.
func (m dirSums) total() (t dirSum) {
	for _, s := range m {
		t.pkts += s.pkts
		t.bytes += s.bytes
	}
	return t
}

// objects returns the files under dir whose names end in suffix.
func objects(t *testing.T, dir, suffix string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, suffix) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReplayFlowLogText replays a 150-second capture to a flow-log tree of
// gzip text with 60 s windows and requires the records, read back, to sum
// per direction to the generator's truth (and the replay's own flows); every record to lie inside one
// window; objects at AWS's Hive keys; and rejected traffic marked REJECT.
func TestReplayFlowLogText(t *testing.T) {
	dir := t.TempDir()
	pcap, tr := writeGenPcapTruth(t, dir)
	want := flowsByDirection(t, pcap)
	if truth := truthByDirection(tr); !maps.Equal(truth, want) {
		t.Fatalf("the replay's flows (%d directions) differ from the generator's truth (%d)", len(want), len(truth))
	}
	tree := filepath.Join(dir, "tree")
	format := "${version} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${tcp-flags} ${flow-direction}"
	if err := runReplay([]string{"--format", "none", "--quiet", "--flow-log-dir", tree, "--flow-log-layout", "hive",
		"--flow-log-destination", "arn:aws:s3:::my-bucket/pre", "--flow-log-format", format, pcap}); err != nil {
		t.Fatal(err)
	}
	objs := objects(t, tree, ".log.gz")
	if len(objs) == 0 {
		t.Fatal("no objects written")
	}
	got := map[dirKey]dirSum{}
	windows := map[int64]bool{}
	actions := map[string]int{}
	for _, o := range objs {
		rel, _ := filepath.Rel(tree, o)
		if !strings.HasPrefix(filepath.ToSlash(rel), "my-bucket/pre/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2025/month=01/day=01/") {
			t.Errorf("object %s is not at a Hive key", rel)
		}
		if !strings.Contains(filepath.Base(o), "_vpcflowlogs_us-east-1_fl-") {
			t.Errorf("object name %s", filepath.Base(o))
		}
		f, err := os.Open(o)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(zr)
		sc.Scan()
		if h := sc.Text(); h != strings.NewReplacer("${", "", "}", "").Replace(format) {
			t.Fatalf("header %q", h)
		}
		for sc.Scan() {
			v := strings.Fields(sc.Text())
			if v[0] != "3" { // flow-direction is a version 5 field, tcp-flags 3
				if v[0] != "5" {
					t.Fatalf("version %s in %q", v[0], sc.Text())
				}
			}
			if v[12] != "OK" {
				continue
			}
			start, _ := strconv.ParseInt(v[9], 10, 64)
			end, _ := strconv.ParseInt(v[10], 10, 64)
			if start/60 != end/60 || end < start {
				t.Errorf("record spans windows: %s", sc.Text())
			}
			windows[start/60] = true
			actions[v[11]]++
			if v[6] == "6" {
				fl, err := strconv.Atoi(v[13])
				if err != nil || !validTCPFlags(fl) {
					t.Errorf("tcp-flags %q", v[13])
				}
			} else if v[13] != "-" {
				t.Errorf("tcp-flags %q on protocol %s", v[13], v[6])
			}
			k := dirKey{v[2], v[3], v[4], v[5], v[6]}
			p, _ := strconv.ParseUint(v[7], 10, 64)
			b, _ := strconv.ParseUint(v[8], 10, 64)
			s := got[k]
			s.pkts += p
			s.bytes += b
			got[k] = s
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if len(windows) < 3 {
		t.Errorf("records fall in %d windows of a 150 s capture", len(windows))
	}
	if actions["REJECT"] == 0 || actions["ACCEPT"] == 0 {
		t.Errorf("actions %v: want both", actions)
	}
	if len(got) != len(want) {
		t.Errorf("%d directions in the flow log, %d in the flows", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%v: flow log %+v, flows %+v", k, got[k], w)
		}
	}
}

// validTCPFlags: the values AWS can write.
func validTCPFlags(v int) bool {
	return v >= 0 && v <= 7 || v == 18 || v == 19 || v == 22 || v == 23
}

// TestReplayFlowLogParquet writes the same capture as Parquet with 600 s
// aggregation and reads it back with Apache Arrow's reader: the packets and
// bytes columns sum to the generator's truth.
func TestReplayFlowLogParquet(t *testing.T) {
	dir := t.TempDir()
	pcap, tr := writeGenPcapTruth(t, dir)
	want := truthByDirection(tr)
	total := want.total()
	tree := filepath.Join(dir, "tree")
	if err := runReplay([]string{"--format", "none", "--quiet", "--flow-log-dir", tree, "--flow-log-file-format", "parquet",
		"--flow-log-interval", "600", pcap}); err != nil {
		t.Fatal(err)
	}
	objs := objects(t, tree, ".log.parquet")
	if len(objs) == 0 {
		t.Fatal("no parquet objects")
	}
	var pkts, bytes, rows int64
	for _, o := range objs {
		rd, err := file.OpenParquetFile(o, false)
		if err != nil {
			t.Fatal(err)
		}
		sch := rd.MetaData().Schema
		pc, bc := sch.ColumnIndexByName("packets"), sch.ColumnIndexByName("bytes")
		if pc < 0 || bc < 0 {
			t.Fatalf("columns packets %d bytes %d", pc, bc)
		}
		for g := 0; g < rd.NumRowGroups(); g++ {
			rg := rd.RowGroup(g)
			n := rg.NumRows()
			rows += n
			for _, c := range []struct {
				idx int
				sum *int64
			}{{pc, &pkts}, {bc, &bytes}} {
				cr, err := rg.Column(c.idx)
				if err != nil {
					t.Fatal(err)
				}
				r, ok := cr.(*file.Int64ColumnChunkReader)
				if !ok {
					t.Fatalf("column %d is %T, want int64", c.idx, cr)
				}
				vals := make([]int64, n)
				def := make([]int16, n)
				if _, _, err := r.ReadBatch(n, vals, def, nil); err != nil {
					t.Fatal(err)
				}
				k := 0
				for _, d := range def {
					if d > 0 {
						*c.sum += vals[k]
						k++
					}
				}
			}
		}
		rd.Close()
	}
	if uint64(pkts) != total.pkts || uint64(bytes) != total.bytes {
		t.Errorf("parquet sums: %d packets %d bytes, flows %d %d", pkts, bytes, total.pkts, total.bytes)
	}
	// 600 s aggregation merges a direction's windows into one record.
	if rows > int64(len(want)) {
		t.Errorf("%d rows for %d flow directions in one 600 s interval", rows, len(want))
	}
}
