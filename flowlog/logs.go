package flowlog

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// StreamName returns the CloudWatch Logs stream of an interface for a flow
// log of the given traffic type: eni-...-all as AWS names it, and -accept or
// -reject for the filtered types (AWS does not document those two).
func StreamName(interfaceID, trafficType string) string {
	switch trafficType {
	case TrafficAccept:
		return interfaceID + "-accept"
	case TrafficReject:
		return interfaceID + "-reject"
	}
	return interfaceID + "-all"
}

// appendFiles keeps append-mode files open under one directory, each behind
// a buffer.
type appendFiles struct {
	dir   string
	files map[string]*appendFile
}

type appendFile struct {
	f  *os.File
	bw *bufio.Writer
}

func (a *appendFiles) get(rel string) (*appendFile, error) {
	if af := a.files[rel]; af != nil {
		return af, nil
	}
	p := filepath.Join(a.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("flowlog: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("flowlog: %w", err)
	}
	if a.files == nil {
		a.files = make(map[string]*appendFile)
	}
	af := &appendFile{f: f, bw: bufio.NewWriterSize(f, 64<<10)}
	a.files[rel] = af
	return af, nil
}

func (a *appendFiles) flush() error {
	var errs []error
	for _, af := range a.files {
		if err := af.bw.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("flowlog: %s: %w", af.f.Name(), err))
		}
	}
	return errors.Join(errs...)
}

func (a *appendFiles) close() error {
	err := a.flush()
	var errs []error
	for rel, af := range a.files {
		if cerr := af.f.Close(); cerr != nil {
			errs = append(errs, cerr)
		}
		delete(a.files, rel)
	}
	return errors.Join(append([]error{err}, errs...)...)
}

// LogsWriter writes the local form of CloudWatch Logs delivery: for each log
// stream a file Dir/<log-group>/<stream> of JSON lines
// {"timestamp":<start in ms>,"message":"<record>"}. Slashes in a log group
// name become folders. Lines are buffered until Flush or Close. A LogsWriter
// is not safe for concurrent use; Write does not allocate once a stream's
// file is open.
type LogsWriter struct {
	files   appendFiles
	streams map[logStream]*appendFile // validated and open
	buf     []byte
	line    []byte
}

type logStream struct{ group, stream string }

// NewLogsWriter returns a writer under dir.
func NewLogsWriter(dir string) *LogsWriter {
	return &LogsWriter{files: appendFiles{dir: dir}}
}

// Write appends r, formatted with f, as one event of group/stream.
func (w *LogsWriter) Write(group, stream string, f Format, r *Record) error {
	af := w.streams[logStream{group, stream}]
	if af == nil {
		rel, err := logsPath(group, stream)
		if err != nil {
			return err
		}
		if af, err = w.files.get(rel); err != nil {
			return err
		}
		if w.streams == nil {
			w.streams = make(map[logStream]*appendFile)
		}
		w.streams[logStream{group, stream}] = af
	}
	w.line = f.AppendText(w.line[:0], r)
	w.buf = append(w.buf[:0], `{"timestamp":`...)
	w.buf = strconv.AppendInt(w.buf, r.Start*1000, 10)
	w.buf = append(w.buf, `,"message":`...)
	w.buf = appendJSONString(w.buf, w.line)
	w.buf = append(w.buf, "}\n"...)
	_, err := af.bw.Write(w.buf)
	return err
}

func logsPath(group, stream string) (string, error) {
	if err := checkLogGroupName(group); err != nil {
		return "", fmt.Errorf("flowlog: log group %w", err)
	}
	if stream == "" || strings.ContainsAny(stream, "/\\\x00:*") || stream == "." || stream == ".." {
		return "", fmt.Errorf("flowlog: log stream name %q is empty or holds '/', '\\', ':' or '*'", stream)
	}
	return strings.Trim(group, "/") + "/" + stream, nil
}

// Flush writes buffered lines to their files.
func (w *LogsWriter) Flush() error { return w.files.flush() }

// Close flushes and closes every file.
func (w *LogsWriter) Close() error {
	clear(w.streams)
	return w.files.close()
}

// FirehoseWriter writes the local form of Kinesis Data Firehose delivery:
// plain-text record lines appended to Dir/<delivery-stream>, without a
// header. Not safe for concurrent use.
type FirehoseWriter struct {
	files appendFiles
	buf   []byte
}

// NewFirehoseWriter returns a writer under dir.
func NewFirehoseWriter(dir string) *FirehoseWriter {
	return &FirehoseWriter{files: appendFiles{dir: dir}}
}

// Write appends r, formatted with f, to the delivery stream's file.
func (w *FirehoseWriter) Write(stream string, f Format, r *Record) error {
	if err := checkStreamName(stream); err != nil {
		return fmt.Errorf("flowlog: %w", err)
	}
	af, err := w.files.get(stream)
	if err != nil {
		return err
	}
	w.buf = append(f.AppendText(w.buf[:0], r), '\n')
	_, err = af.bw.Write(w.buf)
	return err
}

// Flush writes buffered lines to their files.
func (w *FirehoseWriter) Flush() error { return w.files.flush() }

// Close flushes and closes every file.
func (w *FirehoseWriter) Close() error { return w.files.close() }

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal. Invalid UTF-8 becomes
// U+FFFD so the line stays valid JSON.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
