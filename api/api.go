// Package api serves flowd over HTTP: the AWS Network Firewall flow
// operations (awsJson1_0 on POST /, selected by X-Amz-Target), GET /status
// (JSON) and GET /metrics (Prometheus text format).
//
// The official aws-sdk-go-v2/service/networkfirewall client, pointed at the
// server with an endpoint override, works unchanged: members, constraints,
// timestamps, pagination tokens and the error shape follow the AWS API
// reference. Every malformed request gets InvalidRequestException with a
// message that names the member and the rule it breaks; an operation flowd
// does not serve gets UnknownOperationException, as AWS answers.
//
// The server sees the engine only through Backend. POST / routes on
// X-Amz-Target when the header is present, and serves form-encoded requests
// (the EC2 ec2Query protocol, Action=...) with NewEC2 over Config.FlowLogs:
// the VPC flow log actions, XML answers and the EC2 error envelope.
//
// With Config.Auth, every POST / must be signed with AWS Signature Version
// 4 by one of its keys; refusals use the codes and HTTP statuses AWS uses.
// GET /status, /metrics, /healthz and /readyz are never authenticated:
// MetricsHandler serves them alone, for a listener of their own.
//
// Concurrency: a Server serves any number of requests at once. Allocation
// is not a concern here: requests are control-plane traffic.
package api

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowlog"
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
	// FlowLogs holds the VPC flow log definitions that the EC2 actions
	// (CreateFlowLogs, DescribeFlowLogs, DeleteFlowLogs) serve; nil answers
	// them UnsupportedOperation, in the EC2 error envelope.
	FlowLogs *flowlog.Registry
	// Outputs, when set, reports what each output has written, for
	// /metrics (flowd_output_events_total, flowd_output_dropped_total).
	Outputs func() []OutputCount
	// Query, when set, serves POST / requests without X-Amz-Target whose
	// body is a form (the EC2 ec2Query protocol) instead of NewEC2(FlowLogs).
	Query http.Handler
	// TokenKey signs pagination tokens (default: 32 random bytes, so
	// tokens do not outlive the process).
	TokenKey []byte
	// Retention is only quoted in "not found" messages.
	Retention time.Duration
	// Auth, when set, requires every API request (POST /) to carry a valid
	// AWS Signature Version 4 made with one of its keys, for the service
	// network-firewall (awsJson) or ec2 (form bodies), signed within
	// MaxClockSkew of the server's clock. Nil serves anyone.
	Auth *Credentials
	// AuthRegions are the regions a signature may be scoped to (default:
	// the region of FirewallArn).
	AuthRegions []string
	// Limits bound the requests served at once; its timeouts are for the
	// http.Server (NewHTTPServer).
	Limits Limits
}

// Server is the HTTP face of one flowd.
type Server struct {
	cfg     Config
	tokens  tokenSigner
	mux     *http.ServeMux
	api     *http.ServeMux // POST / and the probes
	metrics *http.ServeMux // GET /status, /metrics and the probes
	reg     *prometheus.Registry
	request *prometheus.CounterVec
	latency *prometheus.HistogramVec
	limit   limiter
	regions []string     // AuthRegions or their default
	query   http.Handler // Config.Query or NewEC2(Config.FlowLogs)
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
	regions := cfg.AuthRegions
	if cfg.Auth != nil {
		if len(regions) == 0 {
			if r := arnRegion(cfg.FirewallArn); r != "" {
				regions = []string{r}
			} else {
				return nil, fmt.Errorf("api: auth: the firewall ARN %s names no region, so AuthRegions must be given", cfg.FirewallArn)
			}
		}
		for _, r := range regions {
			if msg := checkRegion(r); msg != "" {
				return nil, fmt.Errorf("api: auth regions: %s", msg)
			}
		}
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if len(cfg.TokenKey) == 0 {
		cfg.TokenKey = make([]byte, 32)
		if _, err := rand.Read(cfg.TokenKey); err != nil {
			return nil, fmt.Errorf("api: token key: %w", err)
		}
	}
	s := &Server{cfg: cfg, tokens: tokenSigner{key: cfg.TokenKey}, mux: http.NewServeMux(),
		api: http.NewServeMux(), metrics: http.NewServeMux(), limit: newLimiter(cfg.Limits.MaxConcurrent), regions: regions}
	s.query = cfg.Query
	if s.query == nil {
		s.query = NewEC2(cfg.FlowLogs)
	}
	s.reg = prometheus.NewRegistry()
	s.request = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flowd_api_requests_total",
		Help: "Network Firewall API requests by operation and outcome (OK or the error type).",
	}, []string{"operation", "outcome"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "flowd_api_request_duration_seconds",
		Help: "Time to answer an API request (POST /), from its headers to its answer, body read included, by operation.",
		// 0.5 ms to 16 s: operations answer in well under a millisecond;
		// the upper buckets catch slow bodies.
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"operation"})
	if cfg.Outputs != nil {
		s.reg.MustRegister(outputCollector(cfg.Outputs))
	}
	s.reg.MustRegister(s.request, s.latency, &collector{b: cfg.Backend}, buildInfo(),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	metrics := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
	for _, mux := range []*http.ServeMux{s.mux, s.api} {
		mux.HandleFunc("/", s.root)
	}
	for _, mux := range []*http.ServeMux{s.mux, s.metrics} {
		mux.HandleFunc("GET /status", s.status)
		mux.Handle("GET /metrics", metrics)
	}
	for _, mux := range []*http.ServeMux{s.mux, s.api, s.metrics} {
		mux.HandleFunc("GET /healthz", s.healthz)
		mux.HandleFunc("GET /readyz", s.readyz)
	}
	return s, nil
}

// APIHandler serves POST / (the APIs) and GET /healthz and /readyz, but not
// /status or /metrics: for a listener of the API alone, beside one for
// MetricsHandler.
func (s *Server) APIHandler() http.Handler { return s.api }

// MetricsHandler serves GET /status, /metrics, /healthz and /readyz, never
// authenticated: bind it to an address only the monitoring can reach.
func (s *Server) MetricsHandler() http.Handler { return s.metrics }

// arnRegion returns the region field of an ARN, "" if it has none.
func arnRegion(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[3]
}

func checkRegion(r string) string {
	ok := len(r) >= 1 && len(r) <= 64
	for i := 0; ok && i < len(r); i++ {
		c := r[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return quote(r) + " is not a region name: want 1 to 64 characters of a-z, 0-9 and -"
	}
	return ""
}

// FirewallArn returns the ARN of the firewall served.
func (s *Server) FirewallArn() string { return s.cfg.FirewallArn }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// ec2Actions are the EC2 actions flowd knows, the values the operation
// label of a form request may take (any other is "unknown").
var ec2Actions = []string{"CreateFlowLogs", "DescribeFlowLogs", "DeleteFlowLogs"}

// root routes POST /: X-Amz-Target selects a JSON operation; a form body
// goes to the query protocol (EC2). In between, it reads the body, takes a
// slot (Limits.MaxConcurrent) and checks the signature (Config.Auth).
func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := uuid.NewString()
	w.Header().Set("X-Amzn-RequestId", reqID)
	if r.URL.Path != "/" {
		// In the API's error shape, so that an SDK pointed at a wrong
		// base path reports what is wrong rather than failing to decode.
		writeError(w, http.StatusNotFound, &Error{Type: UnknownOperation, Message: fmt.Sprintf("%s %s: no such path; the APIs are served at POST / (see also GET /status and GET /metrics)", r.Method, quote(r.URL.Path))})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, errInvalid("%s /: the API takes POST requests (awsJson1_0 with X-Amz-Target); see also GET /status and GET /metrics", r.Method))
		return
	}
	target := r.Header.Get("X-Amz-Target")
	form := target == "" && strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/x-www-form-urlencoded")
	op := "unknown"
	if name, ok := strings.CutPrefix(target, targetPrefix); ok && containsString(operations, name) {
		op = name
	}
	defer func() { s.latency.WithLabelValues(op).Observe(time.Since(start).Seconds()) }()
	// refuse answers a request stopped before its operation: in the EC2
	// envelope for form bodies, else in awsJson's.
	refuse := func(status int, code, msg string) {
		s.request.WithLabelValues(op, code).Inc()
		if form {
			writeEC2Error(w, status, code, msg, reqID)
			return
		}
		writeError(w, status, &Error{Type: code, Message: msg})
	}

	// The body is read before a slot is taken: a client that trickles it
	// holds its connection (until the server's ReadTimeout), not a slot.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		code := InvalidRequest
		if form {
			code = "InvalidParameterValue"
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			refuse(http.StatusBadRequest, code, fmt.Sprintf("the request body is larger than %d bytes", s.cfg.MaxBodyBytes))
		} else {
			refuse(http.StatusBadRequest, code, fmt.Sprintf("reading the request body: %v", err))
		}
		return
	}
	if form {
		if q, err := url.ParseQuery(string(body)); err == nil && containsString(ec2Actions, q.Get("Action")) {
			op = q.Get("Action")
		}
	}
	if !s.limit.acquire() {
		w.Header().Set("Retry-After", "1")
		code := Throttling
		if form {
			code = "RequestLimitExceeded"
		}
		refuse(http.StatusServiceUnavailable, code, fmt.Sprintf("%d API requests are already being served, the most this flowd serves at once; retry with backoff", cap(s.limit.slots)))
		return
	}
	defer s.limit.release()
	if s.cfg.Auth != nil {
		service := serviceNetworkFirewall
		if form {
			service = serviceEC2
		}
		if f := s.cfg.Auth.verifySigV4(r, body, service, s.regions, time.Now()); f != nil {
			if form {
				status, code := ec2AuthError(f)
				refuse(status, code, f.msg)
			} else {
				status, e := jsonAuthError(f)
				refuse(status, e.Type, e.Message)
			}
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	if target != "" {
		s.awsJSON(w, target, body)
		return
	}
	if form {
		s.query.ServeHTTP(w, r)
		return
	}
	writeError(w, http.StatusBadRequest, errInvalid("X-Amz-Target: the header is missing; want %s<Operation>", targetPrefix))
}
