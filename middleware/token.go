package middleware

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/bearerguard/bearerguard/internal/jsonscan"
	"github.com/golang-jwt/jwt/v5"
)

// This file turns a compact JWS (RFC 7515 §7.1) into its header, its
// claims, its signing input and signature, and applies the rules of the
// header that need no key. It knows nothing of the Validator: what a rule
// depends on in the configuration is passed in.
//
// Each segment is base64url-decoded once; each JSON document is checked
// and its top-level members found in one pass by internal/jsonscan (as
// strictly as encoding/json's json.Valid), which refuses duplicate member
// names (RFC 7515 §4, RFC 7519 §4): a reader that keeps the first value
// and one that keeps the last would otherwise disagree on what the token
// says. The strings read share the decoded bytes, which nothing changes. Member names
// compare exactly (names are case-sensitive). Signatures are checked by
// golang-jwt's signing methods (validator.go), exp, nbf and iat by the
// payload (payload.go).

// jwsToken is a compact JWS, decoded but not verified.
type jwsToken struct {
	header       joseHeader
	claims       payload
	signingInput string // header.payload, as received
	signature    []byte
	method       jwt.SigningMethod // of the header's "alg"; never nil
}

// joseHeader holds what bearerguard reads of a JOSE header (RFC 7515 §4).
type joseHeader struct {
	alg    string
	algOK  bool // "alg" is present and a string
	kid    string
	kidSet bool // "kid" is present, whatever its value
	kidOK  bool // "kid" is a string
	typ    string
	typSet bool // "typ" is present and not null
	typOK  bool // "typ" is a string
	crit   bool // "crit" is present, whatever its value
	enc    bool // "enc" is present, whatever its value
}

// b64 is the base64url decoding of RFC 7515 §2: no padding, no other
// alphabet, no non-zero trailing bits.
var b64 = base64.RawURLEncoding.Strict()

var errSegment = errors.New("segment is not base64url without padding")

// parseToken decodes raw, a compact JWS: its shape, the header, the
// payload, the header's algorithm, then the signature, in that order, so
// that a token with several faults reports the first. A payload of JSON
// null leaves the claims without a raw payload, for checkHeader to refuse
// once the algorithm is known to be allowed. Errors are *Error.
func parseToken(raw string, t *jwsToken) error {
	if !compactJWS(raw) {
		return invalidToken(ErrMalformedToken, nil)
	}
	i := strings.IndexByte(raw, '.')
	j := i + 1 + strings.IndexByte(raw[i+1:], '.')
	hseg, pseg, sseg := raw[:i], raw[i+1:j], raw[j+1:]
	t.signingInput = raw[:j]

	// The header and the signature are only read here: one buffer. The
	// payload is kept by the claims: a buffer of its own.
	hlen := b64.DecodedLen(len(hseg))
	buf := make([]byte, hlen+b64.DecodedLen(len(sseg)))
	hb, err := decodeSegment(buf, hseg)
	if err != nil {
		return invalidToken(ErrMalformedToken, err)
	}
	if err := t.header.decode(hb); err != nil {
		return invalidToken(ErrMalformedToken, err)
	}
	pb, err := decodeSegment(make([]byte, b64.DecodedLen(len(pseg))), pseg)
	if err != nil {
		return invalidToken(ErrMalformedToken, err)
	}
	if !jsonscan.IsNull(pb) {
		if err := t.claims.decode(pb); err != nil {
			return invalidToken(ErrMalformedToken, err)
		}
	}
	if t.header.algOK {
		t.method = jwt.GetSigningMethod(t.header.alg)
	}
	if t.method == nil {
		return invalidToken(ErrUnsupportedAlgorithm, jwt.ErrTokenUnverifiable)
	}
	if t.signature, err = decodeSegment(buf[hlen:], sseg); err != nil {
		return invalidToken(ErrMalformedToken, err)
	}
	return nil
}

// decodeSegment decodes the base64url segment seg into buf, which must be
// large enough.
func decodeSegment(buf []byte, seg string) ([]byte, error) {
	n, err := b64.Decode(buf, []byte(seg))
	if err != nil {
		return nil, errSegment
	}
	return buf[:n], nil
}

// decode reads the JOSE header b. JSON null reads as an empty header, as
// golang-jwt decodes null into its header map: it has no "alg".
func (h *joseHeader) decode(b []byte) error {
	if jsonscan.IsNull(b) {
		return nil
	}
	return jsonscan.Object(b, func(name string, v []byte) error {
		var err error
		switch name {
		case "alg":
			if v[0] == '"' {
				h.alg, err = jsonscan.SharedString(v)
				h.algOK = err == nil
			}
		case "kid":
			h.kidSet = true
			if v[0] == '"' {
				h.kid, err = jsonscan.SharedString(v)
				h.kidOK = err == nil
			}
		case "typ":
			h.typSet = v[0] != 'n'
			if v[0] == '"' {
				h.typ, err = jsonscan.SharedString(v)
				h.typOK = err == nil
			}
		case "crit":
			h.crit = true
		case "enc":
			h.enc = true
		}
		return err
	})
}

// checkHeader applies the rules of the header that need no key: the
// algorithm is one of algs, no critical extension (RFC 7515 §4.1.11) is
// asked for, the token is not a JWE, the payload is a claims set (RFC 7519
// §7.2), and a "kid" is a string.
func (t *jwsToken) checkHeader(algs map[string]bool) error {
	h := &t.header
	switch {
	case !algs[h.alg]:
		return invalidToken(ErrUnsupportedAlgorithm, nil)
	case h.crit:
		return invalidToken(ErrUnsupportedCritical, nil)
	case h.enc:
		return invalidToken(ErrMalformedToken, nil)
	case t.claims.raw == nil:
		// The payload was JSON null, which leaves the claims without a
		// raw payload: not a JWT Claims Set.
		return invalidToken(ErrMalformedToken, nil)
	case h.kidSet && !h.kidOK:
		return invalidToken(ErrMalformedToken, nil)
	}
	return nil
}

// checkType tells access tokens from ID tokens and other JWTs (RFC 9068
// §2.1 and §4, RFC 8725 §3.11). With requireAccessTokenType, only a header
// "typ" of at+jwt declares an access token. Whether the token is bound to
// a key is not decided here (see binding.go).
func (t *jwsToken) checkType(requireAccessTokenType bool) error {
	h := &t.header
	if h.typSet {
		if !h.typOK {
			return invalidToken(ErrMalformedToken, nil)
		}
		mt := strings.ToLower(h.typ)
		mt = strings.TrimPrefix(mt, "application/")
		switch mt {
		case "at+jwt":
			// An access token by declaration; still refuse ID-token claims.
		case "jwt":
			if requireAccessTokenType {
				return invalidToken(ErrNotAccessToken, nil)
			}
		default:
			return invalidToken(ErrNotAccessToken, nil)
		}
	} else if requireAccessTokenType {
		return invalidToken(ErrNotAccessToken, nil)
	}
	if t.claims.idTokenSignal() {
		return invalidToken(ErrNotAccessToken, nil)
	}
	return nil
}

// compactJWS reports whether token has the shape of an RFC 7515 §7.1 compact
// JWS: three non-empty base64url segments without padding. JWE (five
// segments) and anything else is refused before parsing.
func compactJWS(token string) bool {
	i := strings.IndexByte(token, '.')
	if i <= 0 {
		return false // no dot, or an empty header
	}
	j := strings.IndexByte(token[i+1:], '.')
	if j <= 0 {
		return false // one dot, or an empty payload
	}
	j += i + 1
	if j == len(token)-1 || strings.IndexByte(token[j+1:], '.') >= 0 {
		return false // an empty signature, or more segments
	}
	return allOf(token, &notBase64urlOrDot)
}

// notBase64urlOrDot marks the bytes outside the base64url alphabet (RFC
// 4648 §5) and ".".
var notBase64urlOrDot = func() (t [256]uint8) {
	for c := range 256 {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			t[c] = 1
		}
	}
	return t
}()

// allOf reports whether no byte of s is marked in not. Tokens are scanned
// on every request, cached or not: eight bytes a step, without branches.
func allOf(s string, not *[256]uint8) bool {
	var bad uint8
	for len(s) >= 8 {
		bad |= not[s[0]] | not[s[1]] | not[s[2]] | not[s[3]] |
			not[s[4]] | not[s[5]] | not[s[6]] | not[s[7]]
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		bad |= not[s[i]]
	}
	return bad == 0
}
