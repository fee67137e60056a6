package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/engine"
)

// fakeBackend answers at once, so the fuzzer spends its time in decoding
// and validation. Every operation exists and has a few results.
type fakeBackend struct{}

var fakeOp = engine.Op{
	ID: "0b7f1d7e-3c2a-4d9e-9a51-2f6c8e4b7a10", Type: engine.OpCapture, Status: engine.OpCompleted,
	Requested: time.Unix(1742468400, 123e6),
}

func init() { fakeOp.Flows = engine.NewResults(make([]engine.FlowResult, 250)) }

func (fakeBackend) Start(r engine.OpRequest) (engine.Op, error) {
	if r.Scope.AvailabilityZone == "throttle" {
		return engine.Op{}, engine.ErrThrottled
	}
	if r.Scope.VpcEndpointID != "" {
		return engine.Op{}, &engine.ScopeError{Member: "VpcEndpointId", Msg: "unknown"}
	}
	op := fakeOp
	op.Status = engine.OpInProgress
	return op, nil
}

func (fakeBackend) Op(id string, _ engine.Scope) (engine.Op, error) {
	if id != fakeOp.ID {
		return engine.Op{}, engine.ErrOpNotFound
	}
	return fakeOp, nil
}

func (fakeBackend) List(engine.ListRequest) ([]engine.Op, error) {
	ops := make([]engine.Op, 5)
	for i := range ops {
		ops[i] = fakeOp
		ops[i].ID = strings.Replace(fakeOp.ID, "0b7f", "0b7"+string(rune('a'+i)), 1)
	}
	return ops, nil
}

func (fakeBackend) Status() engine.Status { return engine.Status{} }

func (fakeBackend) OpStats() engine.OpStats { return engine.OpStats{} }

// FuzzCall feeds arbitrary bodies to every operation: no panic, every
// error is one of the four API types with a message, every success
// encodes as JSON.
func FuzzCall(f *testing.F) {
	s, err := New(Config{Backend: fakeBackend{}, TokenKey: []byte("fuzz")})
	if err != nil {
		f.Fatal(err)
	}
	arn := `"FirewallArn":"` + DefaultFirewallArn + `"`
	tok := s.tokens.sealResults(fakeOp.ID, 100)
	for i, body := range []string{
		`{` + arn + `,"AvailabilityZone":"us-east-1a","MinimumFlowAgeInSeconds":60,"FlowFilters":[{"SourceAddress":{"AddressDefinition":"10.0.1.0/24"},"DestinationPort":"443","Protocols":["6"]}]}`,
		`{` + arn + `,"FlowFilters":[{"DestinationAddress":{"AddressDefinition":"2001:db8::/32"},"SourcePort":"1024:65535"},{}],"VpcEndpointId":"vpce-1"}`,
		`{` + arn + `,"FlowOperationId":"` + fakeOp.ID + `"}`,
		`{` + arn + `,"FlowOperationType":"FLOW_FLUSH","MaxResults":2}`,
		`{` + arn + `,"FlowOperationId":"` + fakeOp.ID + `","MaxResults":100,"NextToken":"` + tok + `"}`,
		`{"FirewallArn":12,"FlowFilters":null}`,
		`{"x":[{"y":{}}]}`,
		``,
		`[]`,
		`{"MinimumFlowAgeInSeconds":1e3,` + arn + `,"FlowFilters":[{"Protocols":["6",null]}]}`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		name := operations[int(op)%len(operations)]
		resp, e := s.Call(name, body)
		if e != nil {
			switch e.Type {
			case InvalidRequest, ResourceNotFound, Throttling:
			default:
				t.Fatalf("%s: error type %s: %s", name, e.Type, e.Message)
			}
			if e.Message == "" {
				t.Fatalf("%s: empty message", name)
			}
			return
		}
		if _, err := json.Marshal(resp); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	})
}

// TestTokens: tokens round-trip, stay in the AWS alphabet, and any change
// to one is refused.
func TestTokens(t *testing.T) {
	ts := tokenSigner{key: []byte("k")}
	tok := ts.sealResults(fakeOp.ID, 12345)
	if checkToken(tok) != "" {
		t.Fatalf("token %q breaks the pattern", tok)
	}
	if off, ok := ts.openResults(tok, fakeOp.ID); !ok || off != 12345 {
		t.Fatalf("round trip: %d %v", off, ok)
	}
	if _, ok := ts.openResults(tok, "0b7f1d7e-3c2a-4d9e-9a51-2f6c8e4b7a11"); ok {
		t.Fatal("token accepted for another operation")
	}
	if _, ok := (tokenSigner{key: []byte("other")}).openResults(tok, fakeOp.ID); ok {
		t.Fatal("token accepted under another key")
	}
	for i := range tok {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		if _, ok := ts.openResults(string(b), fakeOp.ID); ok {
			t.Fatalf("altered token %q accepted", b)
		}
	}
	d := listDigest(engine.OpFlush, engine.Scope{})
	lt := ts.sealList(d, fakeOp.ID)
	if after, ok := ts.openList(lt, d); !ok || after != fakeOp.ID {
		t.Fatalf("list round trip: %q %v", after, ok)
	}
	if _, ok := ts.openList(lt, listDigest(engine.OpCapture, engine.Scope{})); ok {
		t.Fatal("list token accepted for other filters")
	}
	if _, ok := ts.openResults(lt, fakeOp.ID); ok {
		t.Fatal("list token accepted as a results token")
	}
}

func TestEpochSeconds(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1742468400, 123456789), "1742468400.123"},
		{time.Unix(1742468400, 0), "1742468400"},
		{time.Unix(-1, 500e6), "-0.500"},
	} {
		if got := epochSeconds(c.t); string(got) != c.want {
			t.Errorf("%v: %s, want %s", c.t, got, c.want)
		}
	}
}
