package s3store

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// A spool file is named by its commit sequence number, NNNNNNNNNNNNNNNN.obj
// (16 hex digits, so names sort in commit order), and holds a header line
// then the object's bytes. The header carries bucket and key with their
// lengths, since a key may hold any byte but NUL and may be longer than a
// file name can be:
//
//	flowd-spool 1 <len(bucket)> <len(key)>\n<bucket><key>\n
//
// An object still being written is a *.part file; it was never committed,
// so New removes it.
const (
	spoolSuffix = ".obj"
	partSuffix  = ".part"
	spoolMagic  = "flowd-spool 1"
)

func spoolName(seq uint64) string { return fmt.Sprintf("%016x%s", seq, spoolSuffix) }

func parseSpoolName(name string) (uint64, bool) {
	hex := strings.TrimSuffix(name, spoolSuffix)
	if len(hex) != 16 {
		return 0, false
	}
	seq, err := strconv.ParseUint(hex, 16, 64)
	return seq, err == nil
}

func encodeHeader(bucket, key string) string {
	return fmt.Sprintf("%s %d %d\n%s%s\n", spoolMagic, len(bucket), len(key), bucket, key)
}

// readItem reads the header of the spool file at path and returns its item
// and the file's size.
func readItem(path string) (*item, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	br := bufio.NewReader(f)
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, 0, fmt.Errorf("no header line: %w", err)
	}
	var nb, nk int
	if _, err := fmt.Sscanf(line, spoolMagic+" %d %d\n", &nb, &nk); err != nil || nb <= 0 || nk <= 0 || nb > 255 || nk > 4096 {
		return nil, 0, fmt.Errorf("bad header %q", strings.TrimSpace(line))
	}
	names := make([]byte, nb+nk+1)
	if _, err := io.ReadFull(br, names); err != nil || names[nb+nk] != '\n' {
		return nil, 0, fmt.Errorf("truncated header")
	}
	off := int64(len(line) + len(names))
	if fi.Size() < off {
		return nil, 0, fmt.Errorf("truncated header")
	}
	it := &item{path: path, bucket: string(names[:nb]), key: string(names[nb : nb+nk]), off: off, size: fi.Size() - off}
	return it, fi.Size(), nil
}

// syncDir makes a rename in dir durable; where the OS cannot, the rename
// is still atomic, which is what matters most.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
