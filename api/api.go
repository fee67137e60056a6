// Package api serves flowd over HTTP: the AWS Network Firewall flow
// operations (awsJson1_0 on POST /, selected by X-Amz-Target), GET /status
// (JSON) and GET /metrics (Prometheus text format).
//
// The official aws-sdk-go-v2/service/networkfirewall client, pointed at the
// server with an endpoint override, works unchanged: members, constraints,
// timestamps, pagination tokens and the error shape follow the AWS API
// reference. Every malformed request gets InvalidRequestException with a
// message that names the member and the rule it breaks.
//
// The server sees the engine only through Backend. POST / routes on
// X-Amz-Target when the header is present, and hands form-encoded requests
// (the EC2 ec2Query protocol, Action=...) to Config.Query when one is set.
//
// Concurrency: a Server serves any number of requests at once. Allocation
// is not a concern here: requests are control-plane traffic.
package api

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flowd/flowd/engine"
)

// Backend is what the server needs of the engine; *engine.Ops implements it.
type Backend interface {
	// Start begins a flow operation (see engine.Ops.Start for its errors).
	Start(engine.OpRequest) (engine.Op, error)
	// Op returns an operation, engine.ErrOpNotFound if it is not kept or
	// not in scope.
	Op(id string, scope engine.Scope) (engine.Op, error)
	// List returns the operations kept, newest first.
	List(engine.ListRequest) ([]engine.Op, error)
	// Status returns the engine's counters.
	Status() engine.Status
	// OpStats says how much the flow operations hold.
	OpStats() engine.OpStats
}

// DefaultFirewallArn is the firewall a flowd serves unless told otherwise.
const DefaultFirewallArn = "arn:aws:network-firewall:us-east-1:123456789012:firewall/flowd"

// DefaultMaxBodyBytes bounds request bodies: 20 filters at the longest
// members AWS allows fit in well under it.
const DefaultMaxBodyBytes = 1 << 20

// Config sets up a Server. Backend is required; the rest has defaults.
type Config struct {
	Backend Backend
	// FirewallArn is the one firewall served (default DefaultFirewallArn).
	FirewallArn string
	// MaxBodyBytes bounds request bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Query serves POST / requests without X-Amz-Target whose body is a
	// form (the EC2 ec2Query protocol); nil answers them with an error.
	Query http.Handler
	// TokenKey signs pagination tokens (default: 32 random bytes, so
	// tokens do not outlive the process).
	TokenKey []byte
	// Retention is only quoted in "not found" messages.
	Retention time.Duration
}

// Server is the HTTP face of one flowd.
type Server struct {
	cfg     Config
	tokens  tokenSigner
	mux     *http.ServeMux
	reg     *prometheus.Registry
	request *prometheus.CounterVec
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("api: no backend")
	}
	if cfg.FirewallArn == "" {
		cfg.FirewallArn = DefaultFirewallArn
	}
	if msg := checkArn(cfg.FirewallArn); msg != "" {
		return nil, fmt.Errorf("api: firewall ARN: %s", msg)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if len(cfg.TokenKey) == 0 {
		cfg.TokenKey = make([]byte, 32)
		if _, err := rand.Read(cfg.TokenKey); err != nil {
			return nil, fmt.Errorf("api: token key: %w", err)
		}
	}
	s := &Server{cfg: cfg, tokens: tokenSigner{key: cfg.TokenKey}, mux: http.NewServeMux()}
	s.reg = prometheus.NewRegistry()
	s.request = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flowd_api_requests_total",
		Help: "Network Firewall API requests by operation and outcome (OK or the error type).",
	}, []string{"operation", "outcome"})
	s.reg.MustRegister(s.request, &collector{b: cfg.Backend},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.mux.HandleFunc("/", s.root)
	s.mux.HandleFunc("GET /status", s.status)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return s, nil
}

// FirewallArn returns the ARN of the firewall served.
func (s *Server) FirewallArn() string { return s.cfg.FirewallArn }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// root routes POST /: X-Amz-Target selects a JSON operation; a form body
// goes to the query protocol (EC2).
func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	reqID := uuid.NewString()
	w.Header().Set("X-Amzn-RequestId", reqID)
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, errInvalid("%s /: the API takes POST requests (awsJson1_0 with X-Amz-Target); see also GET /status and GET /metrics", r.Method))
		return
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		s.awsJSON(w, r, target)
		return
	}
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		if s.cfg.Query != nil {
			s.cfg.Query.ServeHTTP(w, r)
			return
		}
		writeError(w, http.StatusBadRequest, errInvalid("form-encoded requests (the EC2 query API) are not served by this flowd"))
		return
	}
	writeError(w, http.StatusBadRequest, errInvalid("X-Amz-Target: the header is missing; want %s<Operation>", targetPrefix))
}
