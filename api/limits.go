package api

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits bound what one server takes on, so that a flood of requests or a
// few slow clients cannot starve the others. The zero value means the
// defaults below.
type Limits struct {
	// MaxConcurrent is how many API requests (POST /) are processed at once
	// (default DefaultMaxConcurrent; negative: no bound). A request past it
	// is answered at once with HTTP 503 and ThrottlingException (awsJson)
	// or RequestLimitExceeded (EC2), codes the SDKs retry with backoff,
	// instead of waiting in an unbounded queue. Bodies are read before a
	// slot is taken, so a client that sends its body slowly holds a
	// connection (until ReadTimeout) but no slot.
	MaxConcurrent int
	// ReadHeaderTimeout bounds reading a request's headers (default 5 s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (default
	// 20 s): a client that trickles its body is cut off then.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response, from the end of the request's
	// headers (default 60 s).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle that long (default
	// 120 s).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers (default 64 KiB).
	MaxHeaderBytes int
	// MaxConns bounds the connections open at once on a listener wrapped
	// by LimitListener (default DefaultMaxConns; negative: no bound).
	MaxConns int
}

// Default limits. A flow operation request is a few KiB and is served in
// well under a millisecond, so 256 at once is more than one flowd's clients
// send; the timeouts leave a slow but honest client on a bad link ample time.
const (
	DefaultMaxConcurrent     = 256
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 20 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	// DefaultMaxConns keeps well under the open-file limit Go raises to at
	// start (the hard limit, commonly 524288 or more), so the accept loop
	// never meets EMFILE, while leaving room for 10 000 clients at once.
	DefaultMaxConns = 16384
)

func (l Limits) withDefaults() Limits {
	if l.MaxConcurrent == 0 {
		l.MaxConcurrent = DefaultMaxConcurrent
	}
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultReadTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxConns == 0 {
		l.MaxConns = DefaultMaxConns
	}
	return l
}

// LimitListener returns ln bounded to l.MaxConns open connections. A
// connection past the bound is closed as soon as it is accepted: the
// client learns at once (the SDKs retry a reset connection), the listen
// backlog does not fill, and the accept loop never waits, so the
// connections already open are served as before.
func LimitListener(ln net.Listener, l Limits) net.Listener {
	l = l.withDefaults()
	if l.MaxConns < 0 {
		return ln
	}
	return &limitListener{Listener: ln, slots: make(chan struct{}, l.MaxConns)}
}

type limitListener struct {
	net.Listener
	slots chan struct{}
}

func (ln *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case ln.slots <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-ln.slots }}, nil
		default:
			c.Close()
		}
	}
}

// limitConn gives its slot back once, on the first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// NewHTTPServer returns an http.Server for handler with the timeouts and
// header bound of l (defaults for its zero fields). The caller sets Addr or
// calls Serve with its own listener.
func NewHTTPServer(handler http.Handler, l Limits) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// limiter hands out slots for API requests without ever waiting.
type limiter struct {
	slots chan struct{} // nil: no bound
}

func newLimiter(n int) limiter {
	if n < 0 {
		return limiter{}
	}
	return limiter{slots: make(chan struct{}, n)}
}

// acquire takes a slot if one is free and says whether it did.
func (l limiter) acquire() bool {
	if l.slots == nil {
		return true
	}
	select {
	case l.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (l limiter) release() {
	if l.slots != nil {
		<-l.slots
	}
}
