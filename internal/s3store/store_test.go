package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flowd/flowd/flowlog"
	"github.com/flowd/flowd/internal/s3store"
	"github.com/flowd/flowd/internal/testminio"
)

// arrivalDeadline is generous: the tests wait for eventual delivery, they do
// not time it.
const arrivalDeadline = 2 * time.Minute

func newStore(t *testing.T, srv *testminio.Server, cfg s3store.Config) *s3store.Store {
	t.Helper()
	cfg.Endpoint = srv.Endpoint
	cfg.Region = srv.Region
	if cfg.Credentials == nil {
		cfg.Credentials = srv.Credentials()
	}
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = t.TempDir()
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = time.Second // the outage tests wait for the server's return
	}
	cfg.Logf = t.Logf
	st, err := s3store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st.Close(ctx)
	})
	return st
}

// put writes one object through the store and commits it.
func put(t *testing.T, st *s3store.Store, bucket, key string, body []byte) error {
	t.Helper()
	o, err := st.Create(bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	// Several writes, as a gzip or parquet writer makes them.
	for b := body; len(b) > 0; {
		n := min(len(b), 1+rand.IntN(64<<10))
		if _, err := o.Write(b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	return o.Commit()
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// bucketObjects returns every object of bucket, by key.
func bucketObjects(t *testing.T, c *s3.Client, bucket string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := make(map[string][]byte)
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatalf("get %s/%s: %v", bucket, *o.Key, err)
			}
			b, err := io.ReadAll(got.Body)
			got.Body.Close()
			if err != nil {
				t.Fatalf("read %s/%s: %v", bucket, *o.Key, err)
			}
			out[*o.Key] = b
		}
	}
	return out
}

// waitIdle polls until the store has nothing pending.
func waitIdle(t *testing.T, st *s3store.Store) s3store.Stats {
	t.Helper()
	deadline := time.Now().Add(arrivalDeadline)
	for {
		s := st.Stats()
		if s.Pending == 0 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d objects (%d bytes) pending after %v; last error: %v", s.Pending, s.PendingBytes, arrivalDeadline, s.LastError)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sameObjects checks that the bucket holds exactly want, byte for byte.
func sameObjects(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("object %s missing", k)
		case !bytes.Equal(g, w):
			t.Errorf("object %s: got %d bytes, want %d bytes (contents differ)", k, len(g), len(w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected object %s", k)
		}
	}
}

// teeStore is the dumb twin: it keeps in memory what went through the
// store, as a reader of the bucket should see it.
type teeStore struct {
	st *s3store.Store
	mu sync.Mutex
	m  map[string][]byte
}

type teeObject struct {
	flowlog.Object
	ts  *teeStore
	key string
	buf bytes.Buffer
}

func (ts *teeStore) Create(bucket, key string) (flowlog.Object, error) {
	o, err := ts.st.Create(bucket, key)
	if err != nil {
		return nil, err
	}
	return &teeObject{Object: o, ts: ts, key: key}, nil
}

func (o *teeObject) Write(b []byte) (int, error) {
	o.buf.Write(b)
	return o.Object.Write(b)
}

func (o *teeObject) Commit() error {
	if err := o.Object.Commit(); err != nil {
		return err
	}
	o.ts.mu.Lock()
	o.ts.m[o.key] = bytes.Clone(o.buf.Bytes())
	o.ts.mu.Unlock()
	return nil
}

// TestS3WriterRoundTrip writes flow-log objects through flowlog.S3Writer
// and reads them back from MinIO; the credentials come from the AWS
// environment variables, as in production.
func TestS3WriterRoundTrip(t *testing.T) {
	srv := testminio.Start(t)
	srv.CreateBucket("flow-logs")
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	st, err := s3store.New(context.Background(), s3store.Config{
		Endpoint: srv.Endpoint, Region: srv.Region, SpoolDir: t.TempDir(), Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())

	for _, ff := range []flowlog.FileFormat{flowlog.FilePlainText, flowlog.FileParquet} {
		t.Run(string(ff), func(t *testing.T) {
			twin := &teeStore{st: st, m: make(map[string][]byte)}
			w, err := flowlog.NewS3Writer(flowlog.S3Config{
				Store: twin, Destination: flowlog.S3Destination{Bucket: "flow-logs", Prefix: "run/" + string(ff)},
				AccountID: "123456789012", Region: "us-east-1", FlowLogID: "fl-1234abcd",
				Options: flowlog.DestinationOptions{FileFormat: ff},
			})
			if err != nil {
				t.Fatal(err)
			}
			base := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC).Unix()
			for i := range 400 {
				eni := flowlog.Interface{AccountID: "123456789012", InterfaceID: fmt.Sprintf("eni-%04d", i%7)}
				var r flowlog.Record
				end := base + int64(i)*4 // 400 records over 1600 s: six periods
				eni.Status(&r, flowlog.LogNoData, end-59, end)
				if err := w.Write(&r); err != nil {
					t.Fatal(err)
				}
				if err := w.Rotate(time.Unix(end, 0)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if len(twin.m) < 6 {
				t.Fatalf("%d objects committed, want at least 6", len(twin.m))
			}
			waitIdle(t, st)
			got := bucketObjects(t, srv.Client(), "flow-logs")
			for k := range got {
				if !strings.HasPrefix(k, "run/"+string(ff)+"/") {
					delete(got, k)
				}
			}
			sameObjects(t, got, twin.m)
		})
	}
	if s := st.Stats(); s.Uploaded < 12 || s.DroppedObjects != 0 || s.Pending != 0 {
		t.Errorf("stats %+v, want >= 12 uploaded, none dropped or pending", s)
	}
}

// TestPlainObjects covers objects S3Writer does not make: empty, replaced,
// and keys with characters that need escaping.
func TestPlainObjects(t *testing.T) {
	srv := testminio.Start(t)
	srv.CreateBucket("plain")
	st := newStore(t, srv, s3store.Config{})
	want := map[string][]byte{
		"empty":                            {},
		"a/b/c d+e%f=g&h?i#j.log.gz":       randomBytes(1, 1000),
		"uni/ünïcødé/x":                    randomBytes(2, 70<<10),
		"replaced":                         []byte("second"),
		strings.Repeat("long/", 150) + "k": []byte("long key"),
	}
	if err := put(t, st, "plain", "replaced", []byte("first, and replaced")); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := put(t, st, "plain", k, want[k]); err != nil {
			t.Fatal(err)
		}
	}
	// Abort leaves nothing behind, on the server or in the spool.
	o, err := st.Create("plain", "aborted")
	if err != nil {
		t.Fatal(err)
	}
	o.Write([]byte("never"))
	if err := o.Abort(); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, st)
	sameObjects(t, bucketObjects(t, srv.Client(), "plain"), want)
}

func TestMultipart(t *testing.T) {
	srv := testminio.Start(t)
	srv.CreateBucket("big")
	st := newStore(t, srv, s3store.Config{PartSize: 5 << 20})
	body := randomBytes(3, 12<<20+12345) // three parts
	if err := put(t, st, "big", "large.parquet", body); err != nil {
		t.Fatal(err)
	}
	if err := put(t, st, "big", "small", body[:100]); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, st)
	sameObjects(t, bucketObjects(t, srv.Client(), "big"), map[string][]byte{"large.parquet": body, "small": body[:100]})
	head, err := srv.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("big"), Key: aws.String("large.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	// A multipart object's ETag ends in -<number of parts>.
	if etag := aws.ToString(head.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-3") {
		t.Errorf("ETag %s: want a 3-part multipart upload", etag)
	}
}

// TestServerOutage stops MinIO while objects are committed: Commit keeps
// returning, the uploads are retried, and every object arrives once the
// server is back.
func TestServerOutage(t *testing.T) {
	srv := testminio.Start(t)
	srv.CreateBucket("logs")
	st := newStore(t, srv, s3store.Config{})
	want := make(map[string][]byte)
	commit := func(i int) {
		k := fmt.Sprintf("obj-%03d", i)
		want[k] = randomBytes(uint64(i), 1000+i*97)
		if err := put(t, st, "logs", k, want[k]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		commit(i)
	}
	waitIdle(t, st)
	srv.Stop()
	for i := 5; i < 30; i++ {
		commit(i)
	}
	deadline := time.Now().Add(arrivalDeadline)
	for st.Stats().Retries < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no retries while the server was down: %+v", st.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := st.Stats(); s.Pending == 0 || s.LastError == nil {
		t.Errorf("server down: stats %+v, want pending objects and a last error", s)
	} else {
		t.Logf("while down: %v", s.LastError)
	}
	srv.Restart()
	for i := 30; i < 35; i++ {
		commit(i)
	}
	s := waitIdle(t, st)
	if s.Retries == 0 || s.Uploaded != 35 || s.DroppedObjects != 0 {
		t.Errorf("stats %+v, want retries, 35 uploaded, none dropped", s)
	}
	sameObjects(t, bucketObjects(t, srv.Client(), "logs"), want)
}

// TestSpoolLimit fills the spool while the server is down: the object that
// would pass the limit is dropped and counted, Commit still returns at
// once, and the objects kept arrive later.
func TestSpoolLimit(t *testing.T) {
	srv := testminio.Start(t)
	srv.CreateBucket("logs")
	srv.Stop()
	st := newStore(t, srv, s3store.Config{SpoolLimit: 100 << 10})
	want := make(map[string][]byte)
	var dropped []string
	for i := range 10 {
		k := fmt.Sprintf("obj-%d", i)
		body := randomBytes(uint64(i), 30<<10)
		err := put(t, st, "logs", k, body)
		switch {
		case err == nil:
			want[k] = body
		case errors.Is(err, s3store.ErrSpoolFull):
			dropped = append(dropped, k)
			if !strings.Contains(err.Error(), k) {
				t.Errorf("error %q does not name the object", err)
			}
		default:
			t.Fatal(err)
		}
	}
	s := st.Stats()
	if len(want) != 3 || s.DroppedObjects != int64(len(dropped)) || s.DroppedBytes != int64(len(dropped))*30<<10 {
		t.Errorf("kept %d, dropped %v; stats %+v: want 3 kept (100 KiB / 30 KiB) and the rest counted", len(want), dropped, s)
	}
	if s.Pending != int64(len(want)) || s.PendingBytes != int64(len(want))*30<<10 {
		t.Errorf("stats %+v, want %d pending", s, len(want))
	}
	srv.Restart()
	waitIdle(t, st)
	// Space freed by the uploads takes new objects again.
	if err := put(t, st, "logs", "after", []byte("room again")); err != nil {
		t.Fatal(err)
	}
	want["after"] = []byte("room again")
	waitIdle(t, st)
	sameObjects(t, bucketObjects(t, srv.Client(), "logs"), want)
}

// TestRestartRequeues closes a store while the server is down and opens a
// new one on the same spool folder: the old run's objects are uploaded in
// commit order, and an uncommitted one is discarded.
func TestRestartRequeues(t *testing.T) {
	srv := testminio.Start(t)
	srv.CreateBucket("logs")
	srv.Stop()
	spool := t.TempDir()
	st1 := newStore(t, srv, s3store.Config{SpoolDir: spool})
	want := make(map[string][]byte)
	for i := range 6 {
		k := fmt.Sprintf("k/%d", i%4) // keys 0 and 1 committed twice: the later wins
		want[k] = randomBytes(uint64(i), 2000+i)
		if err := put(t, st1, "logs", k, want[k]); err != nil {
			t.Fatal(err)
		}
	}
	uncommitted, err := st1.Create("logs", "never-committed")
	if err != nil {
		t.Fatal(err)
	}
	uncommitted.Write([]byte("partial"))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	err = st1.Close(ctx)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "6 objects") {
		t.Fatalf("Close: %v, want an error counting 6 objects left", err)
	}
	t.Logf("Close: %v", err)

	srv.Restart()
	st2 := newStore(t, srv, s3store.Config{SpoolDir: spool})
	if s := waitIdle(t, st2); s.Uploaded != 6 {
		t.Errorf("new store: %+v, want the 6 objects of the old run uploaded", s)
	}
	sameObjects(t, bucketObjects(t, srv.Client(), "logs"), want)
	if err := st2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(spool)
	if len(ents) != 0 {
		t.Errorf("spool folder not empty after upload: %v", ents)
	}
}

// TestMissingBucket: flowd does not create buckets; it says so, keeps the
// object, and delivers it once someone creates the bucket.
func TestMissingBucket(t *testing.T) {
	srv := testminio.Start(t)
	st := newStore(t, srv, s3store.Config{})
	err := st.CheckBucket(context.Background(), "no-such-bucket")
	if err == nil || !s3store.IsNoSuchBucket(err) || !strings.Contains(err.Error(), `"no-such-bucket" must exist`) {
		t.Errorf("CheckBucket: %v, want a NoSuchBucket error naming the bucket", err)
	}
	if err := put(t, st, "no-such-bucket", "k1", []byte("waiting")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(arrivalDeadline)
	for st.Stats().LastError == nil {
		if time.Now().After(deadline) {
			t.Fatal("no error reported for a missing bucket")
		}
		time.Sleep(50 * time.Millisecond)
	}
	err = st.Stats().LastError
	t.Logf("last error: %v", err)
	var se *s3store.Error
	if !errors.As(err, &se) || se.Bucket != "no-such-bucket" || se.Key != "k1" || !s3store.IsNoSuchBucket(err) ||
		!strings.Contains(err.Error(), "flowd does not create buckets") {
		t.Errorf("last error %v, want an s3store.Error for no-such-bucket/k1 saying the bucket must exist", err)
	}
	srv.CreateBucket("no-such-bucket")
	waitIdle(t, st)
	sameObjects(t, bucketObjects(t, srv.Client(), "no-such-bucket"), map[string][]byte{"k1": []byte("waiting")})
}

// TestNoServer needs no MinIO: with nothing listening, Commit still returns
// at once and Close says what it leaves behind.
func TestNoServer(t *testing.T) {
	spool := t.TempDir()
	st, err := s3store.New(context.Background(), s3store.Config{
		Endpoint: "http://127.0.0.1:1", Region: "us-east-1", SpoolDir: spool,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := put(t, st, "b", fmt.Sprint("k", i), randomBytes(uint64(i), 5000)); err != nil {
			t.Fatal(err)
		}
	}
	if s := st.Stats(); s.Pending != 3 || s.PendingBytes != 15000 {
		t.Errorf("stats %+v, want 3 objects, 15000 bytes pending", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = st.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "3 objects (15000 bytes) not uploaded") {
		t.Errorf("Close: %v, want 3 objects (15000 bytes) left", err)
	}
	if _, err := st.Create("b", "late"); !errors.Is(err, s3store.ErrClosed) {
		t.Errorf("Create after Close: %v, want ErrClosed", err)
	}
	if ents, _ := os.ReadDir(spool); len(ents) != 3 {
		t.Errorf("spool holds %d files, want the 3 objects kept for the next run", len(ents))
	}
}
