package flowlog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ObjectStore is where S3 objects go: a local directory now, an S3 client
// later. Implementations must make an object visible only when it is
// committed, whole.
type ObjectStore interface {
	// Create starts a new object. Nothing is visible under bucket/key until
	// Commit returns nil.
	Create(bucket, key string) (Object, error)
}

// Object is an object being written.
type Object interface {
	io.Writer
	// Commit makes the object visible under its key, replacing any object
	// of that key.
	Commit() error
	// Abort discards the object. It is safe to call after Commit, when it
	// does nothing.
	Abort() error
}

// DirStore keeps objects as files, Root/bucket/key. Each object is written
// to a temporary file in its final folder and renamed into place on Commit,
// so a reader never sees a partial object. Calls for different objects may
// run concurrently.
type DirStore struct {
	Root string
}

// CheckKey reports whether key is safe to use as a relative path: no empty,
// "." or ".." segments, no leading '/', no NUL or backslash.
func CheckKey(key string) error {
	if key == "" {
		return errors.New("empty object key")
	}
	if strings.ContainsAny(key, "\x00\\") {
		return fmt.Errorf("object key %q holds a NUL or backslash", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("object key %q has an empty, \".\" or \"..\" path segment", key)
		}
	}
	return nil
}

// Create implements ObjectStore.
func (s DirStore) Create(bucket, key string) (Object, error) {
	if err := checkBucketName(bucket); err != nil {
		return nil, fmt.Errorf("flowlog: %w", err)
	}
	if err := CheckKey(key); err != nil {
		return nil, fmt.Errorf("flowlog: %w", err)
	}
	final := filepath.Join(s.Root, bucket, filepath.FromSlash(key))
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("flowlog: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(final)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("flowlog: %w", err)
	}
	return &fileObject{f: f, bw: bufio.NewWriterSize(f, 256<<10), final: final}, nil
}

type fileObject struct {
	f     *os.File
	bw    *bufio.Writer
	final string
	done  bool
}

func (o *fileObject) Write(b []byte) (int, error) {
	if o.done {
		return 0, errWriterClosed
	}
	return o.bw.Write(b)
}

func (o *fileObject) Commit() error {
	if o.done {
		return errWriterClosed
	}
	o.done = true
	err := o.bw.Flush()
	if err == nil {
		err = o.f.Sync()
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(o.f.Name(), o.final)
	}
	if err != nil {
		os.Remove(o.f.Name())
		return fmt.Errorf("flowlog: commit %s: %w", o.final, err)
	}
	return nil
}

func (o *fileObject) Abort() error {
	if o.done {
		return nil
	}
	o.done = true
	o.f.Close()
	return os.Remove(o.f.Name())
}
