package flowlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/cespare/xxhash/v2"
)

// MaxObjectBytes is the size at which AWS closes an S3 object early and
// starts the next one for the same period.
const MaxObjectBytes = 75 << 20

// S3Config describes the S3 delivery of one flow log for one account and
// region. The zero values of MaxObjectBytes and GzipLevel mean the defaults.
type S3Config struct {
	Store       ObjectStore
	Destination S3Destination
	AccountID   string
	Region      string
	FlowLogID   string
	Format      Format
	Options     DestinationOptions
	// MaxObjectBytes overrides MaxObjectBytes, mostly for tests.
	MaxObjectBytes int64
	// GzipLevel is the gzip level of text objects; 0 means gzip.BestSpeed.
	GzipLevel int
}

// S3Writer delivers records to S3 objects the way AWS lays them out: one
// object per 5-minute period of record end time (a new one, with a new hash,
// when an object reaches MaxObjectBytes or when records of a period that was
// already delivered arrive late). Call Rotate as engine time passes and Close
// at shutdown. An S3Writer is not safe for concurrent use.
type S3Writer struct {
	cfg    S3Config
	layout S3Layout
	open   map[int64]*s3Object // by period start, Unix seconds
	seq    uint64              // objects started so far
	nonce  uint64              // tells this writer's objects from a previous run's
	text   *TextWriter         // a spare writer to reuse
}

type s3Object struct {
	key string
	obj Object
	rw  RecordWriter
}

// NewS3Writer checks cfg and returns a writer.
func NewS3Writer(cfg S3Config) (*S3Writer, error) {
	if cfg.Store == nil {
		return nil, errors.New("flowlog: S3Config.Store is nil")
	}
	if err := checkBucketName(cfg.Destination.Bucket); err != nil {
		return nil, fmt.Errorf("flowlog: %w", err)
	}
	ff := cfg.Options.FileFormat
	if ff == "" {
		ff = FilePlainText
	}
	if ff != FilePlainText && ff != FileParquet {
		return nil, fmt.Errorf("flowlog: file format %q is not plain-text or parquet", ff)
	}
	if cfg.MaxObjectBytes <= 0 {
		cfg.MaxObjectBytes = MaxObjectBytes
	}
	return &S3Writer{
		cfg: cfg,
		layout: S3Layout{
			Prefix: cfg.Destination.Prefix, AccountID: cfg.AccountID, Region: cfg.Region,
			FlowLogID: cfg.FlowLogID, FileFormat: ff,
			Hive: cfg.Options.HiveCompatiblePartitions, PerHour: cfg.Options.PerHourPartition,
		},
		open:  make(map[int64]*s3Object),
		nonce: rand.Uint64(),
	}, nil
}

func periodOf(unix int64) int64 {
	p := int64(ObjectPeriod / time.Second)
	q := unix / p
	if unix < 0 && unix%p != 0 {
		q--
	}
	return q * p
}

// Write adds r to the object of the period that holds r.End.
func (w *S3Writer) Write(r *Record) error {
	period := periodOf(r.End)
	o := w.open[period]
	if o == nil {
		var err error
		if o, err = w.start(period); err != nil {
			return err
		}
	}
	if err := o.rw.Write(r); err != nil {
		o.obj.Abort()
		delete(w.open, period)
		return fmt.Errorf("flowlog: %s: %w", o.key, err)
	}
	if o.rw.Size() >= w.cfg.MaxObjectBytes {
		return w.finish(period, o)
	}
	return nil
}

// hash gives each object its own eight hex digits: seq differs between the
// objects of one writer, and the random nonce keeps a restarted writer from
// reusing, and so replacing, the key of an object an earlier run delivered
// for the same period. Two keys of one period collide with odds of 2^-32.
func (w *S3Writer) hash(period int64, seq uint64) uint32 {
	var b [24]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(period))
	binary.LittleEndian.PutUint64(b[8:], seq)
	binary.LittleEndian.PutUint64(b[16:], w.nonce)
	d := xxhash.New()
	d.WriteString(w.cfg.AccountID)
	d.WriteString(w.cfg.Region)
	d.WriteString(w.cfg.FlowLogID)
	d.Write(b[:])
	return uint32(d.Sum64())
}

func (w *S3Writer) start(period int64) (*s3Object, error) {
	w.seq++
	key := w.layout.Key(time.Unix(period, 0), w.hash(period, w.seq))
	obj, err := w.cfg.Store.Create(w.cfg.Destination.Bucket, key)
	if err != nil {
		return nil, err
	}
	o := &s3Object{key: key, obj: obj}
	if w.layout.FileFormat == FileParquet {
		o.rw = NewParquetWriter(obj, w.cfg.Format)
	} else if w.text != nil {
		w.text.Reset(obj)
		o.rw, w.text = w.text, nil
	} else {
		tw, err := NewTextWriter(obj, w.cfg.Format, w.cfg.GzipLevel)
		if err != nil {
			obj.Abort()
			return nil, err
		}
		o.rw = tw
	}
	w.open[period] = o
	return o, nil
}

func (w *S3Writer) finish(period int64, o *s3Object) error {
	delete(w.open, period)
	err := o.rw.Close()
	if err == nil {
		err = o.obj.Commit()
	} else {
		o.obj.Abort()
	}
	if tw, ok := o.rw.(*TextWriter); ok && w.text == nil {
		w.text = tw
	}
	if err != nil {
		return fmt.Errorf("flowlog: %s: %w", o.key, err)
	}
	return nil
}

// Rotate commits every object whose 5-minute period ended at or before now.
// Later records of those periods go to new objects.
func (w *S3Writer) Rotate(now time.Time) error {
	return w.commitIf(func(period int64) bool {
		return period+int64(ObjectPeriod/time.Second) <= now.Unix()
	})
}

// Close commits every open object.
func (w *S3Writer) Close() error {
	return w.commitIf(func(int64) bool { return true })
}

func (w *S3Writer) commitIf(pred func(int64) bool) error {
	var periods []int64
	for p := range w.open {
		if pred(p) {
			periods = append(periods, p)
		}
	}
	sort.Slice(periods, func(i, j int) bool { return periods[i] < periods[j] })
	var errs []error
	for _, p := range periods {
		if err := w.finish(p, w.open[p]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Keys returns the keys of the objects not yet committed, for status pages
// and tests.
func (w *S3Writer) Keys() []string {
	var out []string
	for _, o := range w.open {
		out = append(out, o.key)
	}
	sort.Strings(out)
	return out
}
