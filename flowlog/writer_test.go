package flowlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	arrowpq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/parquet-go/parquet-go"
)

// randomRecords returns n seeded records that exercise every field and
// every "-" rule: IPv4 and IPv6, TCP, UDP and ICMP, both directions, NODATA
// and SKIPDATA, ECS metadata on some.
func randomRecords(seed uint64, n int) []Record {
	rng := rand.New(rand.NewPCG(seed, 7))
	addr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			for i := range b {
				b[i] = byte(rng.UintN(256))
			}
			b[0], b[1] = 0x20, 0x01
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{10, byte(rng.UintN(256)), byte(rng.UintN(256)), byte(rng.UintN(256))})
	}
	locals4 := [4]netip.Addr{addr(false), addr(false), addr(false), addr(false)}
	locals6 := [4]netip.Addr{addr(true), addr(true), addr(true), addr(true)}
	out := make([]Record, n)
	for i := range out {
		r := Record{
			AccountID: "123456789012", InterfaceID: fmt.Sprintf("eni-%017x", rng.UintN(4)),
			VPCID: "vpc-0a1b2c3d", SubnetID: "subnet-0a1b2c3d", Region: "eu-west-1", AZID: "euw1-az2",
		}
		if rng.IntN(3) > 0 {
			r.InstanceID = "i-0123456789abcdef0"
		}
		if rng.IntN(20) == 0 {
			r.SublocationType, r.SublocationID = "outpost", "op-0123"
		}
		r.Start = 1700000000 + int64(rng.IntN(600))
		r.End = r.Start + int64(rng.IntN(60))
		switch rng.IntN(30) {
		case 0:
			r.LogStatus = LogNoData
			out[i] = r
			continue
		case 1:
			r.LogStatus = LogSkipData
			out[i] = r
			continue
		}
		// One side of every record is the interface's own address, as in
		// real flow logs; the other side is random.
		v6 := rng.IntN(4) == 0
		var local netip.Addr
		if v6 {
			local = locals6[len(r.InterfaceID)%4]
		} else {
			local = locals4[r.InterfaceID[len(r.InterfaceID)-1]%4]
		}
		r.SrcAddr, r.DstAddr = local, addr(v6)
		if rng.IntN(2) == 0 {
			r.SrcAddr, r.DstAddr = r.DstAddr, r.SrcAddr
		}
		r.PktSrcAddr, r.PktDstAddr = r.SrcAddr, r.DstAddr
		if rng.IntN(5) == 0 {
			r.PktDstAddr = netip.Addr{}
		}
		switch rng.IntN(3) {
		case 0:
			r.Protocol = 6
			r.SrcPort, r.DstPort = uint16(rng.UintN(65536)), 443
			r.TCPFlags = WindowTCPFlags([]uint8{uint8(rng.UintN(256)), uint8(rng.UintN(256))})
		case 1:
			r.Protocol = 17
			r.SrcPort, r.DstPort = uint16(rng.UintN(65536)), 53
		default:
			r.Protocol = 1
		}
		r.Packets = 1 + rng.Uint64N(1e6)
		r.Bytes = r.Packets * (40 + rng.Uint64N(1460))
		r.Action = Action(1 + rng.IntN(2))
		r.FlowDirection = Direction(rng.IntN(3))
		if r.FlowDirection == DirectionEgress {
			r.TrafficPath = uint8(rng.IntN(9))
		}
		if rng.IntN(4) == 0 {
			r.PktDstAWSService = "S3"
		}
		if r.Action == ActionReject && rng.IntN(2) == 0 {
			r.RejectReason = "BPA"
		}
		if rng.IntN(10) == 0 {
			r.ECSClusterARN = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"
			r.ECSClusterName = "prod"
			r.ECSContainerID = "c0ffee"
			r.ECSServiceName = "web"
			r.ECSTaskDefinitionARN = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3"
			r.ECSTaskARN = "arn:aws:ecs:eu-west-1:123456789012:task/prod/abc"
			r.ECSTaskID = "abc"
		}
		out[i] = r
	}
	return out
}

var testFormats = []struct {
	name   string
	format Format
}{
	{"default", Format{}},
	{"v5", MustParseFormat(awsExamples[len(awsExamples)-1].format)},
	{"all fields", fullFormat()},
	{"reordered", MustParseFormat("${end} ${tcp-flags} ${srcaddr} ${log-status} ${traffic-path} ${version}")},
}

func textLines(f Format, recs []Record) []string {
	out := make([]string, len(recs))
	for i := range recs {
		out[i] = string(f.AppendText(nil, &recs[i]))
	}
	return out
}

// TestTextRoundTrip writes records as a gzip text object, reads the object
// with the standard library's gzip reader, checks the header and parses each
// line back field by field.
func TestTextRoundTrip(t *testing.T) {
	for _, tf := range testFormats {
		t.Run(tf.name, func(t *testing.T) {
			recs := randomRecords(1, 5000)
			var buf bytes.Buffer
			w, err := NewTextWriter(&buf, tf.format, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				if err := w.Write(&recs[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if w.Records() != int64(len(recs)) || w.Size() != int64(buf.Len()) {
				t.Errorf("Records %d Size %d, want %d %d", w.Records(), w.Size(), len(recs), buf.Len())
			}
			zr, err := gzip.NewReader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(zr)
			sc.Buffer(nil, 1<<20)
			if !sc.Scan() || sc.Text() != tf.format.Header() {
				t.Fatalf("header %q, want %q", sc.Text(), tf.format.Header())
			}
			i := 0
			for ; sc.Scan(); i++ {
				got, ver, err := parseLine(tf.format, sc.Text())
				if err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				if hasField(tf.format, FieldVersion) && ver != tf.format.Version() {
					t.Fatalf("line %d: version %d", i+1, ver)
				}
				compareRecords(t, tf.format, &recs[i], &got)
			}
			if i != len(recs) {
				t.Errorf("%d lines, want %d", i, len(recs))
			}
		})
	}
}

// compareRecords compares the fields of format f: the parsed record must
// print the same as the written one, field by field.
func compareRecords(t *testing.T, f Format, want, got *Record) {
	t.Helper()
	for _, fl := range f.Fields() {
		w := string(appendField(nil, want, fl, f.Version()))
		g := string(appendField(nil, got, fl, f.Version()))
		if w != g {
			t.Fatalf("field %s: read %q, wrote %q", fl, g, w)
		}
	}
}

func writeParquet(t testing.TB, f Format, recs []Record) []byte {
	var buf bytes.Buffer
	w := NewParquetWriter(&buf, f)
	for i := range recs {
		if err := w.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Records() != int64(len(recs)) || w.Size() != int64(buf.Len()) {
		t.Errorf("Records %d Size %d", w.Records(), w.Size())
	}
	return buf.Bytes()
}

// wantText is the text a Parquet cell must read as: the field's text form,
// so that null is "-".
func wantRows(f Format, recs []Record) [][]string {
	out := make([][]string, len(recs))
	for i := range recs {
		out[i] = strings.Split(string(f.AppendText(nil, &recs[i])), " ")
	}
	return out
}

// TestParquetArrow reads the Parquet objects with Apache Arrow's Parquet
// reader, an implementation independent of the writer's library, and
// checks the column names, physical and logical types, the gzip codec and
// every value against the text form.
func TestParquetArrow(t *testing.T) {
	for _, tf := range testFormats {
		t.Run(tf.name, func(t *testing.T) {
			recs := randomRecords(2, 3000)
			data := writeParquet(t, tf.format, recs)
			rd, err := file.NewParquetReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			sch := rd.MetaData().Schema
			fields := tf.format.Fields()
			if sch.NumColumns() != len(fields) || rd.NumRows() != int64(len(recs)) {
				t.Fatalf("%d columns %d rows, want %d %d", sch.NumColumns(), rd.NumRows(), len(fields), len(recs))
			}
			for i, fl := range fields {
				col := sch.Column(i)
				want := map[Kind]arrowpq.Type{KindString: arrowpq.Types.ByteArray, KindInt32: arrowpq.Types.Int32, KindInt64: arrowpq.Types.Int64}[fl.Kind()]
				if col.Name() != fl.Column() || col.PhysicalType() != want || col.MaxDefinitionLevel() != 1 {
					t.Errorf("column %d: %s %v def %d, want %s %v", i, col.Name(), col.PhysicalType(), col.MaxDefinitionLevel(), fl.Column(), want)
				}
				if fl.Kind() == KindString {
					if _, ok := col.LogicalType().(schema.StringLogicalType); !ok {
						t.Errorf("column %s: logical type %v, want String", col.Name(), col.LogicalType())
					}
				}
			}
			got := make([][]string, len(recs))
			for i := range got {
				got[i] = make([]string, len(fields))
			}
			row0 := 0
			for g := 0; g < rd.NumRowGroups(); g++ {
				rg := rd.RowGroup(g)
				n := int(rg.NumRows())
				for c := range fields {
					cc, _ := rg.MetaData().ColumnChunk(c)
					if cc.Compression() != compress.Codecs.Gzip {
						t.Errorf("column %d compression %v", c, cc.Compression())
					}
					for _, e := range cc.Encodings() {
						switch e {
						case arrowpq.Encodings.Plain, arrowpq.Encodings.RLE, arrowpq.Encodings.RLEDict, arrowpq.Encodings.PlainDict:
						default:
							t.Errorf("column %d uses encoding %v, which old readers lack", c, e)
						}
					}
					cr, err := rg.Column(c)
					if err != nil {
						t.Fatal(err)
					}
					cells := readArrowColumn(t, cr, n)
					for j, s := range cells {
						got[row0+j][c] = s
					}
				}
				row0 += n
			}
			want := wantRows(tf.format, recs)
			for i := range want {
				for c := range fields {
					if got[i][c] != want[i][c] {
						t.Fatalf("row %d column %s: %q, want %q", i, fields[c].Column(), got[i][c], want[i][c])
					}
				}
			}
		})
	}
}

func readArrowColumn(t *testing.T, cr file.ColumnChunkReader, n int) []string {
	t.Helper()
	def := make([]int16, n)
	out := make([]string, 0, n)
	emit := func(vals func(k int) string) {
		k := 0
		for _, d := range def {
			if d == 0 {
				out = append(out, "-")
				continue
			}
			out = append(out, vals(k))
			k++
		}
	}
	var err error
	switch r := cr.(type) {
	case *file.Int32ColumnChunkReader:
		vals := make([]int32, n)
		_, _, err = r.ReadBatch(int64(n), vals, def, nil)
		emit(func(k int) string { return strconv.Itoa(int(vals[k])) })
	case *file.Int64ColumnChunkReader:
		vals := make([]int64, n)
		_, _, err = r.ReadBatch(int64(n), vals, def, nil)
		emit(func(k int) string { return strconv.FormatInt(vals[k], 10) })
	case *file.ByteArrayColumnChunkReader:
		vals := make([]arrowpq.ByteArray, n)
		_, _, err = r.ReadBatch(int64(n), vals, def, nil)
		emit(func(k int) string { return string(vals[k]) })
	default:
		t.Fatalf("column reader %T", cr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestParquetGoReadBack reads the same objects with parquet-go itself, row
// by row.
func TestParquetGoReadBack(t *testing.T) {
	f := fullFormat()
	recs := randomRecords(3, 2000)
	data := writeParquet(t, f, recs)
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	rows := parquet.NewReader(pf)
	defer rows.Close()
	want := wantRows(f, recs)
	buf := make([]parquet.Row, 100)
	i := 0
	for {
		n, err := rows.ReadRows(buf)
		for _, row := range buf[:n] {
			for c, v := range row {
				s := "-"
				if !v.IsNull() {
					switch v.Kind() {
					case parquet.Int32:
						s = strconv.Itoa(int(v.Int32()))
					case parquet.Int64:
						s = strconv.FormatInt(v.Int64(), 10)
					default:
						s = string(v.ByteArray())
					}
				}
				if s != want[i][c] {
					t.Fatalf("row %d column %d: %q, want %q", i, c, s, want[i][c])
				}
			}
			i++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if i != len(recs) {
		t.Errorf("%d rows, want %d", i, len(recs))
	}
}

func TestDirStoreAtomic(t *testing.T) {
	root := t.TempDir()
	s := DirStore{Root: root}
	o, err := s.Create("my-bucket", "a/b/c.log.gz")
	if err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(root, "my-bucket", "a", "b", "c.log.gz")
	io.WriteString(o, "hello")
	if _, err := os.Stat(final); !os.IsNotExist(err) {
		t.Fatalf("object visible before Commit: %v", err)
	}
	if err := o.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(final); err != nil || string(b) != "hello" {
		t.Fatalf("%q %v", b, err)
	}
	o2, _ := s.Create("my-bucket", "a/b/d")
	io.WriteString(o2, "x")
	if err := o2.Abort(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "my-bucket", "a", "b"))
	if len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
	for _, key := range []string{"", "/abs", "a/../../x", "a//b", "./a", "a\\b"} {
		if _, err := s.Create("my-bucket", key); err == nil {
			t.Errorf("key %q accepted", key)
		}
	}
	if _, err := s.Create("../x", "k"); err == nil {
		t.Error("bad bucket accepted")
	}
}

func TestS3Writer(t *testing.T) {
	for _, ff := range []FileFormat{FilePlainText, FileParquet} {
		t.Run(string(ff), func(t *testing.T) {
			root := t.TempDir()
			w, err := NewS3Writer(S3Config{
				Store: DirStore{Root: root}, Destination: S3Destination{Bucket: "my-bucket", Prefix: "pre"},
				AccountID: "123456789012", Region: "us-east-1", FlowLogID: "fl-1234abcd",
				Options: DestinationOptions{FileFormat: ff, HiveCompatiblePartitions: true},
			})
			if err != nil {
				t.Fatal(err)
			}
			base := time.Date(2018, 6, 20, 16, 20, 0, 0, time.UTC).Unix()
			r := sampleRecord()
			for _, end := range []int64{base + 10, base + 299, base + 300, base + 10} {
				r.End = end
				if err := w.Write(&r); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(w.Keys()); got != 2 {
				t.Fatalf("%d open objects, want 2", got)
			}
			if err := w.Rotate(time.Unix(base+300, 0)); err != nil {
				t.Fatal(err)
			}
			if got := len(w.Keys()); got != 1 {
				t.Fatalf("%d open objects after Rotate, want 1", got)
			}
			r.End = base + 20 // late record of a delivered period: a new object
			if err := w.Write(&r); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, "my-bucket", "pre", "AWSLogs", "aws-account-id=123456789012",
				"aws-service=vpcflowlogs", "aws-region=us-east-1", "year=2018", "month=06", "day=20")
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			ext := ".log.gz"
			if ff == FileParquet {
				ext = ".log.parquet"
			}
			if len(names) != 3 {
				t.Fatalf("objects %v", names)
			}
			n1620, n1625 := 0, 0
			for _, n := range names {
				if !strings.HasPrefix(n, "123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T16") || !strings.HasSuffix(n, ext) {
					t.Errorf("name %s", n)
				}
				if strings.Contains(n, "T1620Z") {
					n1620++
				}
				if strings.Contains(n, "T1625Z") {
					n1625++
				}
			}
			if n1620 != 2 || n1625 != 1 {
				t.Errorf("objects %v", names)
			}
		})
	}
}

func TestS3WriterSizeLimit(t *testing.T) {
	root := t.TempDir()
	w, err := NewS3Writer(S3Config{
		Store: DirStore{Root: root}, Destination: S3Destination{Bucket: "b-1"},
		AccountID: "123456789012", Region: "us-east-1", FlowLogID: "fl-1", MaxObjectBytes: 4 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	recs := randomRecords(4, 20000)
	for i := range recs {
		recs[i].End = 1700000000
		if err := w.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 2 {
		t.Fatalf("one object for 20000 records at a 4 KiB limit: %v", files)
	}
	total := 0
	for _, p := range files {
		b, _ := os.ReadFile(p)
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		all, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		total += strings.Count(string(all), "\n") - 1
	}
	if total != len(recs) {
		t.Errorf("%d records in %d objects, want %d", total, len(files), len(recs))
	}
}

func TestLogsWriter(t *testing.T) {
	root := t.TempDir()
	w := NewLogsWriter(root)
	recs := randomRecords(5, 50)
	recs[0].ECSClusterName = "odd \"name\"\\\x01é"
	f := fullFormat()
	stream := StreamName("eni-0123", TrafficAll)
	for i := range recs {
		if err := w.Write("/aws/vpc/flow", stream, f, &recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "aws", "vpc", "flow", "eni-0123-all"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(recs) {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		var ev struct {
			Timestamp int64  `json:"timestamp"`
			Message   string `json:"message"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		if ev.Timestamp != recs[i].Start*1000 || ev.Message != string(f.AppendText(nil, &recs[i])) {
			t.Errorf("line %d: %+v", i, ev)
		}
	}
	if StreamName("eni-1", TrafficAccept) != "eni-1-accept" || StreamName("eni-1", TrafficReject) != "eni-1-reject" {
		t.Error("StreamName")
	}
	for _, c := range [][2]string{{"../x", "s"}, {"g", "../s"}, {"g", ""}, {"bad group", "s"}} {
		if err := w.Write(c[0], c[1], f, &recs[0]); err == nil {
			t.Errorf("%q/%q accepted", c[0], c[1])
		}
	}
}

func TestFirehoseWriter(t *testing.T) {
	root := t.TempDir()
	w := NewFirehoseWriter(root)
	recs := randomRecords(6, 30)
	for i := range recs {
		if err := w.Write("my_stream", Format{}, &recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(root, "my_stream"))
	if want := strings.Join(textLines(Format{}, recs), "\n") + "\n"; string(b) != want {
		t.Errorf("firehose file differs:\n%s", b)
	}
	if err := w.Write("../x", Format{}, &recs[0]); err == nil {
		t.Error("bad stream accepted")
	}
}

func TestWriterAllocs(t *testing.T) {
	r := sampleRecord()
	tw, err := NewTextWriter(io.Discard, Format{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 20000 { // warm the compressor up
		tw.Write(&r)
	}
	if n := testing.AllocsPerRun(5000, func() { tw.Write(&r) }); n != 0 {
		t.Errorf("TextWriter.Write: %v allocs per record", n)
	}
	lw := NewLogsWriter(t.TempDir())
	lw.Write("g", "s", Format{}, &r)
	if n := testing.AllocsPerRun(1000, func() { lw.Write("g", "s", Format{}, &r) }); n != 0 {
		t.Errorf("LogsWriter.Write: %v allocs per record", n)
	}
	lw.Close()
}

// TestDirStoreConcurrent writes objects from several goroutines, as one S3
// writer per flow log would; run it with -race.
func TestDirStoreConcurrent(t *testing.T) {
	s := DirStore{Root: t.TempDir()}
	done := make(chan error)
	for g := range 4 {
		go func() {
			var err error
			for i := range 20 {
				var o Object
				if o, err = s.Create("my-bucket", fmt.Sprintf("AWSLogs/x/%d/%d", i%3, g*100+i)); err != nil {
					break
				}
				io.WriteString(o, "data")
				if err = o.Commit(); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
