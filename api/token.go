package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"

	"github.com/google/uuid"

	"github.com/flowd/flowd/engine"
)

// Pagination tokens are opaque to clients: standard base64 (inside the AWS
// PaginationToken alphabet [0-9A-Za-z:/+=]) of
//
//	version(1) kind(1) body MAC(16)
//
// where MAC is HMAC-SHA256 under the server's key, cut to 16 bytes, over
// everything before it. A token the server did not issue, or issued for
// another request, fails the check and gets InvalidRequestException.
//
//	kind 'R' (ListFlowOperationResults): operation id (16) offset (4)
//	kind 'L' (ListFlowOperations): filter digest (8) id of the last
//	         operation returned (16); the next page continues after it, so
//	         operations started meanwhile do not shift the pages.
const (
	tokenVersion = 1
	macLen       = 16
)

type tokenSigner struct{ key []byte }

func (t tokenSigner) seal(payload []byte) string {
	m := hmac.New(sha256.New, t.key)
	m.Write(payload)
	return base64.StdEncoding.EncodeToString(m.Sum(payload)[:len(payload)+macLen])
}

// open checks a token's encoding, version, kind, length and MAC and returns
// its body.
func (t tokenSigner) open(tok string, kind byte, bodyLen int) ([]byte, bool) {
	b, err := base64.StdEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) != 2+bodyLen+macLen || b[0] != tokenVersion || b[1] != kind {
		return nil, false
	}
	n := len(b) - macLen
	m := hmac.New(sha256.New, t.key)
	m.Write(b[:n])
	if !hmac.Equal(m.Sum(nil)[:macLen], b[n:]) {
		return nil, false
	}
	return b[2:n], true
}

func (t tokenSigner) sealResults(opID string, offset int) string {
	id := uuid.MustParse(opID)
	p := append([]byte{tokenVersion, 'R'}, id[:]...)
	return t.seal(binary.BigEndian.AppendUint32(p, uint32(offset)))
}

func (t tokenSigner) openResults(tok, opID string) (int, bool) {
	body, ok := t.open(tok, 'R', 16+4)
	if !ok {
		return 0, false
	}
	id, err := uuid.Parse(opID)
	if err != nil || [16]byte(body[:16]) != [16]byte(id) {
		return 0, false
	}
	return int(binary.BigEndian.Uint32(body[16:])), true
}

func (t tokenSigner) sealList(digest [8]byte, after string) string {
	id := uuid.MustParse(after)
	p := append([]byte{tokenVersion, 'L'}, digest[:]...)
	return t.seal(append(p, id[:]...))
}

func (t tokenSigner) openList(tok string, digest [8]byte) (string, bool) {
	body, ok := t.open(tok, 'L', 8+16)
	if !ok || [8]byte(body[:8]) != digest {
		return "", false
	}
	return uuid.UUID(body[8:]).String(), true
}

// listDigest binds a ListFlowOperations token to the request's filters.
func listDigest(typ engine.OpType, sc engine.Scope) [8]byte {
	h := sha256.New()
	for _, s := range []string{string(typ), sc.AvailabilityZone, sc.VpcEndpointID, sc.VpcEndpointAssociationArn} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return [8]byte(h.Sum(nil))
}
