package api

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Credentials are the access keys a server accepts: access key id → secret
// access key. The zero value accepts no key; build one with NewCredentials
// or LoadAuthFile. Safe for concurrent use (it is never changed).
type Credentials struct {
	secrets map[string]string
}

// MaxClockSkew is how far the time a request was signed may be from the
// server's clock, either way, as AWS allows.
const MaxClockSkew = 15 * time.Minute

// NewCredentials checks keys (access key id → secret) and returns them as
// Credentials.
func NewCredentials(keys map[string]string) (*Credentials, error) {
	c := &Credentials{secrets: make(map[string]string, len(keys))}
	for id, secret := range keys {
		if msg := checkKeyID(id); msg != "" {
			return nil, fmt.Errorf("api: credentials: %s", msg)
		}
		if msg := checkSecret(secret); msg != "" {
			return nil, fmt.Errorf("api: credentials: access key id %s: %s", id, msg)
		}
		c.secrets[id] = secret
	}
	if len(c.secrets) == 0 {
		return nil, fmt.Errorf("api: credentials: no access key given; at least one is needed")
	}
	return c, nil
}

// Len returns the number of access keys.
func (c *Credentials) Len() int { return len(c.secrets) }

// LoadAuthFile reads access keys from the file at path: one key a line,
// "ACCESS_KEY_ID SECRET" separated by white space; blank lines and lines
// starting with # are skipped. The file holds secrets, so one that other
// users may read or write (mode & 0o006) is refused. Errors name the file
// and the line, never a secret.
func LoadAuthFile(path string) (*Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("auth file %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o006 != 0 {
		what := "read"
		switch {
		case perm&0o006 == 0o006:
			what = "read and write"
		case perm&0o002 != 0:
			what = "write"
		}
		return nil, fmt.Errorf("auth file %s: mode %04o lets every user %s it, and it holds secret keys; run: chmod 600 %s",
			path, perm, what, path)
	}
	keys := map[string]string{}
	lineOf := map[string]int{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("auth file %s line %d: %d fields; want two, ACCESS_KEY_ID SECRET", path, n, len(fields))
		}
		id, secret := fields[0], fields[1]
		if msg := checkKeyID(id); msg != "" {
			return nil, fmt.Errorf("auth file %s line %d: %s", path, n, msg)
		}
		if msg := checkSecret(secret); msg != "" {
			return nil, fmt.Errorf("auth file %s line %d: access key id %s: %s", path, n, id, msg)
		}
		if prev, dup := lineOf[id]; dup {
			return nil, fmt.Errorf("auth file %s line %d: access key id %s already given on line %d", path, n, id, prev)
		}
		keys[id], lineOf[id] = secret, n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("auth file %s line %d: %w", path, n+1, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("auth file %s: no access key; want lines of ACCESS_KEY_ID SECRET", path)
	}
	return NewCredentials(keys)
}

func checkKeyID(id string) string {
	ok := len(id) >= 1 && len(id) <= 128
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
	}
	if !ok {
		return fmt.Sprintf("access key id %s is not valid: want 1 to 128 letters, digits or _", quote(id))
	}
	return ""
}

// checkSecret never quotes the secret it refuses.
func checkSecret(s string) string {
	if len(s) < 1 || len(s) > 256 {
		return fmt.Sprintf("the secret is %d characters long: want 1 to 256", len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return fmt.Sprintf("the secret has a character other than printable ASCII at position %d", i+1)
		}
	}
	return ""
}

// The signing services: one per protocol served.
const (
	serviceNetworkFirewall = "network-firewall"
	serviceEC2             = "ec2"
)

// authKind is why a request was refused; each protocol names it its own way.
type authKind int

const (
	authMissing      authKind = iota + 1 // no Authorization header
	authIncomplete                       // an Authorization header that is not SigV4's shape
	authUnknownKey                       // an access key id not in Credentials
	authExpired                          // signed too long ago, or too far ahead
	authBadSignature                     // the signature, the scope or the body hash does not match
)

type authFailure struct {
	kind authKind
	msg  string
}

// The messages AWS answers with; flowd adds what was wrong after them.
const (
	msgBadSignature = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgUnknownKey   = "The security token included in the request is invalid."
)

// jsonAuthError is a refusal as awsJson1_0 services answer it.
func jsonAuthError(f *authFailure) (int, *Error) {
	switch f.kind {
	case authMissing:
		return http.StatusForbidden, &Error{Type: "MissingAuthenticationTokenException", Message: f.msg}
	case authIncomplete:
		return http.StatusBadRequest, &Error{Type: "IncompleteSignatureException", Message: f.msg}
	case authUnknownKey:
		return http.StatusForbidden, &Error{Type: "UnrecognizedClientException", Message: f.msg}
	}
	return http.StatusForbidden, &Error{Type: "InvalidSignatureException", Message: f.msg}
}

// ec2AuthError is a refusal as the EC2 query API answers it.
func ec2AuthError(f *authFailure) (int, string) {
	switch f.kind {
	case authMissing:
		return http.StatusForbidden, "MissingAuthenticationToken"
	case authIncomplete:
		return http.StatusBadRequest, "IncompleteSignature"
	case authUnknownKey:
		return http.StatusUnauthorized, "AuthFailure"
	case authExpired:
		return http.StatusBadRequest, "RequestExpired"
	}
	return http.StatusForbidden, "SignatureDoesNotMatch"
}

// writeEC2Error answers in the EC2 query API's error envelope.
func writeEC2Error(w http.ResponseWriter, status int, code, msg, reqID string) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Response><Errors><Error><Code>")
	xml.EscapeText(&b, []byte(code))
	b.WriteString("</Code><Message>")
	xml.EscapeText(&b, []byte(msg))
	b.WriteString("</Message></Error></Errors><RequestID>")
	xml.EscapeText(&b, []byte(reqID))
	b.WriteString("</RequestID></Response>\n")
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// sigV4 holds the parts of an Authorization header.
type sigV4 struct {
	keyID, date, region, service string
	signedHeaders                string
	signature                    string
}

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDateForm  = "20060102T150405Z"
)

// parseAuthorization splits "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=...".
func parseAuthorization(h string) (sigV4, *authFailure) {
	var s sigV4
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != sigAlgorithm {
		return s, &authFailure{authIncomplete, fmt.Sprintf("Authorization header: algorithm %s is not served: want %s (AWS Signature Version 4)", quote(clip(alg)), sigAlgorithm)}
	}
	var cred string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred, haveCred = v, true
		case "SignedHeaders":
			s.signedHeaders, haveSigned = v, true
		case "Signature":
			s.signature, haveSig = v, true
		}
	}
	var lack []string
	for _, p := range []struct {
		name string
		ok   bool
	}{{"Credential", haveCred}, {"SignedHeaders", haveSigned}, {"Signature", haveSig}} {
		if !p.ok {
			lack = append(lack, "'"+p.name+"'")
		}
	}
	if len(lack) > 0 {
		return s, &authFailure{authIncomplete, "Authorization header requires the " + strings.Join(lack, ", ") + " parameter(s)"}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" {
		return s, &authFailure{authIncomplete, fmt.Sprintf("Authorization header: Credential %s is not ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request", quote(clip(cred)))}
	}
	s.keyID, s.date, s.region, s.service = scope[0], scope[1], scope[2], scope[3]
	if s.signedHeaders == "" {
		return s, &authFailure{authIncomplete, "Authorization header: SignedHeaders is empty; want at least host"}
	}
	return s, nil
}

// verifySigV4 checks r's signature over body, for service, at now. It reads
// nothing from r.Body: body is what was read of it.
func (c *Credentials) verifySigV4(r *http.Request, body []byte, service string, regions []string, now time.Time) *authFailure {
	auths := r.Header.Values("Authorization")
	if len(auths) == 0 {
		if r.URL.Query().Has("X-Amz-Signature") {
			return &authFailure{authIncomplete, "presigned URLs (X-Amz-Signature in the query) are not served; sign the Authorization header"}
		}
		return &authFailure{authMissing, "Missing Authentication Token: the request has no Authorization header, and this endpoint requires AWS Signature Version 4"}
	}
	if len(auths) > 1 {
		return &authFailure{authIncomplete, fmt.Sprintf("Authorization header: given %d times; want once", len(auths))}
	}
	sig, f := parseAuthorization(auths[0])
	if f != nil {
		return f
	}
	secret, ok := c.secrets[sig.keyID]
	if !ok {
		return &authFailure{authUnknownKey, fmt.Sprintf("%s (access key id %s is not known here)", msgUnknownKey, quote(clip(sig.keyID)))}
	}
	if r.Header.Get("X-Amz-Security-Token") != "" {
		return &authFailure{authUnknownKey, msgUnknownKey + " (session tokens are not accepted here: sign with a key of the auth file alone)"}
	}

	// The time the request was signed: X-Amz-Date, else Date.
	dateHeader := "x-amz-date"
	amzDate := r.Header.Get("X-Amz-Date")
	var signed time.Time
	if amzDate != "" {
		t, err := time.Parse(amzDateForm, amzDate)
		if err != nil {
			return &authFailure{authIncomplete, fmt.Sprintf("X-Amz-Date: %s is not a date of the form YYYYMMDD'T'HHMMSS'Z'", quote(clip(amzDate)))}
		}
		signed = t
	} else if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			return &authFailure{authIncomplete, fmt.Sprintf("Date: %s is not an HTTP date", quote(clip(d)))}
		}
		signed, dateHeader = t.UTC(), "date"
		amzDate = signed.Format(amzDateForm)
	} else {
		return &authFailure{authIncomplete, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header"}
	}
	nowS := now.UTC().Format(amzDateForm)
	if signed.Before(now.Add(-MaxClockSkew)) {
		return &authFailure{authExpired, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-MaxClockSkew).UTC().Format(amzDateForm), nowS)}
	}
	if signed.After(now.Add(MaxClockSkew)) {
		return &authFailure{authExpired, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, now.Add(MaxClockSkew).UTC().Format(amzDateForm), nowS)}
	}

	// The scope.
	if sig.date != amzDate[:8] {
		return &authFailure{authBadSignature, fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: %s != %s, from %s",
			quote(clip(sig.date)), quote(amzDate[:8]), dateHeader)}
	}
	if !containsString(regions, sig.region) {
		return &authFailure{authBadSignature, fmt.Sprintf("Credential should be scoped to a valid region, not %s: this endpoint accepts %s",
			quote(clip(sig.region)), strings.Join(regions, ", "))}
	}
	if sig.service != service {
		return &authFailure{authBadSignature, fmt.Sprintf("Credential should be scoped to correct service: '%s', not %s", service, quote(clip(sig.service)))}
	}

	// Headers that must be covered by the signature: the host, the date,
	// and for awsJson the operation.
	names := strings.Split(sig.signedHeaders, ";")
	required := []string{"host", dateHeader}
	if r.Header.Get("X-Amz-Target") != "" {
		required = append(required, "x-amz-target")
	}
	for _, h := range required {
		if !containsString(names, h) {
			return &authFailure{authBadSignature, fmt.Sprintf("SignedHeaders %s does not include %s; it must", quote(clip(sig.signedHeaders)), h)}
		}
	}

	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != payload {
		if claimed == "UNSIGNED-PAYLOAD" {
			return &authFailure{authBadSignature, "x-amz-content-sha256: UNSIGNED-PAYLOAD is not accepted here: the body must be signed"}
		}
		return &authFailure{authBadSignature, "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}

	canonical := canonicalRequest(r, names, sig.signedHeaders, payload)
	scope := sig.date + "/" + sig.region + "/" + sig.service + "/aws4_request"
	crSum := sha256.Sum256([]byte(canonical))
	toSign := sigAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(crSum[:])
	key := hmacSHA256([]byte("AWS4"+secret), sig.date)
	key = hmacSHA256(key, sig.region)
	key = hmacSHA256(key, sig.service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(sig.signature)) {
		return &authFailure{authBadSignature, msgBadSignature}
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// canonicalRequest builds SigV4's canonical request: method, URI, query,
// the signed headers with their values, their names, the payload hash.
func canonicalRequest(r *http.Request, names []string, signedHeaders, payload string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	// Services other than S3 sign the path escaped twice: once on the
	// wire, once more in the canonical request.
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(uriEncode(path, false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery))
	b.WriteByte('\n')
	for _, name := range names {
		b.WriteString(name)
		b.WriteByte(':')
		var values []string
		switch name {
		case "host":
			values = []string{r.Host}
		default:
			values = r.Header.Values(name)
			if len(values) == 0 && name == "content-length" && r.ContentLength >= 0 {
				values = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		}
		for i, v := range values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.Join(strings.Fields(v), " "))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(signedHeaders)
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

// canonicalQuery encodes every name and value, then sorts the pairs.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, _ := url.ParseQuery(raw)
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, pair{uriEncode(k, true), uriEncode(v, true)})
		}
	}
	// Sorted by encoded name, then encoded value (not as joined strings:
	// '=' would sort against the characters of longer names).
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k + "=" + p.v)
	}
	return b.String()
}

// uriEncode percent-encodes every byte but the unreserved ones (and '/'
// unless slash), upper-case hex, as SigV4 wants.
func uriEncode(s string, slash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || c == '/' && !slash {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
