package middleware

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// This file decodes a compact JWS (RFC 7515 §7.1) once, on the request
// path. golang-jwt's Parser decodes the JOSE header into a map[string]any
// and hands the payload to encoding/json, which scans it once more for each
// custom UnmarshalJSON; that was most of the cost of a request besides the
// signature check.
//
// Here each segment is base64url-decoded once, each JSON document is checked
// by encoding/json's own scanner (json.Valid: syntax, nesting limit), and
// its top-level members are then walked: member names compare exactly
// (RFC 7515 §4, RFC 7519 §4: names are case-sensitive) and the last of
// duplicate names wins, as with a map. Values that are plain ASCII strings
// without escapes, numbers and null are read directly; any other value of
// a claim bearerguard reads (escapes, non-ASCII text, the "cnf" object) is
// decoded by encoding/json itself, so the results are encoding/json's.
// Signatures are still checked by golang-jwt's signing methods and exp, nbf
// and iat by golang-jwt's Validator.

// b64 is the base64url decoding of RFC 7515 §2: no padding, no other
// alphabet, no non-zero trailing bits.
var b64 = base64.RawURLEncoding.Strict()

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

var (
	errSegment   = errors.New("segment is not base64url without padding")
	errNotJSON   = errors.New("not a JSON document")
	errNotObject = errors.New("not a JSON object")
	errClaimType = errors.New("claim of the wrong JSON type")
)

// decodeSegment decodes one base64url segment into a new buffer.
func decodeSegment(seg string) ([]byte, error) {
	buf := make([]byte, b64.DecodedLen(len(seg)))
	n, err := b64.Decode(buf, []byte(seg))
	if err != nil {
		return nil, errSegment
	}
	return buf[:n], nil
}

// decodeSegmentInto decodes seg into buf, which must be large enough.
func decodeSegmentInto(buf []byte, seg string) ([]byte, error) {
	n, err := b64.Decode(buf, []byte(seg))
	if err != nil {
		return nil, errSegment
	}
	return buf[:n], nil
}

// parseHeader reads a JOSE header. A JSON null reads as an empty header, as
// when golang-jwt decodes null into its header map.
func parseHeader(b []byte) (joseHeader, error) {
	var h joseHeader
	if !json.Valid(b) {
		return h, errNotJSON
	}
	r := objectReader{b: b, i: skipSpace(b, 0)}
	switch b[r.i] {
	case '{':
	case 'n':
		return h, nil
	default:
		return h, errNotObject
	}
	for {
		name, value, ok := r.next()
		if !ok {
			return h, nil
		}
		n, plain := memberName(name)
		if !plain {
			s, err := jsonString(name)
			if err != nil {
				return h, err
			}
			n = []byte(s)
		}
		switch string(n) {
		case "alg":
			h.alg, h.algOK = "", false
			if value[0] == '"' {
				s, err := commonString(value)
				if err != nil {
					return h, err
				}
				h.alg, h.algOK = s, true
			}
		case "kid":
			h.kid, h.kidSet, h.kidOK = "", true, false
			if value[0] == '"' {
				s, err := jsonString(value)
				if err != nil {
					return h, err
				}
				h.kid, h.kidOK = s, true
			}
		case "typ":
			h.typ, h.typSet, h.typOK = "", value[0] != 'n', false
			if value[0] == '"' {
				s, err := commonString(value)
				if err != nil {
					return h, err
				}
				h.typ, h.typOK = s, true
			}
		case "crit":
			h.crit = true
		case "enc":
			h.enc = true
		}
	}
}

// decode reads the claims of the JSON object b into p, keeping b as the
// raw payload: the caller hands b over. It closes two gaps between
// encoding/json and RFC 7519. Claim names are case-sensitive (RFC 7519 §4),
// but encoding/json matches struct fields case-insensitively, so that
// "Scope" or "ISS" would be read as "scope" or "iss": a member whose name
// folds to, without being, a claim name the payload reads is refused. And a
// NumericDate is a JSON number (RFC 7519 §2), which jwt.NumericDate also
// takes from a string and converts with overflow: exp, nbf and iat must be
// numbers (or null) of a time between the years 1 and 9999.
func (p *payload) decode(b []byte) error {
	if !json.Valid(b) {
		return errNotJSON
	}
	r := objectReader{b: b, i: skipSpace(b, 0)}
	if b[r.i] != '{' {
		return errPayloadNotObject
	}
	for {
		name, value, ok := r.next()
		if !ok {
			break
		}
		n, plain := memberName(name)
		var decoded string
		if !plain {
			s, err := jsonString(name)
			if err != nil {
				return err
			}
			decoded = s
		}
		var set func(p *payload, v []byte) error
		if plain {
			set = payloadClaims[string(n)]
		} else {
			set = payloadClaims[decoded]
		}
		if set != nil {
			if err := set(p, value); err != nil {
				return err
			}
			continue
		}
		if plain {
			if foldsToClaim(string(n), true) {
				return errClaimNameCase
			}
		} else if foldsToClaim(decoded, false) {
			return errClaimNameCase
		}
	}
	p.raw = b
	return nil
}

// payloadClaims are the claims payload reads, each with its decoder, which
// follows encoding/json for the field's type.
var payloadClaims = map[string]func(p *payload, v []byte) error{
	"iss":   func(p *payload, v []byte) error { return setString(&p.Iss, v) },
	"sub":   func(p *payload, v []byte) error { return setString(&p.Sub, v) },
	"aud":   func(p *payload, v []byte) error { return setList(&p.Aud, v) },
	"exp":   func(p *payload, v []byte) error { return setDate(&p.Exp, v) },
	"nbf":   func(p *payload, v []byte) error { return setDate(&p.Nbf, v) },
	"iat":   func(p *payload, v []byte) error { return setDate(&p.Iat, v) },
	"jti":   func(p *payload, v []byte) error { return setString(&p.Jti, v) },
	"scope": setScope,
	"scp": func(p *payload, v []byte) error {
		if v[0] == '"' || v[0] == '[' {
			p.scpString = v[0] == '"'
		}
		return setList(&p.Scp, v)
	},
	"client_id": func(p *payload, v []byte) error { return setString(&p.ClientID, v) },
	"azp":       func(p *payload, v []byte) error { return setString(&p.Azp, v) },
	"cid":       func(p *payload, v []byte) error { return setString(&p.Cid, v) },
	"appid":     func(p *payload, v []byte) error { return setString(&p.Appid, v) },
	"gty":       func(p *payload, v []byte) error { return setList(&p.Gty, v) },
	"idtyp":     func(p *payload, v []byte) error { return setString(&p.Idtyp, v) },
	"typ":       func(p *payload, v []byte) error { p.Typ = v; return nil },
	"token_use": func(p *payload, v []byte) error { p.TokenUse = v; return nil },
	"nonce":     func(p *payload, v []byte) error { p.Nonce = v; return nil },
	"at_hash":   func(p *payload, v []byte) error { p.AtHash = v; return nil },
	"c_hash":    func(p *payload, v []byte) error { p.CHash = v; return nil },
	"cnf":       func(p *payload, v []byte) error { return json.Unmarshal(v, &p.Cnf) },
}

// setString is encoding/json into a string field: null keeps the value.
func setString(dst *string, v []byte) error {
	switch v[0] {
	case '"':
		s, err := jsonString(v)
		if err != nil {
			return err
		}
		*dst = s
	case 'n':
	default:
		return errClaimType
	}
	return nil
}

// setScope is encoding/json into the *string "scope": null sets nil.
func setScope(p *payload, v []byte) error {
	switch v[0] {
	case '"':
		s, err := jsonString(v)
		if err != nil {
			return err
		}
		p.Scope = &s
	case 'n':
		p.Scope = nil
	default:
		return errClaimType
	}
	return nil
}

// setList is stringList.UnmarshalJSON: a string, an array of strings (a
// null element reads as ""), or null, which keeps the value.
func setList(dst *stringList, v []byte) error {
	switch v[0] {
	case '"':
		s, err := jsonString(v)
		if err != nil {
			return err
		}
		*dst = stringList{s}
	case '[':
		list := make([]string, 0, 1)
		r := arrayReader{b: v, i: 1}
		for {
			e, ok := r.next()
			if !ok {
				break
			}
			switch e[0] {
			case '"':
				s, err := jsonString(e)
				if err != nil {
					return err
				}
				list = append(list, s)
			case 'n':
				list = append(list, "")
			default:
				return errNotStringOrArray
			}
		}
		*dst = list
	case 'n':
	default:
		return errNotStringOrArray
	}
	return nil
}

// setDate reads a NumericDate (RFC 7519 §2): a JSON number of a time
// between the years 1 and 9999, converted as jwt.NumericDate does (to
// jwt.TimePrecision, truncating); null sets nil.
func setDate(dst **jwt.NumericDate, v []byte) error {
	switch c := v[0]; {
	case c == 'n':
		*dst = nil
		return nil
	case c != '-' && (c < '0' || c > '9'):
		return errNumericDate
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || f < minNumericDate || f > maxNumericDate {
		return errNumericDate
	}
	round, frac := math.Modf(f)
	*dst = jwt.NewNumericDate(time.Unix(int64(round), int64(frac*1e9)))
	return nil
}

// foldsToClaim reports whether name equals a claim payload reads under
// Unicode case folding without being it: encoding/json would have read it
// as that claim. An ASCII name can only fold to a name of its length.
func foldsToClaim(name string, ascii bool) bool {
	for _, known := range claimNames {
		if ascii && len(name) != len(known) {
			continue
		}
		if name != known && strings.EqualFold(name, known) {
			return true
		}
	}
	return false
}

// jsonString decodes the JSON string literal v (quotes included). Plain
// ASCII without escapes is copied; anything else is decoded by
// encoding/json (escapes, surrogates, invalid UTF-8 replaced by U+FFFD).
func jsonString(v []byte) (string, error) {
	s := v[1 : len(v)-1]
	for _, c := range s {
		if c == '\\' || c >= 0x80 {
			var out string
			err := json.Unmarshal(v, &out)
			return out, err
		}
	}
	return string(s), nil
}

// commonHeaderValues are "alg" and "typ" values that parseHeader returns
// without allocating.
var commonHeaderValues = func() map[string]string {
	m := map[string]string{}
	for _, list := range [][]string{supportedAlgorithms[:], {"HS256", "HS384", "HS512", "none",
		"at+jwt", "application/at+jwt", "JWT", "jwt", "application/jwt"}} {
		for _, v := range list {
			m[v] = v
		}
	}
	return m
}()

// commonString is jsonString, without allocating for the values of
// commonHeaderValues.
func commonString(v []byte) (string, error) {
	if s, ok := commonHeaderValues[string(v[1:len(v)-1])]; ok {
		return s, nil // plain ASCII: no escapes in these values
	}
	return jsonString(v)
}

// memberName returns the text between the quotes of a member name, and
// whether it is plain ASCII without escapes (else use jsonString).
func memberName(v []byte) ([]byte, bool) {
	s := v[1 : len(v)-1]
	for _, c := range s {
		if c == '\\' || c >= 0x80 {
			return s, false
		}
	}
	return s, true
}

// objectReader walks the members of a JSON object that json.Valid accepted.
type objectReader struct {
	b []byte
	i int // at '{' before the first call, then after the last value
}

// next returns the next member's name (with its quotes) and raw value.
func (r *objectReader) next() (name, value []byte, ok bool) {
	b := r.b
	if b[r.i] == '}' {
		return nil, nil, false
	}
	i := skipSpace(b, r.i+1) // past '{' or ','
	if b[i] == '}' {
		return nil, nil, false
	}
	end := skipString(b, i)
	name = b[i:end]
	i = skipSpace(b, end)
	i = skipSpace(b, i+1) // past ':'
	end = skipValue(b, i)
	value = b[i:end]
	r.i = skipSpace(b, end) // at ',' or '}'
	return name, value, true
}

// arrayReader walks the elements of a JSON array that json.Valid accepted.
type arrayReader struct {
	b []byte
	i int // after '[' or ','
}

func (r *arrayReader) next() ([]byte, bool) {
	b := r.b
	i := skipSpace(b, r.i)
	if b[i] == ']' {
		return nil, false
	}
	end := skipValue(b, i)
	r.i = skipSpace(b, end) + 1 // past ',' (or ']': then the next call ends)
	if b[r.i-1] == ']' {
		r.i--
	}
	return b[i:end], true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string literal at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the JSON value at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	// A number, true, false or null.
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// jwsToken is a decoded compact JWS.
type jwsToken struct {
	header       joseHeader
	claims       payload
	signingInput string
	signature    []byte
	method       jwt.SigningMethod
}

// parseToken decodes a compact JWS (RFC 7515 §7.1).
func parseToken(token string) (*jwsToken, error) {
	if !compactJWS(token) {
		return nil, invalidToken(ErrMalformedToken, nil)
	}
	t := &jwsToken{}
	p := &t.claims
	i := strings.IndexByte(token, '.')
	j := i + 1 + strings.IndexByte(token[i+1:], '.')
	hseg, pseg, sseg := token[:i], token[i+1:j], token[j+1:]

	hlen := b64.DecodedLen(len(hseg))
	buf := make([]byte, hlen+b64.DecodedLen(len(sseg)))
	hb, err := decodeSegmentInto(buf, hseg)
	if err != nil {
		return nil, invalidToken(ErrMalformedToken, err)
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, invalidToken(ErrMalformedToken, err)
	}
	t.header = h
	pb, err := decodeSegment(pseg)
	if err != nil {
		return nil, invalidToken(ErrMalformedToken, err)
	}
	if !jsonNull(pb) {
		if err := p.decode(pb); err != nil {
			return nil, invalidToken(ErrMalformedToken, err)
		}
	}
	if h.algOK {
		t.method = jwt.GetSigningMethod(h.alg)
	}
	if t.method == nil {
		return nil, invalidToken(ErrUnsupportedAlgorithm, jwt.ErrTokenUnverifiable)
	}
	t.signature, err = decodeSegmentInto(buf[hlen:], sseg)
	if err != nil {
		return nil, invalidToken(ErrMalformedToken, err)
	}
	t.signingInput = token[:j]
	return t, nil
}

// checkHeader applies the header rules before any key is looked up.
func (t *jwsToken) checkHeader(algs map[string]bool) error {
	h, p := &t.header, &t.claims
	if !algs[h.alg] {
		return invalidToken(ErrUnsupportedAlgorithm, nil)
	}
	if h.crit {
		return invalidToken(ErrUnsupportedCritical, nil)
	}
	if h.enc {
		return invalidToken(ErrMalformedToken, nil)
	}
	if p.raw == nil {
		return invalidToken(ErrMalformedToken, nil)
	}
	if h.kidSet && !h.kidOK {
		return invalidToken(ErrMalformedToken, nil)
	}
	return nil
}

// checkType tells access tokens from ID tokens and other JWTs (RFC 9068
// §2.1 and §4, RFC 8725 §3.11).
func (t *jwsToken) checkType(requireAccessTokenType bool) error {
	h, p := &t.header, &t.claims
	if h.typSet {
		if !h.typOK {
			return invalidToken(ErrMalformedToken, nil)
		}
		mt := strings.ToLower(h.typ)
		mt = strings.TrimPrefix(mt, "application/")
		switch mt {
		case "at+jwt":
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
	if p.idTokenSignal() {
		return invalidToken(ErrNotAccessToken, nil)
	}
	return nil
}

// jsonNull reports whether b is the JSON document null.
func jsonNull(b []byte) bool {
	i := skipSpace(b, 0)
	return len(b) >= i+4 && string(b[i:i+4]) == "null" && skipSpace(b, i+4) == len(b)
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
