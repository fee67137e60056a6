// Package testminio runs a real MinIO server for tests that talk S3.
//
// Start finds the minio binary (PATH, then $(go env GOPATH)/bin, where
// scripts/install-minio.sh puts it) and skips the test with the fix when it
// is absent. Each Server has its own data folder and loopback ports and is
// killed when the test ends. Stop and Restart keep both, for fault tests.
package testminio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Server is a running (or stopped) MinIO server.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string
	DataDir   string

	t       testing.TB
	bin     string
	addr    string
	console string

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *lockedBuffer
	exit chan struct{}
}

// Binary returns the path of the minio binary, or "" when there is none.
func Binary() string {
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "minio")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Start starts a MinIO server with a fresh data folder, or skips t when no
// minio binary is installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("minio is not installed (looked in PATH and $(go env GOPATH)/bin); run scripts/install-minio.sh")
	}
	s := &Server{
		AccessKey: "flowdtest",
		SecretKey: "flowdtest-secret",
		Region:    "us-east-1",
		DataDir:   t.TempDir(),
		t:         t,
		bin:       bin,
		addr:      freeAddr(t),
		console:   freeAddr(t),
	}
	s.Endpoint = "http://" + s.addr
	t.Cleanup(s.Stop)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testminio: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("testminio: already running")
	}
	cmd := exec.Command(s.bin, "server", s.DataDir, "--address", s.addr, "--console-address", s.console, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_UPDATE=off",
		"MINIO_BROWSER=off",
	)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testminio: start %s: %w", s.bin, err)
	}
	exit := make(chan struct{})
	go func() { cmd.Wait(); close(exit) }()
	s.cmd, s.out, s.exit = cmd, out, exit

	// MinIO answers its liveness probe before its object layer is up, and
	// S3 requests made in between fail with XMinioServerNotInitialized; so
	// the server counts as started only once it lists its buckets.
	deadline := time.Now().Add(60 * time.Second)
	client := s.Client()
	var err error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = client.ListBuckets(ctx, &s3.ListBucketsInput{}, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exit:
			return fmt.Errorf("testminio: minio exited before it was ready:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testminio: minio at %s not ready after 60s (%v):\n%s", s.Endpoint, err, out.String())
		}
	}
}

// Stop kills the server; its data folder and ports stay for Restart. It
// does nothing when the server is stopped.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exit
	s.cmd = nil
}

// Restart starts the server again on the same port and data folder.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	// The port was freed by the kill; a few tries cover a slow release.
	var err error
	for range 20 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.t.Fatal(err)
}

// Credentials returns static credentials for the root user.
func (s *Server) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")
}

// Client returns an S3 client for the server, path-style.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		Credentials:  s.Credentials(),
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
	})
}

// CreateBucket creates bucket or fails the test.
func (s *Server) CreateBucket(name string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		s.t.Fatalf("testminio: create bucket %q: %v", name, err)
	}
}

// Log returns what the server printed so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
