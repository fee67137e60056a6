package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll drains f in batches of size batch, copying each batch's frames
// only after the batch is complete — which checks that all frames of a
// batch stay valid together. It fails the test if f stops making progress.
func readAll(t testing.TB, f *File, batch int) ([]want, error) {
	t.Helper()
	var got []want
	dst := make([]Frame, batch)
	for calls := 0; ; calls++ {
		if calls > 1<<24 {
			t.Fatal("ReadBatch makes no progress")
		}
		n, err := f.ReadBatch(dst)
		if n < 0 || n > len(dst) {
			t.Fatalf("ReadBatch returned n=%d for %d slots", n, len(dst))
		}
		if n == 0 && err == nil {
			t.Fatal("ReadBatch returned no frames and no error")
		}
		for _, fr := range dst[:n] {
			got = append(got, want{bytes.Clone(fr.Data), fr.Timestamp, fr.WireLen, fr.LinkType, fr.Interface})
		}
		if err != nil {
			return got, err
		}
	}
}

func sameFrames(t testing.TB, got, exp []want) {
	t.Helper()
	if len(got) != len(exp) {
		t.Errorf("got %d frames, want %d", len(got), len(exp))
	}
	for i := range min(len(got), len(exp)) {
		g, w := got[i], exp[i]
		if !bytes.Equal(g.Data, w.Data) || g.Timestamp != w.Timestamp || g.WireLen != w.WireLen ||
			g.LinkType != w.LinkType || g.Interface != w.Interface {
			t.Errorf("frame %d:\n got  data=%x ts=%d wire=%d link=%v if=%d\n want data=%x ts=%d wire=%d link=%v if=%d",
				i, g.Data, g.Timestamp, g.WireLen, g.LinkType, g.Interface,
				w.Data, w.Timestamp, w.WireLen, w.LinkType, w.Interface)
			return
		}
	}
}

func wantBytes(ws []want) (n uint64) {
	for _, w := range ws {
		n += uint64(len(w.Data))
	}
	return n
}

func TestFixtures(t *testing.T) {
	for _, fx := range fixtures {
		for _, compressed := range []bool{false, true} {
			data, name, size := fx.data, fx.name, int64(len(fx.data))
			if compressed {
				data, name, size = gz(fx.data), name+"-gzip", -1
			}
			t.Run(name, func(t *testing.T) {
				f, err := NewReader(bytes.NewReader(data), name)
				if err != nil {
					t.Fatal(err)
				}
				got, err := readAll(t, f, 64)
				if err != io.EOF {
					t.Fatalf("err = %v, want io.EOF", err)
				}
				sameFrames(t, got, fx.want)
				st := f.Stats()
				exp := Stats{Frames: uint64(len(fx.want)), Bytes: wantBytes(fx.want), Offset: int64(len(fx.data)), Size: size}
				if st != exp {
					t.Errorf("Stats = %+v, want %+v", st, exp)
				}
				if n, err2 := f.ReadBatch(make([]Frame, 4)); n != 0 || err2 != io.EOF {
					t.Errorf("ReadBatch after EOF = %d, %v; want 0, io.EOF", n, err2)
				}
				if err := f.Close(); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// TestBuffering reads every fixture through readers that return one byte
// at a time, with tiny starting buffers and tiny batches, so the compaction,
// growth and early-batch-end paths all run; the frames must not change.
func TestBuffering(t *testing.T) {
	for _, fx := range fixtures {
		for _, bufSize := range []int{4, 5, 16, 33, 100} {
			for _, batch := range []int{1, 2, 3, 64} {
				for _, oneByte := range []bool{false, true} {
					var r io.Reader = bytes.NewReader(fx.data)
					if oneByte {
						r = iotest.OneByteReader(r)
					}
					f, err := newReaderSize(r, fx.name, bufSize)
					if err != nil {
						t.Fatalf("%s buf=%d: %v", fx.name, bufSize, err)
					}
					got, err := readAll(t, f, batch)
					if err != io.EOF {
						t.Fatalf("%s buf=%d batch=%d oneByte=%v: err = %v", fx.name, bufSize, batch, oneByte, err)
					}
					sameFrames(t, got, fx.want)
					if st := f.Stats(); st.Offset != int64(len(fx.data)) {
						t.Errorf("%s: Offset = %d, want %d", fx.name, st.Offset, len(fx.data))
					}
				}
			}
		}
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	for _, fx := range fixtures[:5] {
		for _, ext := range []string{".pcap", ".gz", ".bin"} { // the name says nothing
			data := fx.data
			if ext == ".gz" {
				data = gz(data)
			}
			path := filepath.Join(dir, fx.name+ext)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, f, 2)
			if err != io.EOF {
				t.Fatal(err)
			}
			sameFrames(t, got, fx.want)
			wantSize := int64(len(data))
			if ext == ".gz" {
				wantSize = -1
			}
			if st := f.Stats(); st.Size != wantSize || st.Offset != int64(len(fx.data)) {
				t.Errorf("%s: Stats = %+v, want Size %d Offset %d", path, st, wantSize, len(fx.data))
			}
			fh := f.file
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := fh.Stat(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("file still open after Close: %v", err)
			}
			if _, err := f.ReadBatch(make([]Frame, 1)); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("ReadBatch after Close: %v, want fs.ErrClosed", err)
			}
			if err := f.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		}
	}
	if _, err := OpenFile(filepath.Join(dir, "missing.pcap")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenFile(missing) = %v, want fs.ErrNotExist", err)
	}
	// Not a capture: the error names the file, and the file is closed
	// (TestMain counts descriptors).
	text := filepath.Join(dir, "notes.pcap")
	if err := os.WriteFile(text, []byte("hello, world\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(text); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), text) {
		t.Errorf("OpenFile(text) = %v, want ErrFormat naming the file", err)
	}
	if _, err := OpenFile(dir); err == nil || errors.Is(err, ErrFormat) {
		t.Errorf("OpenFile(directory) = %v, want an I/O error", err)
	}
}

func TestNotACapture(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   []byte
		reason string
	}{
		{"zip", []byte("PK\x03\x04rest of a zip"), "not a pcap, pcapng or gzip file: starts with 50 4b 03 04"},
		{"empty", nil, "file is empty"},
		{"short", []byte{0xd4, 0xc3}, "file has only 2 bytes (d4 c3)"},
		{"gzip-text", gz([]byte("hello world")), "gzip-compressed data is not a pcap or pcapng file: starts with 68 65 6c 6c"},
		{"gzip-empty", gz(nil), "file is empty"},
		{"gzip-cut", gz(pcapLEMicros)[:5], "gzip header: unexpected EOF"},
		{"pcap-header-cut", pcapLEMicros[:20], "pcap file header needs 24 bytes but the file has only 20"},
		{"pcap-version", append(hx("d4c3b2a1 0100 0000"), pcapLEMicros[8:]...), "pcap version 1.0 is not supported (want 2.x)"},
		{"pcapng-bom", append(hx("0a0d0d0a 1c000000 01020304"), ngEmpty[12:]...), "section header byte-order magic 01 02 03 04 is neither"},
		{"pcapng-shb-cut", ngEmpty[:27], "section header block total length 28 but only 27 bytes remain"},
		{"pcapng-version", append(hx("0a0d0d0a 1c000000 4d3c2b1a 0200 0000"), ngEmpty[16:]...), "section header version 2.0 is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewReader(bytes.NewReader(tc.data), "x/"+tc.name)
			if err == nil {
				f.Close()
				t.Fatal("NewReader succeeded")
			}
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %#v, want *FormatError", err)
			}
			if fe.File != "x/"+tc.name || fe.Offset != 0 || !strings.Contains(fe.Reason, tc.reason) {
				t.Errorf("err = %v, want file x/%s offset 0 reason %q", err, tc.name, tc.reason)
			}
		})
	}
}

// TestDamage breaks one field of a valid file and checks that the frames
// before the damage arrive, then a *FormatError at the damaged record's
// offset saying what was wrong.
func TestDamage(t *testing.T) {
	le32 := func(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
	patch := func(b []byte, off int, p []byte) []byte {
		b = bytes.Clone(b)
		copy(b[off:], p)
		return b
	}
	// Offsets into the fixtures: pcapLEMicros records start at 24 and 44;
	// ngTwoInterfaces blocks start at 0, 28, 48, 92 (EPB), 132 (ISB), 156
	// (EPB), 192 (NRB), 208 (SPB), 232 (custom), 252 (PB).
	for _, tc := range []struct {
		name   string
		data   []byte
		frames int
		off    int64
		reason string
	}{
		{"pcap-caplen-cut", patch(pcapLEMicros, 44+8, le32(70000)), 1, 44,
			"record header says caplen 70000 but only 6 bytes remain"},
		{"pcap-caplen-huge", patch(pcapLEMicros, 44+8, le32(0xfffffff0)), 1, 44,
			"record header says caplen 4294967280, over the 16777216-byte limit"},
		{"pcap-record-header-cut", pcapLEMicros[:44+10], 1, 44,
			"record header needs 16 bytes but only 10 remain"},
		{"ng-length-13", patch(ngTwoInterfaces, 156+4, le32(13)), 1, 156,
			"enhanced packet block total length 13 is not a multiple of 4"},
		{"ng-length-8", patch(ngTwoInterfaces, 192+4, le32(8)), 2, 192,
			"block type 0x00000004 total length 8 is less than its 12-byte minimum"},
		{"ng-epb-too-small", patch(ngTwoInterfaces, 156+4, le32(28)), 1, 156,
			"enhanced packet block total length 28 is less than its 32-byte minimum"},
		{"ng-length-huge", patch(ngTwoInterfaces, 132+4, le32(1<<30)), 1, 132,
			"block type 0x00000005 total length 1073741824 is over the 16777216-byte limit"},
		{"ng-length-cut", patch(ngTwoInterfaces, 252+4, le32(1000)), 3, 252,
			"packet block total length 1000 but only 36 bytes remain"},
		{"ng-trailer", patch(ngTwoInterfaces, 156+32, le32(40)), 1, 156,
			"enhanced packet block trailing total length 40 does not match leading total length 36"},
		{"ng-interface", patch(ngTwoInterfaces, 156+8, le32(2)), 1, 156,
			"enhanced packet block names interface 2 but the section has 2"},
		{"ng-caplen", patch(ngTwoInterfaces, 92+20, le32(9)), 0, 92,
			"enhanced packet block captured length 9 is more than the 8 bytes the block holds"},
		{"ng-spb-origlen", patch(ngTwoInterfaces, 208+8, le32(9)), 2, 208,
			"simple packet block holds 8 bytes of packet data but its lengths say 9"},
		{"ng-option-overrun", patch(ngTwoInterfaces, 48+16+2, []byte{0x20, 0}), 0, 48,
			"interface description block option 9 has length 32 but only 20 bytes remain in the block"},
		{"ng-tsresol", patch(ngTwoInterfaces, 48+20, []byte{20}), 0, 48,
			"interface description block if_tsresol 0x14 is not supported"},
		{"ng-section-version", append(bytes.Clone(ngTwoInterfaces[:92]), patch(ngEmpty, 12, []byte{3, 0})...), 0, 92,
			"section header version 3.0 is not supported (want 1.x)"},
		{"ng-spb-first", append(bytes.Clone(ngEmpty), ngTwoInterfaces[208:232]...), 0, 28,
			"simple packet block but the section has no interface"},
		{"ng-epb-first", append(bytes.Clone(ngEmpty), ngTwoInterfaces[92:132]...), 0, 28,
			"enhanced packet block names interface 0 but the section has 0"},
		{"ng-block-header-cut", ngTwoInterfaces[:192+6], 2, 192,
			"block header needs 12 bytes but only 6 remain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, compressed := range []bool{false, true} {
				data := tc.data
				if compressed {
					data = gz(data)
				}
				f, err := NewReader(bytes.NewReader(data), tc.name)
				if err != nil {
					t.Fatal(err)
				}
				got, err := readAll(t, f, 8)
				var fe *FormatError
				if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) {
					t.Fatalf("err = %v, want *FormatError", err)
				}
				if len(got) != tc.frames || fe.Offset != tc.off || !strings.Contains(fe.Reason, tc.reason) {
					t.Errorf("got %d frames, %v\nwant %d frames, offset %d, reason %q", len(got), err, tc.frames, tc.off, tc.reason)
				}
				if st := f.Stats(); st.Offset != tc.off || st.Frames != uint64(tc.frames) {
					t.Errorf("Stats = %+v, want Offset %d Frames %d", st, tc.off, tc.frames)
				}
				// Sticky: the same error, again and again.
				for range 2 {
					if n, err2 := f.ReadBatch(make([]Frame, 8)); n != 0 || err2 != err {
						t.Errorf("ReadBatch after error = %d, %v; want 0, %v", n, err2, err)
					}
				}
			}
		})
	}
}

// TestGzipDamage flips each byte of the compressed stream after the fixed
// header: reading ends with a *FormatError (inflate or the CRC catches it).
func TestGzipDamage(t *testing.T) {
	z := gz(pcapLEMicros)
	for i := 10; i < len(z); i++ {
		b := bytes.Clone(z)
		b[i] ^= 0x55
		f, err := NewReader(bytes.NewReader(b), "flip")
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Errorf("flip %d: NewReader: %v, want ErrFormat", i, err)
			}
			continue
		}
		got, err := readAll(t, f, 8)
		switch {
		case err == io.EOF:
			// Only a flip inflate cannot see and the CRC forgives —
			// none expected, but then the frames must be right.
			sameFrames(t, got, pcapLEMicrosWant)
		case !errors.Is(err, ErrFormat):
			t.Errorf("flip %d: %d frames, %v; want ErrFormat", i, len(got), err)
		}
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestReaderErrors: an I/O error is returned wrapped (not as damage) after
// the frames read before it; a reader that returns nothing forever is
// stopped with io.ErrNoProgress.
func TestReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(pcapLEMicros[:44]), errReader{boom})
	f, err := NewReader(r, "boom")
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, f, 8)
	if len(got) != 1 || !errors.Is(err, boom) || errors.Is(err, ErrFormat) {
		t.Errorf("got %d frames, %v; want 1 frame and boom", len(got), err)
	}

	r = io.MultiReader(bytes.NewReader(pcapLEMicros[:44]), errReader{nil})
	f, err = NewReader(r, "stuck")
	if err != nil {
		t.Fatal(err)
	}
	got, err = readAll(t, f, 8)
	if len(got) != 1 || !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("got %d frames, %v; want 1 frame and io.ErrNoProgress", len(got), err)
	}

	// A reader that returns data with io.EOF (allowed by io.Reader).
	f, err = NewReader(iotest.DataErrReader(bytes.NewReader(ngTwoInterfaces)), "dataerr")
	if err != nil {
		t.Fatal(err)
	}
	got, err = readAll(t, f, 8)
	if err != io.EOF {
		t.Fatal(err)
	}
	sameFrames(t, got, ngTwoInterfacesWant)
}

// TestLargeRecord: a record larger than the starting buffer grows it; one
// over MaxRecordSize is damage and does not grow it.
func TestLargeRecord(t *testing.T) {
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	var b bytes.Buffer
	b.Write(pcapLEMicros)
	b.Write(hx("03f15365 00000000")) // ts 1700000003.0
	b.Write([]byte{0, 0, 0x30, 0, 0, 0, 0x30, 0})
	b.Write(big)
	b.Write(pcapLEMicros[24:44]) // record 0 again
	f, err := NewReader(iotest.HalfReader(bytes.NewReader(b.Bytes())), "big")
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, f, 16)
	if err != io.EOF {
		t.Fatal(err)
	}
	exp := append([]want{}, pcapLEMicrosWant...)
	exp = append(exp, want{big, t0 + 3e9, 3 << 20, LinkEthernet, 0}, pcapLEMicrosWant[0])
	sameFrames(t, got, exp)
}

func TestReset(t *testing.T) {
	f, err := NewReader(bytes.NewReader(ngTwoSections), "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, f, 3); err != io.EOF {
		t.Fatal(err)
	}
	for _, fx := range fixtures {
		if err := f.Reset(bytes.NewReader(fx.data), fx.name); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, f, 3)
		if err != io.EOF {
			t.Fatal(err)
		}
		sameFrames(t, got, fx.want)
		if st := f.Stats(); st.Frames != uint64(len(fx.want)) || st.Offset != int64(len(fx.data)) {
			t.Errorf("%s: Stats %+v", fx.name, st)
		}
	}
	// A failed Reset leaves the File failed with that error.
	if err := f.Reset(bytes.NewReader(nil), "empty"); err == nil {
		t.Fatal("Reset(empty) succeeded")
	} else if _, err2 := f.ReadBatch(make([]Frame, 1)); err2 != err {
		t.Errorf("ReadBatch after failed Reset = %v, want %v", err2, err)
	}
}

func TestLinkTypeString(t *testing.T) {
	for lt, s := range map[LinkType]string{LinkEthernet: "ethernet", LinkLinuxSLL2: "linux-sll2", 147: "linktype-147"} {
		if got := fmt.Sprint(lt); got != s {
			t.Errorf("%d: %q, want %q", uint16(lt), got, s)
		}
	}
}

// TestPcapNGInterfaceCap: a section that describes more interfaces than
// MaxInterfaces is damage, reported with its offset, not memory without
// bound.
func TestPcapNGInterfaceCap(t *testing.T) {
	var b bytes.Buffer
	// section header block: type, length 28, byte-order magic, version
	// 1.0, section length -1, length again
	b.Write(hx("0a0d0d0a 1c000000 4d3c2b1a 0100 0000 ffffffffffffffff 1c000000"))
	// interface description block: type 1, length 20, link type 1,
	// reserved, snap length 0, length again
	idb := hx("01000000 14000000 0100 0000 00000000 14000000")
	for range MaxInterfaces + 1 {
		b.Write(idb)
	}
	r, err := NewReader(bytes.NewReader(gz(b.Bytes())), "idbs.pcapng.gz")
	if err != nil {
		t.Fatal(err)
	}
	frames := make([]Frame, 16)
	for {
		_, err = r.ReadBatch(frames)
		if err != nil {
			break
		}
	}
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "interface description blocks") {
		t.Fatalf("err = %v, want a FormatError about too many interfaces", err)
	}
	if want := int64(28 + 20*MaxInterfaces); fe.Offset != want {
		t.Errorf("offset %d, want %d (the first block past the cap)", fe.Offset, want)
	}
}
