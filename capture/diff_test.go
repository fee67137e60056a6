package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// The reader against gopacket's pcapgo.Reader and pcapgo.NgReader, and
// against the generator's own account of what it wrote.

// noTS marks a frame whose timestamp the reference cannot say (gopacket
// gives SPBs the zero time).
const noTS = math.MinInt64

// gopacketFrames reads data with pcapgo. gopacket's layers.LinkType is a
// uint8, so link types are compared modulo 256.
func gopacketFrames(t *testing.T, data []byte, ng bool) ([]want, error) {
	t.Helper()
	var got []want
	if !ng {
		r, err := pcapgo.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		for {
			p, ci, err := r.ReadPacketData()
			if err != nil {
				return got, err
			}
			got = append(got, want{p, ci.Timestamp.UnixNano(), uint32(ci.Length), LinkType(r.LinkType()), 0})
		}
	}
	var base uint32
	opts := pcapgo.DefaultNgReaderOptions
	opts.WantMixedLinkType = true
	opts.SectionEndCallback = func(ifs []pcapgo.NgInterface, _ pcapgo.NgSectionInfo) { base += uint32(len(ifs)) }
	r, err := pcapgo.NewNgReader(bytes.NewReader(data), opts)
	if err != nil {
		return nil, err
	}
	for {
		p, ci, err := r.ReadPacketData()
		if err != nil {
			return got, err
		}
		ts := int64(noTS)
		if !ci.Timestamp.IsZero() {
			ts = ci.Timestamp.UnixNano()
		}
		lt := ci.AncillaryData[0].(layers.LinkType)
		got = append(got, want{p, ts, uint32(ci.Length), LinkType(lt), base + uint32(ci.InterfaceIndex)})
	}
}

func sameAsGopacket(t *testing.T, name string, got, ref []want) {
	t.Helper()
	if len(got) != len(ref) {
		t.Errorf("%s: %d frames, gopacket %d", name, len(got), len(ref))
	}
	for i := range min(len(got), len(ref)) {
		g, r := got[i], ref[i]
		if !bytes.Equal(g.Data, r.Data) || (r.Timestamp != noTS && g.Timestamp != r.Timestamp) ||
			g.WireLen != r.WireLen || uint8(g.LinkType) != uint8(r.LinkType) || g.Interface != r.Interface {
			t.Errorf("%s: frame %d:\n got      len=%d ts=%d wire=%d link=%d if=%d\n gopacket len=%d ts=%d wire=%d link=%d if=%d",
				name, i, len(g.Data), g.Timestamp, g.WireLen, g.LinkType, g.Interface,
				len(r.Data), r.Timestamp, r.WireLen, r.LinkType, r.Interface)
			return
		}
	}
}

func read(t *testing.T, data []byte, name string) ([]want, error) {
	t.Helper()
	f, err := NewReader(bytes.NewReader(data), name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(t, f, 64)
}

// TestGenerated reads seeded random files of every shape, plain, gzipped
// and one byte at a time through a tiny buffer, against what the
// generator wrote.
func TestGenerated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var files []genFile
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, nanos := range []bool{false, true} {
			files = append(files, genPcap(rng, 150, order, nanos, []uint32{1, 101, 113, 276, 0x1000000c, 229}[rng.IntN(6)]))
		}
	}
	for i := range 12 {
		files = append(files, genPcapNG(rng, 150, ngOptions{sections: 1 + i%3}))
	}
	for i, g := range files {
		got, err := read(t, g.data, "gen")
		if err != io.EOF {
			t.Fatalf("file %d: %v", i, err)
		}
		sameFrames(t, got, g.frames)

		got, err = read(t, gz(g.data), "gen.gz")
		if err != io.EOF {
			t.Fatalf("file %d gzip: %v", i, err)
		}
		sameFrames(t, got, g.frames)

		// The dumb walker in trunc_test.go finds the same record ends.
		if ends := walkEnds(g.data); !equalEnds(ends, g.ends) {
			t.Errorf("file %d: walker and generator disagree on record ends", i)
		}

		if raceEnabled && i%3 != 0 {
			continue // one byte at a time is slow under -race; TestBuffering covers it too
		}
		f, err := newReaderSize(iotest.OneByteReader(bytes.NewReader(g.data)), "gen", 7)
		if err != nil {
			t.Fatal(err)
		}
		got, err = readAll(t, f, 5)
		if err != io.EOF {
			t.Fatalf("file %d one byte at a time: %v", i, err)
		}
		sameFrames(t, got, g.frames)
	}
}

func TestAgainstGopacketPcap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, nanos := range []bool{false, true} {
		// Files written by pcapgo.Writer.
		var buf bytes.Buffer
		w := pcapgo.NewWriter(&buf)
		if nanos {
			w = pcapgo.NewWriterNanos(&buf)
		}
		if err := w.WriteFileHeader(65535, layers.LinkTypeLinuxSLL); err != nil {
			t.Fatal(err)
		}
		ts := time.Unix(1_650_000_000, 0)
		for range 200 {
			p := randPacket(rng)
			ts = ts.Add(time.Duration(rng.Int64N(2e9)))
			ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(p), Length: len(p) + rng.IntN(2)*rng.IntN(100)}
			if err := w.WritePacket(ci, p); err != nil {
				t.Fatal(err)
			}
		}
		files := map[string][]byte{"pcapgo.Writer": buf.Bytes()}
		// And the generator's files in both byte orders.
		for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
			files["gen-"+order.String()] = genPcap(rng, 200, order, nanos, 1).data
		}
		for name, data := range files {
			for _, z := range []bool{false, true} {
				if z {
					data, name = gz(data), name+".gz"
				}
				ref, rerr := gopacketFrames(t, data, false)
				got, err := read(t, data, name)
				if rerr != io.EOF || err != io.EOF {
					t.Fatalf("%s: err %v, gopacket %v", name, err, rerr)
				}
				sameAsGopacket(t, name, got, ref)
			}
		}
	}
}

func TestAgainstGopacketPcapNG(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	files := map[string][]byte{}

	// A file written by pcapgo.NgWriter: two interfaces of different link
	// types, statistics blocks in between.
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddInterface(pcapgo.NgInterface{Name: "lo", LinkType: layers.LinkTypeRaw, SnapLength: 9000}); err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1_650_000_000, 0)
	for i := range 300 {
		p := randPacket(rng)
		ts = ts.Add(time.Duration(rng.Int64N(2e9)))
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(p), Length: len(p) + rng.IntN(100), InterfaceIndex: rng.IntN(2)}
		if err := w.WritePacket(ci, p); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			stats := pcapgo.NgInterfaceStatistics{LastUpdate: ts, PacketsReceived: uint64(i), PacketsDropped: pcapgo.NgNoValue64}
			if err := w.WriteInterfaceStats(i%2, stats); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	files["pcapgo.NgWriter"] = buf.Bytes()

	for i := range 10 {
		files["gen-"+string(rune('a'+i))] = genPcapNG(rng, 300, ngOptions{sections: 1 + i%3, exactForGopacket: true}).data
	}

	// The pcapng test suite gopacket ships (pcapng-test-generator), in
	// both byte orders: several sections, many interfaces, SPBs, obsolete
	// PBs, NRBs, ISBs, custom blocks, a section of unknown version.
	suite, _ := filepath.Glob("testdata/pcapng-test-generator/*/*.pcapng")
	if len(suite) == 0 {
		t.Fatal("no files in testdata/pcapng-test-generator")
	}
	for _, path := range suite {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files[path] = b
	}

	for name, data := range files {
		ref, rerr := gopacketFrames(t, data, true)
		got, err := read(t, data, name)
		if (rerr == io.EOF) != (err == io.EOF) {
			t.Errorf("%s: err %v, gopacket %v", name, err, rerr)
		}
		if err != io.EOF && !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err %v, want io.EOF or ErrFormat", name, err)
		}
		sameAsGopacket(t, name, got, ref)
	}
}
