package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The hostile capture corpus: files made to hurt a reader (lying lengths,
// wrong magic, truncation, interface ids out of range, gzip bombs) or a
// decoder (unknown link types, fragment storms, 100-deep extension header
// chains). TestHostileCaptures replays each with the flowd binary and holds
// it to: no panic and no hang, an exit status of 0 or 1, a damaged file
// named in the error with the offset of the damage, a survivable one
// summed up with its counted reasons, and a peak RSS under
// maxHostileRSS. scripts/hostile-captures.sh writes the same files to a
// directory, for trying other tools on them.

// maxHostileRSS bounds the peak resident memory (VmHWM) of replaying any
// one hostile file. Measured on the 2-core test machine (Go 1.26, Dec
// 2026): 24-30 MiB for most files, 39-43 MiB for the 65,536 interfaces a
// section may hold, 56 MiB for a 16 MiB record (capture.MaxRecordSize, in
// the read buffer). The bound leaves room for the garbage collector.
const maxHostileRSS = 96 << 20

var hostileOut = flag.String("hostile.out", "", "TestHostileCorpusWrite writes the hostile capture corpus into this directory")

// hostile is one file of the corpus. damaged files must fail with
// "NAME: offset N: reason"; the others must be read through (exit 0, or 1
// with "nothing usable" when no frame could be used) with a summary.
type hostile struct {
	name    string
	data    []byte
	damaged bool
}

// Little-endian pcap pieces.

func pcapHeader(magic uint32, major, minor uint16, snap, link uint32) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:], magic)
	binary.LittleEndian.PutUint16(b[4:], major)
	binary.LittleEndian.PutUint16(b[6:], minor)
	binary.LittleEndian.PutUint32(b[16:], snap)
	binary.LittleEndian.PutUint32(b[20:], link)
	return b
}

const (
	magicMicros = 0xa1b2c3d4
	linkEther   = 1
)

func goodHeader() []byte { return pcapHeader(magicMicros, 2, 4, 65535, linkEther) }

// record is a pcap record header (ts, caplen, origlen) and data.
func record(sec, frac, caplen, origlen uint32, data []byte) []byte {
	b := make([]byte, 16, 16+len(data))
	binary.LittleEndian.PutUint32(b[0:], sec)
	binary.LittleEndian.PutUint32(b[4:], frac)
	binary.LittleEndian.PutUint32(b[8:], caplen)
	binary.LittleEndian.PutUint32(b[12:], origlen)
	return append(b, data...)
}

func rec(i int, data []byte) []byte {
	return record(1_700_000_000+uint32(i/1000), uint32(i%1000)*1000, uint32(len(data)), uint32(len(data)), data)
}

// ether is an Ethernet II header: dst, src, type.
func ether(typ uint16) []byte {
	b := []byte{0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0}
	binary.BigEndian.PutUint16(b[12:], typ)
	return b
}

// ipv4 is an IPv4 header (no options) for payload, with id and the
// fragment field (flags and offset in 8-byte units) given.
func ipv4(id, frag uint16, proto uint8, payload []byte) []byte {
	b := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], frag)
	return append(b, payload...)
}

func udp(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func pcapOf(frames ...[]byte) []byte {
	out := goodHeader()
	for i, f := range frames {
		out = append(out, rec(i, f)...)
	}
	return out
}

func udpFrame(sport uint16) []byte {
	return cat(ether(0x0800), ipv4(1, 0, 17, udp(sport, 53, []byte("hostile"))))
}

// pcapng pieces, little endian.

func block(typ uint32, body []byte) []byte {
	body = append(body, make([]byte, (4-len(body)%4)%4)...)
	n := uint32(12 + len(body))
	b := make([]byte, 8, n)
	binary.LittleEndian.PutUint32(b[0:], typ)
	binary.LittleEndian.PutUint32(b[4:], n)
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, n)
}

func shb(major uint16) []byte {
	body := make([]byte, 16)
	binary.LittleEndian.PutUint32(body[0:], 0x1a2b3c4d)
	binary.LittleEndian.PutUint16(body[4:], major)
	binary.LittleEndian.PutUint64(body[8:], ^uint64(0)) // section length unknown
	return block(0x0a0d0d0a, body)
}

func idb(link uint16, snap uint32, opts []byte) []byte {
	body := make([]byte, 8)
	binary.LittleEndian.PutUint16(body[0:], link)
	binary.LittleEndian.PutUint32(body[4:], snap)
	return block(1, append(body, opts...))
}

func epb(iface, caplen uint32, data []byte) []byte {
	body := make([]byte, 20)
	binary.LittleEndian.PutUint32(body[0:], iface)
	binary.LittleEndian.PutUint32(body[8:], 1)
	binary.LittleEndian.PutUint32(body[12:], caplen)
	binary.LittleEndian.PutUint32(body[16:], uint32(len(data)))
	return block(6, append(body, data...))
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func repeat(n int, f func(i int) []byte) []byte {
	var b []byte
	for i := range n {
		b = append(b, f(i)...)
	}
	return b
}

// hostileCorpus makes the corpus: 42 files, 24 MB in all (made afresh by
// each run, never committed).
func hostileCorpus() []hostile {
	good := pcapOf(udpFrame(1000), udpFrame(1001))
	ng := cat(shb(1), idb(linkEther, 0, nil), epb(0, uint32(len(udpFrame(1))), udpFrame(1)))
	var hs []hostile
	add := func(name string, damaged bool, data []byte) { hs = append(hs, hostile{name, data, damaged}) }

	// pcap framing.
	add("empty.pcap", true, nil)
	add("truncated-header.pcap", true, goodHeader()[:10])
	add("wrong-magic.pcap", true, append([]byte("GIF89a"), make([]byte, 40)...))
	add("version-9.pcap", true, cat(pcapHeader(magicMicros, 9, 9, 65535, linkEther), good[24:]))
	add("huge-caplen.pcap", true, cat(goodHeader(), record(1, 0, 0xffffffff, 60, nil)))
	add("caplen-over-limit.pcap", true, cat(goodHeader(), record(1, 0, 16<<20+1, 60, nil)))
	add("caplen-past-eof.pcap", true, cat(goodHeader(), record(1, 0, 1<<20, 60, make([]byte, 100))))
	add("truncated-record-header.pcap", true, good[:len(good)-len(udpFrame(1))-8])
	add("truncated-last-record.pcap", true, good[:len(good)-3])
	add("zero-length-records.pcap", false, cat(goodHeader(), repeat(100_000, func(i int) []byte { return record(1, uint32(i%1000), 0, 0, nil) })))
	add("snaplen-0.pcap", false, cat(pcapHeader(magicMicros, 2, 4, 0, linkEther), good[24:]))
	add("longer-than-snaplen.pcap", false, cat(pcapHeader(magicMicros, 2, 4, 64, linkEther),
		rec(0, cat(ether(0x0800), ipv4(1, 0, 17, udp(1, 2, make([]byte, 1400)))))))
	add("caplen-over-origlen.pcap", false, cat(goodHeader(), record(1, 0, uint32(len(udpFrame(1))), 1, udpFrame(1))))
	add("one-16MiB-record.pcap", false, cat(goodHeader(), record(1, 0, 16<<20-16, 16<<20-16, make([]byte, 16<<20-16))))
	add("unknown-link-type.pcap", false, cat(pcapHeader(magicMicros, 2, 4, 65535, 0xfffe), good[24:]))
	add("fcs-bits-in-link-type.pcap", false, cat(pcapHeader(magicMicros, 2, 4, 65535, 0x1000_0000|linkEther), good[24:]))
	add("timestamps-wild.pcap", false, cat(goodHeader(),
		record(0xffffffff, 999_999_999, uint32(len(udpFrame(1))), 60, udpFrame(1)),
		record(0, 0, uint32(len(udpFrame(2))), 60, udpFrame(2)),
		record(1, 0xffffffff, uint32(len(udpFrame(3))), 60, udpFrame(3))))

	// Decoder food.
	add("fragment-storm.pcap", false, pcapOf(func() [][]byte {
		var fs [][]byte
		for i := range 20_000 {
			fs = append(fs, cat(ether(0x0800), ipv4(uint16(i), 0x2000|uint16(i%64), 17, make([]byte, 24))))
		}
		return fs
	}()...))
	add("ipv6-100-extension-headers.pcap", false, pcapOf(func() [][]byte {
		var chain []byte
		for range 100 {
			chain = append(chain, 60, 0, 0, 0, 0, 0, 0, 0) // destination options, next: another
		}
		chain[len(chain)-8] = 17 // the last one leads to UDP
		ip6 := make([]byte, 40)
		ip6[0] = 0x60
		binary.BigEndian.PutUint16(ip6[4:], uint16(len(chain)+8))
		ip6[6] = 60
		ip6[7] = 64
		ip6[23], ip6[39] = 1, 2
		f := cat(ether(0x86dd), ip6, chain, udp(1, 2, nil))
		return [][]byte{f, f, f}
	}()...))
	add("vlan-100-deep.pcap", false, pcapOf(cat(ether(0x8100), bytes.Repeat([]byte{0, 1, 0x81, 0}, 100), []byte{0, 1, 8, 0}, ipv4(1, 0, 17, udp(1, 2, nil)))))
	add("ipv4-lying-lengths.pcap", false, pcapOf(
		cat(ether(0x0800), []byte{0x41}, make([]byte, 19)),                                   // IHL 1
		cat(ether(0x0800), []byte{0x4f, 0, 0xff, 0xff}, make([]byte, 16)),                    // IHL 15, total length 65535
		cat(ether(0x0800), ipv4(1, 0, 6, []byte{0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0})))) // TCP data offset 15, cut

	// pcapng framing.
	badBOM := shb(1)
	binary.LittleEndian.PutUint32(badBOM[8:], 0xdeadbeef)
	add("ng-bad-byte-order.pcapng", true, badBOM)
	odd := cat(shb(1), idb(linkEther, 0, nil))
	binary.LittleEndian.PutUint32(odd[len(shb(1))+4:], 22)
	add("ng-length-not-multiple-of-4.pcapng", true, odd)
	huge := cat(shb(1), idb(linkEther, 0, nil))
	binary.LittleEndian.PutUint32(huge[len(shb(1))+4:], 0xfffffff0)
	add("ng-huge-block-length.pcapng", true, huge)
	short := cat(shb(1), idb(linkEther, 0, nil))
	binary.LittleEndian.PutUint32(short[len(shb(1))+4:], 8)
	add("ng-block-under-minimum.pcapng", true, short)
	tail := bytes.Clone(ng)
	binary.LittleEndian.PutUint32(tail[len(tail)-4:], 4096)
	add("ng-trailing-length-mismatch.pcapng", true, tail)
	add("ng-interface-out-of-range.pcapng", true, cat(shb(1), idb(linkEther, 0, nil), epb(7, 10, make([]byte, 10))))
	add("ng-packet-before-interface.pcapng", true, cat(shb(1), epb(0, 10, make([]byte, 10))))
	add("ng-version-2.pcapng", true, cat(shb(2), idb(linkEther, 0, nil)))
	add("ng-option-length-lies.pcapng", true, cat(shb(1), idb(linkEther, 0, []byte{9, 0, 0xff, 0})))
	add("ng-tsresol-too-fine.pcapng", true, cat(shb(1), idb(linkEther, 0, []byte{9, 0, 1, 0, 0xff, 0, 0, 0})))
	add("ng-caplen-over-block.pcapng", true, cat(shb(1), idb(linkEther, 0, nil), epb(0, 4000, make([]byte, 10))))
	add("ng-70000-interfaces.pcapng", true, cat(shb(1), repeat(70_000, func(int) []byte { return idb(linkEther, 0, nil) })))
	add("ng-20000-sections.pcapng", false, repeat(20_000, func(i int) []byte {
		return cat(shb(1), idb(linkEther, 0, nil), epb(0, uint32(len(udpFrame(uint16(i)))), udpFrame(uint16(i))))
	}))
	add("ng-unknown-blocks.pcapng", false, cat(shb(1), idb(linkEther, 0, nil), repeat(10_000, func(int) []byte { return block(0x0bad, make([]byte, 16)) }), epb(0, uint32(len(udpFrame(1))), udpFrame(1))))

	// gzip.
	gzGood := gz(good)
	add("gz-truncated.pcap.gz", true, gzGood[:len(gzGood)-12])
	add("gz-trailing-garbage.pcap.gz", true, append(bytes.Clone(gzGood), "not gzip"...))
	badCRC := bytes.Clone(gzGood)
	binary.LittleEndian.PutUint32(badCRC[len(badCRC)-8:], crc32.ChecksumIEEE(good)^1)
	add("gz-bad-crc.pcap.gz", true, badCRC)
	add("gz-nested.pcap.gz.gz", true, gz(gzGood))
	add("gz-bomb-zero-records.pcap.gz", false, gz(cat(goodHeader(), make([]byte, 32<<20))))
	add("gz-bomb-no-header.gz", true, gz(make([]byte, 64<<20)))
	add("gz-bomb-ng-interfaces.pcapng.gz", true, gz(cat(shb(1), repeat(1_000_000, func(int) []byte { return idb(linkEther, 0, nil) }))))
	return hs
}

// TestHostileCorpusWrite writes the corpus into -hostile.out (see
// scripts/hostile-captures.sh); without the flag it does nothing.
func TestHostileCorpusWrite(t *testing.T) {
	if *hostileOut == "" {
		t.Skip("no -hostile.out directory")
	}
	if err := os.MkdirAll(*hostileOut, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, h := range hostileCorpus() {
		if err := os.WriteFile(filepath.Join(*hostileOut, h.name), h.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	offsetRe  = regexp.MustCompile(`: offset (\d+): `)
	countedRe = regexp.MustCompile(`(?m)^unusable: [a-z0-9_]+ \d+`)
)

func TestHostileCaptures(t *testing.T) {
	bin := buildFlowd(t)
	dir := t.TempDir()
	var peak int64
	for _, h := range hostileCorpus() {
		path := filepath.Join(dir, h.name)
		if err := os.WriteFile(path, h.data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, bin, "replay", "--format", "none", "--progress", "never", path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		hwm := watchHWM(cmd.Process.Pid)
		err := cmd.Wait()
		elapsed := time.Since(start)
		cancel()
		rss := hwm()
		out := stderr.String()
		code := 0
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee) && ee.Exited():
			code = ee.ExitCode()
		default:
			t.Errorf("%s: %v after %v (killed or hung)\n%s", h.name, err, elapsed.Round(time.Millisecond), out)
			continue
		}
		peak = max(peak, rss)
		if runtime.GOOS != "linux" {
			rss = 0 // no /proc: unmeasured
		}
		if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
			t.Errorf("%s: panicked:\n%s", h.name, out)
		}
		if rss > maxHostileRSS {
			t.Errorf("%s: peak RSS %d MiB, over the bound of %d MiB", h.name, rss>>20, maxHostileRSS>>20)
		}
		if h.damaged {
			m := offsetRe.FindStringSubmatch(out)
			if code != 1 || m == nil || !strings.Contains(out, path+": offset ") {
				t.Errorf("%s: exit %d; want 1 with %q and the offset of the damage:\n%s", h.name, code, path+": offset N: reason", out)
			}
		} else {
			if code != 0 && !(code == 1 && strings.Contains(out, "nothing usable")) {
				t.Errorf("%s: exit %d; want it read through:\n%s", h.name, code, out)
			}
			// Frames it could not use are counted by reason.
			if code == 1 && !countedRe.MatchString(out) {
				t.Errorf("%s: nothing usable, but no reason counted:\n%s", h.name, out)
			}
			if !strings.Contains(out, "packets: ") {
				t.Errorf("%s: no summary with the counts:\n%s", h.name, out)
			}
		}
		last := strings.TrimSpace(out)
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		t.Logf("%-38s %8d B  exit %d  %6v  %3d MiB  %.110s", h.name, len(h.data), code, elapsed.Round(time.Millisecond), rss>>20, last)
	}
	t.Logf("peak RSS over the corpus: %d MiB (bound %d MiB)", peak>>20, maxHostileRSS>>20)
}

// watchHWM samples the peak resident set (VmHWM) of the process pid
// every millisecond until the returned function is called, which returns
// the last sample in bytes (0 where /proc is not there). The rusage of a
// child would not do: on Linux its maxrss counts the test process's own
// memory, which the child shared until it called exec.
func watchHWM(pid int) func() int64 {
	path := fmt.Sprintf("/proc/%d/status", pid)
	var last atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	read := func() {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				var kb int64
				fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
				if kb<<10 > last.Load() {
					last.Store(kb << 10)
				}
			}
		}
	}
	go func() {
		defer close(done)
		for {
			read()
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return last.Load()
	}
}
