// Package s3store delivers flow-log objects to Amazon S3 or to an
// S3-compatible server (MinIO, Ceph) through the official AWS SDK client.
//
// A Store implements flowlog.ObjectStore. An object's bytes go to a file in
// the spool folder while it is written, so memory stays small whatever the
// object's size. Commit makes the spool file durable and hands it to a
// background uploader; it never waits for the network. The uploader keeps
// one queue per bucket, uploads in commit order (so a later commit of a key
// wins, as it would on a local disk), retries failures with capped
// exponential backoff and jitter, and deletes the spool file once the server
// has the object. A bucket that fails stalls only its own queue.
//
// The spool folder is bounded: an object whose bytes would take the spool
// past Config.SpoolLimit is dropped as it is written, and its Commit returns
// an error wrapping ErrSpoolFull so the caller can count its records as lost
// (SKIPDATA). Committed objects left in the spool by an earlier run are
// queued again by New, so a restart loses nothing that was committed.
//
// Concurrency: a Store is safe for concurrent use; one Object is not. Only
// one Store may use a spool folder at a time.
package s3store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flowd/flowd/flowlog"
)

// Defaults for the zero values of Config.
const (
	DefaultSpoolLimit    = 1 << 30
	DefaultPartSize      = 16 << 20
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultUploadTimeout = 10 * time.Minute
	defaultRegion        = "us-east-1"
	// minPartSize is S3's smallest part but the last.
	minPartSize = 5 << 20
)

var (
	// ErrSpoolFull is wrapped by the Commit error of an object that was
	// dropped because the spool folder reached Config.SpoolLimit.
	ErrSpoolFull = errors.New("spool folder full")
	// ErrClosed is returned by Create and Commit after Close.
	ErrClosed = errors.New("store closed")
)

// Config describes a Store. The zero value of every field but SpoolDir means
// its default.
type Config struct {
	// Endpoint is the URL of an S3-compatible server, such as
	// http://127.0.0.1:9000; it is addressed path-style (endpoint/bucket/key).
	// Empty means AWS S3 itself, virtual-hosted style.
	Endpoint string
	// Region signs the requests; empty means the region of the shared AWS
	// config (AWS_REGION, ~/.aws/config), else us-east-1.
	Region string
	// SpoolDir holds objects from Create until the server has them. It is
	// created if missing. Required.
	SpoolDir string
	// SpoolLimit bounds the bytes in SpoolDir; 0 means DefaultSpoolLimit.
	SpoolLimit int64
	// PartSize is the size above which an object goes up as a multipart
	// upload, and the size of its parts (at least 5 MiB, S3's minimum);
	// 0 means DefaultPartSize.
	PartSize int64
	// MinBackoff and MaxBackoff bound the wait between two tries of one
	// upload; 0 means DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// UploadTimeout bounds one try of one upload; 0 means
	// DefaultUploadTimeout.
	UploadTimeout time.Duration
	// Credentials, when set, replaces the default chain (the AWS_*
	// environment variables, then the shared config and credentials files).
	Credentials aws.CredentialsProvider
	// Logf, when set, is told of failed tries, dropped objects and
	// recovered spool files.
	Logf func(format string, args ...any)
}

// Stats counts what a Store did. Counters only grow; Pending and
// PendingBytes are the committed objects not yet uploaded.
type Stats struct {
	Uploaded       int64 // objects the server acknowledged
	UploadedBytes  int64
	Retries        int64 // failed tries that were tried again
	Pending        int64
	PendingBytes   int64
	DroppedObjects int64 // objects lost: spool full, or refused for good by the server
	DroppedBytes   int64
	// LastError is the latest failed try, nil until one fails.
	LastError error
}

// Store is a flowlog.ObjectStore that uploads to S3. Create it with New and
// end it with Close.
type Store struct {
	cfg    Config
	client *s3.Client

	spooled atomic.Int64 // bytes in SpoolDir, reserved as they are written

	uploaded, uploadedBytes atomic.Int64
	retries                 atomic.Int64
	droppedObj, droppedB    atomic.Int64

	ctx    context.Context // cancelled when Close gives up
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	seq     uint64 // commit sequence, orders spool files
	queues  map[string]*queue
	pending int64
	pendB   int64
	lastErr error
	idle    *sync.Cond // signalled when pending drops
}

var _ flowlog.ObjectStore = (*Store)(nil)

// New checks cfg, sets up the S3 client and queues for upload the committed
// objects an earlier run left in cfg.SpoolDir. It makes no request: a bucket
// that does not exist shows at the first upload, or earlier through
// CheckBucket.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.SpoolDir == "" {
		return nil, errors.New("s3store: Config.SpoolDir is empty")
	}
	if cfg.SpoolLimit <= 0 {
		cfg.SpoolLimit = DefaultSpoolLimit
	}
	if cfg.PartSize <= 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < minPartSize {
		return nil, fmt.Errorf("s3store: Config.PartSize %d is below S3's minimum part size %d", cfg.PartSize, minPartSize)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.UploadTimeout <= 0 {
		cfg.UploadTimeout = DefaultUploadTimeout
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if err := os.MkdirAll(cfg.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("s3store: spool folder: %w", err)
	}

	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	// The SDK tries a request three times within one of our tries; our own
	// loop does the long waits. Its client-side retry quota is off: it
	// would turn an outage into "retry quota exceeded" errors.
	opts = append(opts, config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.RateLimiter = ratelimit.None
		})
	}))
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3store: AWS config: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultRegion
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
			// Servers other than AWS vary in their support of the
			// newer trailing checksums; send one only where S3
			// requires it.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})

	s := &Store{cfg: cfg, client: client, queues: make(map[string]*queue)}
	s.idle = sync.NewCond(&s.mu)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.recover(); err != nil {
		s.cancel()
		s.wg.Wait()
		return nil, err
	}
	return s, nil
}

// Client returns the S3 client the Store uploads with.
func (s *Store) Client() *s3.Client { return s.client }

// CheckBucket asks the server whether bucket exists and can be reached with
// the Store's credentials. flowd does not create buckets.
func (s *Store) CheckBucket(ctx context.Context, bucket string) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err != nil {
		return &Error{Op: "check", Bucket: bucket, Err: err}
	}
	return nil
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	pending, pendB, last := s.pending, s.pendB, s.lastErr
	s.mu.Unlock()
	return Stats{
		Uploaded:       s.uploaded.Load(),
		UploadedBytes:  s.uploadedBytes.Load(),
		Retries:        s.retries.Load(),
		Pending:        pending,
		PendingBytes:   pendB,
		DroppedObjects: s.droppedObj.Load(),
		DroppedBytes:   s.droppedB.Load(),
		LastError:      last,
	}
}

// Create implements flowlog.ObjectStore. The object's bytes go to a spool
// file; nothing is sent before Commit.
func (s *Store) Create(bucket, key string) (flowlog.Object, error) {
	if bucket == "" {
		return nil, errors.New("s3store: empty bucket name")
	}
	if err := flowlog.CheckKey(key); err != nil {
		return nil, fmt.Errorf("s3store: %w", err)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("s3store: create s3://%s/%s: %w", bucket, key, ErrClosed)
	}
	f, err := os.CreateTemp(s.cfg.SpoolDir, "*"+partSuffix)
	if err != nil {
		return nil, fmt.Errorf("s3store: spool: %w", err)
	}
	hdr := encodeHeader(bucket, key)
	o := &object{s: s, f: f, bucket: bucket, key: key, hdrLen: int64(len(hdr))}
	o.bw = bufio.NewWriterSize(f, 64<<10)
	o.bw.WriteString(hdr)
	if !o.reserve(o.hdrLen) {
		o.drop()
	}
	return o, nil
}

// Close stops taking objects and waits until every committed object is
// uploaded or ctx is done. What is left stays in the spool folder for the
// next run, and the error says how much.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for _, q := range s.queues {
		q.wake()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		<-done
	}
	s.cancel()
	st := s.Stats()
	if st.Pending > 0 {
		err := fmt.Errorf("s3store: %d objects (%d bytes) not uploaded, kept in %s for the next run", st.Pending, st.PendingBytes, s.cfg.SpoolDir)
		if st.LastError != nil {
			err = fmt.Errorf("%w; last error: %w", err, st.LastError)
		}
		return err
	}
	return nil
}

// object is a flowlog.Object spooled to a file.
type object struct {
	s        *Store
	f        *os.File
	bw       *bufio.Writer
	bucket   string
	key      string
	hdrLen   int64
	size     int64 // body bytes written, dropped or not
	reserved int64
	dropped  bool
	done     bool
}

// reserve counts n more bytes against the spool limit.
func (o *object) reserve(n int64) bool {
	if o.s.spooled.Add(n) > o.s.cfg.SpoolLimit {
		o.s.spooled.Add(-n)
		return false
	}
	o.reserved += n
	return true
}

// drop gives the object's spool space back; later writes are counted and
// discarded.
func (o *object) drop() {
	o.dropped = true
	o.f.Close()
	os.Remove(o.f.Name())
	o.s.spooled.Add(-o.reserved)
	o.reserved = 0
}

func (o *object) Write(b []byte) (int, error) {
	if o.done {
		return 0, fmt.Errorf("s3store: write s3://%s/%s: object already committed or aborted", o.bucket, o.key)
	}
	o.size += int64(len(b))
	if o.dropped {
		return len(b), nil
	}
	if !o.reserve(int64(len(b))) {
		o.s.cfg.Logf("s3store: spool folder %s reached its limit of %d bytes: dropping s3://%s/%s", o.s.cfg.SpoolDir, o.s.cfg.SpoolLimit, o.bucket, o.key)
		o.drop()
		return len(b), nil
	}
	if _, err := o.bw.Write(b); err != nil {
		o.drop()
		o.done = true
		return 0, fmt.Errorf("s3store: spool s3://%s/%s: %w", o.bucket, o.key, err)
	}
	return len(b), nil
}

// Commit makes the spool file durable and queues it for upload; it returns
// before the upload.
func (o *object) Commit() error {
	if o.done {
		return fmt.Errorf("s3store: commit s3://%s/%s: object already committed or aborted", o.bucket, o.key)
	}
	o.done = true
	s := o.s
	if o.dropped {
		s.droppedObj.Add(1)
		s.droppedB.Add(o.size)
		return fmt.Errorf("s3store: s3://%s/%s (%d bytes) dropped: %w (limit %d bytes in %s)", o.bucket, o.key, o.size, ErrSpoolFull, s.cfg.SpoolLimit, s.cfg.SpoolDir)
	}
	err := o.bw.Flush()
	if err == nil {
		err = o.f.Sync()
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(o.f.Name())
		s.spooled.Add(-o.reserved)
		return fmt.Errorf("s3store: spool s3://%s/%s: %w", o.bucket, o.key, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		os.Remove(o.f.Name())
		s.spooled.Add(-o.reserved)
		return fmt.Errorf("s3store: commit s3://%s/%s: %w", o.bucket, o.key, ErrClosed)
	}
	s.seq++
	name := filepath.Join(s.cfg.SpoolDir, spoolName(s.seq))
	if err := os.Rename(o.f.Name(), name); err != nil {
		os.Remove(o.f.Name())
		s.spooled.Add(-o.reserved)
		return fmt.Errorf("s3store: spool s3://%s/%s: %w", o.bucket, o.key, err)
	}
	syncDir(s.cfg.SpoolDir)
	s.enqueueLocked(&item{path: name, bucket: o.bucket, key: o.key, off: o.hdrLen, size: o.size})
	return nil
}

func (o *object) Abort() error {
	if o.done {
		return nil
	}
	o.done = true
	if !o.dropped {
		o.f.Close()
		o.s.spooled.Add(-o.reserved)
		return os.Remove(o.f.Name())
	}
	return nil
}

// item is a committed object waiting in the spool.
type item struct {
	path        string
	bucket, key string
	off, size   int64 // the body within the spool file
}

// queue is the upload queue of one bucket, worked by one goroutine.
type queue struct {
	items  []*item
	signal chan struct{}
}

func (q *queue) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (s *Store) enqueueLocked(it *item) {
	q := s.queues[it.bucket]
	if q == nil {
		q = &queue{signal: make(chan struct{}, 1)}
		s.queues[it.bucket] = q
		s.wg.Add(1)
		go s.work(q)
	}
	q.items = append(q.items, it)
	s.pending++
	s.pendB += it.size
	q.wake()
}

// work uploads q's items in order until the Store is closed and q is empty,
// or Close gives up.
func (s *Store) work(q *queue) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		var it *item
		if len(q.items) > 0 {
			it = q.items[0]
		}
		closed := s.closed
		s.mu.Unlock()
		if it == nil {
			if closed {
				return
			}
			select {
			case <-q.signal:
			case <-s.ctx.Done():
				return
			}
			continue
		}
		if !s.deliver(it) {
			return // Close gave up; the spool file stays
		}
		s.mu.Lock()
		q.items = q.items[1:]
		s.pending--
		s.pendB -= it.size
		s.mu.Unlock()
	}
}

// deliver tries it until the server has it or refuses it for good, and then
// removes its spool file. It returns false when the Store's context ends
// first.
func (s *Store) deliver(it *item) bool {
	for try := 0; ; try++ {
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.UploadTimeout)
		err := s.upload(ctx, it)
		cancel()
		if err == nil {
			s.uploaded.Add(1)
			s.uploadedBytes.Add(it.size)
			break
		}
		if s.ctx.Err() != nil {
			return false
		}
		err = &Error{Op: "upload", Bucket: it.bucket, Key: it.key, Err: err}
		s.mu.Lock()
		s.lastErr = err
		s.mu.Unlock()
		if permanent(err) {
			s.cfg.Logf("%v; dropping the object", err)
			s.droppedObj.Add(1)
			s.droppedB.Add(it.size)
			break
		}
		s.retries.Add(1)
		wait := s.backoff(try)
		s.cfg.Logf("%v; try %d failed, next in %v", err, try+1, wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return false
		}
	}
	if fi, err := os.Stat(it.path); err == nil {
		s.spooled.Add(-fi.Size())
	}
	os.Remove(it.path)
	return true
}

// backoff is the wait after the try-th failure: doubling from MinBackoff,
// capped at MaxBackoff, with the upper half of it random so that many
// stores restarting together do not retry in step.
func (s *Store) backoff(try int) time.Duration {
	d := s.cfg.MaxBackoff
	if try < 30 {
		if e := s.cfg.MinBackoff << try; e < d {
			d = e
		}
	}
	return d/2 + rand.N(d/2+1)
}

// recover removes the partial objects of an earlier run (never committed,
// so never promised) and queues its committed ones in their commit order.
func (s *Store) recover() error {
	ents, err := os.ReadDir(s.cfg.SpoolDir)
	if err != nil {
		return fmt.Errorf("s3store: spool folder: %w", err)
	}
	type found struct {
		seq uint64
		it  *item
		n   int64
	}
	var list []found
	for _, e := range ents {
		name := e.Name()
		path := filepath.Join(s.cfg.SpoolDir, name)
		switch {
		case strings.HasSuffix(name, partSuffix):
			s.cfg.Logf("s3store: removing %s, an object a previous run never committed", path)
			os.Remove(path)
		case strings.HasSuffix(name, spoolSuffix):
			seq, ok := parseSpoolName(name)
			if !ok {
				continue
			}
			it, n, err := readItem(path)
			if err != nil {
				s.cfg.Logf("s3store: skipping spool file %s: %v", path, err)
				continue
			}
			list = append(list, found{seq, it, n})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range list {
		s.seq = f.seq
		s.spooled.Add(f.n)
		s.enqueueLocked(f.it)
	}
	if len(list) > 0 {
		s.cfg.Logf("s3store: queued %d objects left in %s by a previous run", len(list), s.cfg.SpoolDir)
	}
	return nil
}
