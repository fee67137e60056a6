package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/smithy-go"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/engine"
)

// fakeBackend answers every operation with nothing, and can hold List
// calls until released (to fill the server's request slots).
type fakeBackend struct {
	mu      sync.Mutex
	status  engine.Status
	hold    chan struct{} // non-nil: List waits on it
	entered chan struct{} // List says here that it waits
}

func (b *fakeBackend) Start(engine.OpRequest) (engine.Op, error) {
	return engine.Op{}, errors.New("fake backend: no operations")
}
func (b *fakeBackend) Op(string, engine.Scope) (engine.Op, error) {
	return engine.Op{}, engine.ErrOpNotFound
}
func (b *fakeBackend) List(engine.ListRequest) ([]engine.Op, error) {
	b.mu.Lock()
	hold, entered := b.hold, b.entered
	b.mu.Unlock()
	if hold != nil {
		entered <- struct{}{}
		<-hold
	}
	return nil, nil
}
func (b *fakeBackend) Status() engine.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status
}
func (b *fakeBackend) setStatus(st engine.Status) {
	b.mu.Lock()
	b.status = st
	b.mu.Unlock()
}
func (b *fakeBackend) OpStats() engine.OpStats { return engine.OpStats{} }

const (
	testKeyID  = "AKIDFLOWDTEST0001"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// ec2Stub stands for the EC2 query API: it echoes the Action it got, so a
// test sees that the body reached it intact.
var ec2Stub = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "text/xml")
	w.Write([]byte("<Ok>" + string(b) + "</Ok>"))
})

// authServer serves a fake backend with auth on (one key), EC2 stubbed.
func authServer(t *testing.T) string {
	t.Helper()
	creds, err := api.NewCredentials(map[string]string{testKeyID: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Backend: &fakeBackend{}, Auth: creds, Query: ec2Stub})
	if err != nil {
		t.Fatal(err)
	}
	return listen(t, srv)
}

// tamper is an SDK HTTP client that changes each request after the SDK
// signed it, then sends it.
type tamper func(*http.Request)

func (f tamper) Do(r *http.Request) (*http.Response, error) {
	f(r)
	return http.DefaultClient.Do(r)
}

func sdkClient(url, region, id, secret string, hc aws.HTTPClient) *nfw.Client {
	return nfw.New(nfw.Options{
		Region:           region,
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       hc,
	})
}

// sdkError returns the error code, message and HTTP status of an SDK error.
func sdkError(err error) (string, string, int) {
	var ae smithy.APIError
	var re *awshttp.ResponseError
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage(), status
	}
	return "", err.Error(), status
}

func TestAuthSDK(t *testing.T) {
	url := authServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	list := func(c *nfw.Client) error {
		_, err := c.ListFlowOperations(ctx, &nfw.ListFlowOperationsInput{FirewallArn: firewall})
		return err
	}
	if err := list(sdkClient(url, "us-east-1", testKeyID, testSecret, nil)); err != nil {
		t.Fatalf("the right key: %v", err)
	}

	setBody := func(r *http.Request, b []byte) {
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
	}
	cases := []struct {
		name           string
		region, id, sk string
		tamper         tamper
		code, msg      string
		status         int
	}{
		{"wrong secret", "us-east-1", testKeyID, testSecret + "x", nil,
			"InvalidSignatureException", "The request signature we calculated does not match", 403},
		{"unknown key id", "us-east-1", "AKIDNOBODY", testSecret, nil,
			"UnrecognizedClientException", "The security token included in the request is invalid.", 403},
		{"region not served", "eu-west-1", testKeyID, testSecret, nil,
			"InvalidSignatureException", `Credential should be scoped to a valid region, not "eu-west-1"`, 403},
		{"missing Authorization", "us-east-1", testKeyID, testSecret, func(r *http.Request) { r.Header.Del("Authorization") },
			"MissingAuthenticationTokenException", "Missing Authentication Token", 403},
		{"altered body, same length", "us-east-1", testKeyID, testSecret, func(r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			setBody(r, bytes.Replace(b, []byte("flowd"), []byte("flowe"), 1))
		}, "InvalidSignatureException", "The request signature we calculated does not match", 403},
		{"altered body, longer", "us-east-1", testKeyID, testSecret, func(r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			setBody(r, append(bytes.TrimSuffix(b, []byte("}")), []byte(`,"MaxResults":1}`)...))
		}, "InvalidSignatureException", "The request signature we calculated does not match", 403},
		{"altered signed header", "us-east-1", testKeyID, testSecret, func(r *http.Request) {
			r.Header.Set("Amz-Sdk-Invocation-Id", "00000000-0000-0000-0000-000000000000")
		}, "InvalidSignatureException", "The request signature we calculated does not match", 403},
		{"other operation than signed", "us-east-1", testKeyID, testSecret, func(r *http.Request) {
			r.Header.Set("X-Amz-Target", "NetworkFirewall_20201112.ListFlowOperationResults")
		}, "InvalidSignatureException", "The request signature we calculated does not match", 403},
		{"altered date", "us-east-1", testKeyID, testSecret, func(r *http.Request) {
			t, _ := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
			r.Header.Set("X-Amz-Date", t.Add(time.Second).Format("20060102T150405Z"))
		}, "InvalidSignatureException", "The request signature we calculated does not match", 403},
		{"altered signature", "us-east-1", testKeyID, testSecret, func(r *http.Request) {
			a := r.Header.Get("Authorization")
			last := "0"
			if a[len(a)-1] == '0' {
				last = "1"
			}
			r.Header.Set("Authorization", a[:len(a)-1]+last)
		}, "InvalidSignatureException", "The request signature we calculated does not match", 403},
	}
	for _, c := range cases {
		var hc aws.HTTPClient
		if c.tamper != nil {
			hc = c.tamper
		}
		code, msg, status := sdkError(list(sdkClient(url, c.region, c.id, c.sk, hc)))
		if code != c.code || !strings.Contains(msg, c.msg) || status != c.status {
			t.Errorf("%s: got %s %d %q; want %s %d %q", c.name, code, status, msg, c.code, c.status, c.msg)
		}
	}

	// The probes and the monitoring endpoints stay open.
	for _, path := range []string{"/status", "/metrics", "/healthz", "/readyz"} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s with auth on: %d, want 200", path, resp.StatusCode)
		}
	}
}

// signed builds a request to url and signs it with the official SDK
// signer, as of at.
func signed(t *testing.T, url, service, region, secret string, at time.Time, body string, hdr map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		t.Fatal(err)
	}
	return req
}

// send returns the status and body of a response to req.
func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func jsonErr(t *testing.T, body string) (string, string) {
	t.Helper()
	var e struct {
		Type    string `json:"__type"`
		Message string
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return e.Type, e.Message
}

func TestAuthRawJSON(t *testing.T) {
	url := authServer(t)
	body := `{"FirewallArn":"` + api.DefaultFirewallArn + `"}`
	jsonHdr := map[string]string{
		"Content-Type": "application/x-amz-json-1.0",
		"X-Amz-Target": "NetworkFirewall_20201112.ListFlowOperations",
	}
	now := time.Now()

	// The official signer, with what the SDK never sends: a query string
	// whose order differs before and after encoding, a header with runs of
	// spaces, a header given twice.
	hdr := map[string]string{"X-Flowd-Test": "  a   b  "}
	for k, v := range jsonHdr {
		hdr[k] = v
	}
	if status, b := send(t, signed(t, url+"/?b=x%2Fy&a-b=1&a=2&a=1&c=%20sp", "network-firewall", "us-east-1", testSecret, now, body, hdr)); status != 200 {
		t.Fatalf("signed by the SDK signer: %d %s", status, b)
	}
	withTwice := func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
		for k, v := range jsonHdr {
			r.Header.Set(k, v)
		}
		r.Header.Add("X-Flowd-Twice", "1")
		r.Header.Add("X-Flowd-Twice", " 2 ")
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret},
			r, hex.EncodeToString(sum[:]), "network-firewall", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if status, b := send(t, withTwice()); status != 200 {
		t.Fatalf("a header given twice: %d %s", status, b)
	}
	r := withTwice()
	r.Header.Del("X-Flowd-Twice")
	r.Header.Add("X-Flowd-Twice", "2")
	r.Header.Add("X-Flowd-Twice", "1")
	if status, b := send(t, r); status != 403 {
		t.Fatalf("a signed header's values reordered: %d %s", status, b)
	}

	cases := []struct {
		name    string
		req     *http.Request
		status  int
		typ     string
		message string
	}{
		{"signed 20 minutes ago", signed(t, url, "network-firewall", "us-east-1", testSecret, now.Add(-20*time.Minute), body, jsonHdr),
			403, "InvalidSignatureException", "Signature expired: " + now.Add(-20*time.Minute).UTC().Format("20060102T150405Z") + " is now earlier than "},
		{"signed 20 minutes ahead", signed(t, url, "network-firewall", "us-east-1", testSecret, now.Add(20*time.Minute), body, jsonHdr),
			403, "InvalidSignatureException", "Signature not yet current: "},
		{"signed 14 minutes ago", signed(t, url, "network-firewall", "us-east-1", testSecret, now.Add(-14*time.Minute), body, jsonHdr),
			200, "", ""},
		{"scoped to ec2", signed(t, url, "ec2", "us-east-1", testSecret, now, body, jsonHdr),
			403, "InvalidSignatureException", "Credential should be scoped to correct service: 'network-firewall'"},
		{"wrong secret", signed(t, url, "network-firewall", "us-east-1", "nope", now, body, jsonHdr),
			403, "InvalidSignatureException", "The request signature we calculated does not match"},
	}
	// Claimed body hash that is not the body's.
	bad := signed(t, url, "network-firewall", "us-east-1", testSecret, now, body, jsonHdr)
	bad.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64))
	cases = append(cases, struct {
		name    string
		req     *http.Request
		status  int
		typ     string
		message string
	}{"x-amz-content-sha256 not the body's", bad, 403, "InvalidSignatureException", "x-amz-content-sha256"})
	// Not SigV4's shape.
	for _, a := range []struct{ name, value, msg string }{
		{"SigV2-style header", "AWS " + testKeyID + ":abc", "algorithm"},
		{"no Signature", "AWS4-HMAC-SHA256 Credential=" + testKeyID + "/20260101/us-east-1/network-firewall/aws4_request, SignedHeaders=host", "'Signature'"},
		{"short Credential", "AWS4-HMAC-SHA256 Credential=" + testKeyID + "/us-east-1, SignedHeaders=host, Signature=00", "is not ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request"},
	} {
		r := signed(t, url, "network-firewall", "us-east-1", testSecret, now, body, jsonHdr)
		r.Header.Set("Authorization", a.value)
		cases = append(cases, struct {
			name    string
			req     *http.Request
			status  int
			typ     string
			message string
		}{a.name, r, 400, "IncompleteSignatureException", a.msg})
	}
	// X-Amz-Target left out of the signed headers.
	unsignedTarget := signed(t, url, "network-firewall", "us-east-1", testSecret, now, body, map[string]string{"Content-Type": jsonHdr["Content-Type"]})
	unsignedTarget.Header.Set("X-Amz-Target", jsonHdr["X-Amz-Target"])
	cases = append(cases, struct {
		name    string
		req     *http.Request
		status  int
		typ     string
		message string
	}{"target not signed", unsignedTarget, 403, "InvalidSignatureException", "does not include x-amz-target"})

	for _, c := range cases {
		status, b := send(t, c.req)
		if status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, status, c.status, b)
			continue
		}
		if c.typ == "" {
			continue
		}
		typ, msg := jsonErr(t, b)
		if typ != c.typ || !strings.Contains(msg, c.message) {
			t.Errorf("%s: %s %q; want %s containing %q", c.name, typ, msg, c.typ, c.message)
		}
	}
}

func TestAuthEC2(t *testing.T) {
	url := authServer(t)
	const body = "Action=DescribeFlowLogs&Version=2016-11-15"
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
	now := time.Now()
	if status, b := send(t, signed(t, url, "ec2", "us-east-1", testSecret, now, body, form)); status != 200 || b != "<Ok>"+body+"</Ok>" {
		t.Fatalf("signed form: %d %s", status, b)
	}
	unsigned, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	unsigned.Header.Set("Content-Type", form["Content-Type"])
	unknown := signed(t, url, "ec2", "us-east-1", testSecret, now, body, form)
	unknown.Header.Set("Authorization", strings.Replace(unknown.Header.Get("Authorization"), testKeyID, "AKIDNOBODY", 1))
	altered := signed(t, url, "ec2", "us-east-1", testSecret, now, body, form)
	altered.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "Describe", "Delete\x00\x00", 1)))
	for _, c := range []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"no Authorization", unsigned, 403, "MissingAuthenticationToken"},
		{"unknown key", unknown, 401, "AuthFailure"},
		{"wrong secret", signed(t, url, "ec2", "us-east-1", "nope", now, body, form), 403, "SignatureDoesNotMatch"},
		{"altered body", altered, 403, "SignatureDoesNotMatch"},
		{"scoped to network-firewall", signed(t, url, "network-firewall", "us-east-1", testSecret, now, body, form), 403, "SignatureDoesNotMatch"},
		{"signed 20 minutes ago", signed(t, url, "ec2", "us-east-1", testSecret, now.Add(-20*time.Minute), body, form), 400, "RequestExpired"},
	} {
		status, b := send(t, c.req)
		var env struct {
			XMLName xml.Name `xml:"Response"`
			Code    string   `xml:"Errors>Error>Code"`
			Message string   `xml:"Errors>Error>Message"`
			ID      string   `xml:"RequestID"`
		}
		if err := xml.Unmarshal([]byte(b), &env); err != nil {
			t.Errorf("%s: %v: %s", c.name, err, b)
			continue
		}
		if status != c.status || env.Code != c.code || env.Message == "" || env.ID == "" {
			t.Errorf("%s: %d %+v; want %d %s", c.name, status, env, c.status, c.code)
		}
	}
}

func TestLoadAuthFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "# flowd keys\n\nAKIDONE secretone\n  AKID_TWO\tsecret/two+x  \n# AKIDOFF off\n", 0o600)
	c, err := api.LoadAuthFile(good)
	if err != nil || c.Len() != 2 {
		t.Fatalf("good file: %v, %v", c, err)
	}
	if _, err := api.LoadAuthFile(write("group", "AKIDONE secretone\n", 0o640)); err != nil {
		t.Fatalf("group-readable file: %v", err)
	}
	for _, c := range []struct {
		name, text string
		mode       os.FileMode
		want       []string
	}{
		{"world-readable", "AKIDONE secretone\n", 0o644, []string{"mode 0644 lets every user read it", "chmod 600"}},
		{"world-writable", "AKIDONE secretone\n", 0o602, []string{"mode 0602 lets every user write it", "chmod 600"}},
		{"three fields", "AKIDONE secret one\n", 0o600, []string{"line 1: 3 fields; want two, ACCESS_KEY_ID SECRET"}},
		{"bad key id", "\nAKID/ONE secret\n", 0o600, []string{`line 2: access key id "AKID/ONE" is not valid`}},
		{"duplicate", "AKIDONE a\nAKIDONE b\n", 0o600, []string{"line 2: access key id AKIDONE already given on line 1"}},
		{"empty", "# nothing\n\n", 0o600, []string{"no access key"}},
	} {
		p := write(c.name, c.text, c.mode)
		_, err := api.LoadAuthFile(p)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range append(c.want, p) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "secret one") || strings.Contains(err.Error(), "secretone") {
			t.Errorf("%s: the error quotes the secret: %v", c.name, err)
		}
	}
	if _, err := api.LoadAuthFile(filepath.Join(dir, "absent")); err == nil {
		t.Error("absent file: no error")
	}
}

// TestAuthAWSCLI runs the aws CLI, when there is one, with the right and a
// wrong secret, against both protocols.
func TestAuthAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("no aws CLI on PATH (pip install awscli, or AWS CLI v2, to run this test)")
	}
	creds, err := api.NewCredentials(map[string]string{testKeyID: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	ec2 := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(`<DescribeFlowLogsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>1</requestId><flowLogSet/></DescribeFlowLogsResponse>`))
	})
	srv, err := api.New(api.Config{Backend: &fakeBackend{}, Auth: creds, Query: ec2})
	if err != nil {
		t.Fatal(err)
	}
	url := listen(t, srv)
	aws := func(secret string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "aws", append([]string{"--endpoint-url", url, "--region", "us-east-1", "--output", "json"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+testKeyID, "AWS_SECRET_ACCESS_KEY="+secret,
			"AWS_SESSION_TOKEN=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1", "AWS_PAGER=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	nf := []string{"network-firewall", "list-flow-operations", "--firewall-arn", api.DefaultFirewallArn}
	out, err := aws(testSecret, nf...)
	if strings.Contains(out, "Invalid choice") {
		t.Skipf("this aws CLI does not know the flow operations: %s", out)
	}
	if err != nil || !strings.Contains(out, "FlowOperations") {
		t.Fatalf("aws network-firewall with the right key: %v: %s", err, out)
	}
	if out, err := aws("wrong", nf...); err == nil || !strings.Contains(out, "InvalidSignatureException") {
		t.Errorf("aws network-firewall with a wrong secret: %v: %s", err, out)
	}
	if out, err := aws(testSecret, "ec2", "describe-flow-logs"); err != nil || !strings.Contains(out, "FlowLogs") {
		t.Errorf("aws ec2 with the right key: %v: %s", err, out)
	}
	if out, err := aws("wrong", "ec2", "describe-flow-logs"); err == nil || !strings.Contains(out, "SignatureDoesNotMatch") {
		t.Errorf("aws ec2 with a wrong secret: %v: %s", err, out)
	}
}

// FuzzSigV4Header feeds arbitrary Authorization and X-Amz-Date headers to a
// server with auth on: every one is refused with an auth error, none
// panics, none passes.
func FuzzSigV4Header(f *testing.F) {
	now := time.Now().UTC().Format("20060102T150405Z")
	f.Add("AWS4-HMAC-SHA256 Credential="+testKeyID+"/"+now[:8]+"/us-east-1/network-firewall/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature="+strings.Repeat("ab", 32), now)
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDNOBODY/20200101/us-east-1/network-firewall/aws4_request,SignedHeaders=host,Signature=00", "20200101T000000Z")
	f.Add("AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=;;, Signature=", "")
	f.Add("AWS AKID:sig", "x")
	f.Add("", now)
	creds, err := api.NewCredentials(map[string]string{testKeyID: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	srv, err := api.New(api.Config{Backend: &fakeBackend{}, Auth: creds})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, auth, date string) {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", strings.NewReader(listBody))
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", listTarget)
		req.Header["Authorization"] = []string{auth}
		req.Header["X-Amz-Date"] = []string{date}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		typ := rec.Header().Get("X-Amzn-ErrorType")
		if rec.Code != 400 && rec.Code != 403 || !strings.Contains("MissingAuthenticationTokenException IncompleteSignatureException UnrecognizedClientException InvalidSignatureException", typ) || typ == "" {
			t.Fatalf("Authorization %q, X-Amz-Date %q: %d %s %s", auth, date, rec.Code, typ, rec.Body)
		}
	})
}
