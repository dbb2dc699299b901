package middleware

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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
	for _, list := range [][]string{DefaultAlgorithms, {"HS256", "HS384", "HS512", "none",
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

// parseAndVerify decodes token (already checked by compactJWS) into p and
// verifies it: header rules, key, signature, then exp, nbf and iat. The
// order of the checks, and so the error reported for a token with several
// faults, is golang-jwt's Parser.ParseWithClaims with bearerguard's
// keyfunc. It returns the issuer's keys and the token's kid.
func (v *Validator) parseAndVerify(ctx context.Context, token string, p *payload) (*issuerKeys, string, error) {
	i := strings.IndexByte(token, '.')
	j := i + 1 + strings.IndexByte(token[i+1:], '.')
	hseg, pseg, sseg := token[:i], token[i+1:j], token[j+1:]

	// The header and the signature are only read here: one buffer.
	hlen := b64.DecodedLen(len(hseg))
	buf := make([]byte, hlen+b64.DecodedLen(len(sseg)))
	hb, err := decodeSegmentInto(buf, hseg)
	if err != nil {
		return nil, "", invalidToken(ErrMalformedToken, err)
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, "", invalidToken(ErrMalformedToken, err)
	}
	pb, err := decodeSegment(pseg)
	if err != nil {
		return nil, "", invalidToken(ErrMalformedToken, err)
	}
	// JSON null leaves p empty, without raw payload: checkHeader refuses it.
	if !jsonNull(pb) {
		if err := p.decode(pb); err != nil {
			return nil, "", invalidToken(ErrMalformedToken, err)
		}
	}
	var method jwt.SigningMethod
	if h.algOK {
		method = jwt.GetSigningMethod(h.alg)
	}
	if method == nil {
		return nil, "", invalidToken(ErrUnsupportedAlgorithm, jwt.ErrTokenUnverifiable)
	}
	sig, err := decodeSegmentInto(buf[hlen:], sseg)
	if err != nil {
		return nil, "", invalidToken(ErrMalformedToken, err)
	}

	ik, kid, err := v.checkHeader(&h, p)
	if err != nil {
		return nil, "", err
	}
	key, err := ik.keyFor(ctx, &h, method)
	if err != nil {
		return nil, "", err
	}
	signingInput := token[:j]
	switch k := key.(type) {
	case jwt.VerificationKeySet:
		if len(k.Keys) == 0 {
			return nil, "", invalidToken(ErrUnsupportedAlgorithm, jwt.ErrTokenUnverifiable)
		}
		for _, key := range k.Keys {
			if err = method.Verify(signingInput, sig, key); err == nil {
				break
			}
		}
	default:
		err = method.Verify(signingInput, sig, key)
	}
	if err != nil {
		return nil, "", invalidToken(ErrInvalidSignature, fmt.Errorf("%w: %w", jwt.ErrTokenSignatureInvalid, err))
	}
	if err := v.times.Validate(p); err != nil {
		return nil, "", timeError(fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err))
	}
	return ik, kid, nil
}

// jsonNull reports whether b is the JSON document null.
func jsonNull(b []byte) bool {
	i := skipSpace(b, 0)
	return len(b) >= i+4 && string(b[i:i+4]) == "null" && skipSpace(b, i+4) == len(b)
}
