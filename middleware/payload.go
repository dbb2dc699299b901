package middleware

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/internal/jsonscan"
	"github.com/bearerguard/bearerguard/scopes"
)

// payload is the token's claim set, decoded once by decode (each claim
// through its entry of payloadClaims) into typed fields.
type payload struct {
	Iss      string
	Sub      string
	Aud      stringList
	Exp      numericDate
	Nbf      numericDate
	Iat      numericDate
	Jti      string
	Acr      string
	AuthTime numericDate
	Scope    optionalString
	Scp      stringList

	scpString bool // "scp" was a JSON string, not an array
	issSet    bool // "iss" is present (null or "" too)

	ClientID string
	Azp      string
	Cid      string
	Appid    string

	Gty   stringList
	Idtyp string

	// ID-token and token-kind signals, raw.
	Typ      json.RawMessage
	TokenUse json.RawMessage
	Nonce    json.RawMessage
	AtHash   json.RawMessage
	CHash    json.RawMessage
	Cnf      *confirmation

	raw []byte // the whole claims set; nil for a payload of JSON null
}

// payloadClaims are the claims payload reads: the claim's name, and how
// its JSON value is decoded into which field. Adding a claim is adding a
// field and its entry here; decode and the refusal of names that differ
// from these only in case follow.
var payloadClaims = [...]struct {
	name string
	read func(p *payload, v []byte) error
}{
	{"iss", readIss},
	{"sub", into(func(p *payload) *string { return &p.Sub }, readString)},
	{"aud", into(func(p *payload) *stringList { return &p.Aud }, readList)},
	{"exp", into(func(p *payload) *numericDate { return &p.Exp }, readDate)},
	{"nbf", into(func(p *payload) *numericDate { return &p.Nbf }, readDate)},
	{"iat", into(func(p *payload) *numericDate { return &p.Iat }, readDate)},
	{"jti", into(func(p *payload) *string { return &p.Jti }, readString)},
	{"acr", into(func(p *payload) *string { return &p.Acr }, readString)},
	{"auth_time", into(func(p *payload) *numericDate { return &p.AuthTime }, readDate)},
	{"scope", into(func(p *payload) *optionalString { return &p.Scope }, readOptionalString)},
	{"scp", readScp},
	{"client_id", into(func(p *payload) *string { return &p.ClientID }, readString)},
	{"azp", into(func(p *payload) *string { return &p.Azp }, readString)},
	{"cid", into(func(p *payload) *string { return &p.Cid }, readString)},
	{"appid", into(func(p *payload) *string { return &p.Appid }, readString)},
	{"gty", into(func(p *payload) *stringList { return &p.Gty }, readList)},
	{"idtyp", into(func(p *payload) *string { return &p.Idtyp }, readString)},
	{"typ", into(func(p *payload) *json.RawMessage { return &p.Typ }, readRaw)},
	{"token_use", into(func(p *payload) *json.RawMessage { return &p.TokenUse }, readRaw)},
	{"nonce", into(func(p *payload) *json.RawMessage { return &p.Nonce }, readRaw)},
	{"at_hash", into(func(p *payload) *json.RawMessage { return &p.AtHash }, readRaw)},
	{"c_hash", into(func(p *payload) *json.RawMessage { return &p.CHash }, readRaw)},
	{"cnf", into(func(p *payload) **confirmation { return &p.Cnf }, readConfirmation)},
}

// claimReaders indexes payloadClaims by name.
var claimReaders = func() map[string]func(p *payload, v []byte) error {
	m := make(map[string]func(p *payload, v []byte) error, len(payloadClaims))
	for _, c := range payloadClaims {
		m[c.name] = c.read
	}
	return m
}()

// into makes the reader of a claim: decode its value into field(p).
func into[T any](field func(p *payload) *T, decode func(dst *T, v []byte) error) func(p *payload, v []byte) error {
	return func(p *payload, v []byte) error { return decode(field(p), v) }
}

// decode reads the claims set b into p and keeps b as the raw payload: the
// caller hands b over. Member names must be unique (RFC 7519 §4). It closes
// two gaps between encoding/json and RFC 7519. Claim names are
// case-sensitive, but encoding/json matches struct fields
// case-insensitively, so that "Scope" or "ISS" would be read as "scope" or
// "iss" by an application decoding the claims: a member whose name folds
// to, without being, a claim name the payload reads is refused. And a
// NumericDate is a JSON number (RFC 7519 §2), which jwt.NumericDate also
// takes from a string and converts with overflow: exp, nbf and iat must be
// numbers (or null) of a time between the years 1 and 9999.
func (p *payload) decode(b []byte) error {
	err := jsonscan.Object(b, func(name string, v []byte) error {
		if read := claimReaders[name]; read != nil {
			return read(p, v)
		}
		if foldsToClaim(name) {
			return errClaimNameCase
		}
		return nil
	})
	if err == jsonscan.ErrNotObject {
		return errPayloadNotObject
	}
	if err != nil {
		return err
	}
	p.raw = b
	return nil
}

// foldsToClaim reports whether name equals a claim payload reads under
// Unicode case folding without being it: encoding/json would read it as
// that claim. An ASCII name can only fold to a name of its length.
func foldsToClaim(name string) bool {
	ascii := true
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			ascii = false
			break
		}
	}
	for _, c := range payloadClaims {
		if ascii && len(name) != len(c.name) {
			continue
		}
		if name != c.name && strings.EqualFold(name, c.name) {
			return true
		}
	}
	return false
}

// readString is encoding/json into a string: null keeps the value.
func readString(dst *string, v []byte) error {
	switch v[0] {
	case '"':
		s, err := jsonscan.String(v)
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

// optionalString is a string claim that may be absent or null.
type optionalString struct {
	s   string
	set bool
}

// readOptionalString is encoding/json into a *string: null unsets it.
func readOptionalString(dst *optionalString, v []byte) error {
	if v[0] == 'n' {
		*dst = optionalString{}
		return nil
	}
	var s string
	if err := readString(&s, v); err != nil {
		return err
	}
	*dst = optionalString{s, true}
	return nil
}

// readList reads a string or an array of strings (RFC 7519 §4.1.3; a null
// element reads as ""), or null, which keeps the value.
func readList(dst *stringList, v []byte) error {
	switch v[0] {
	case '"':
		s, err := jsonscan.String(v)
		if err != nil {
			return err
		}
		*dst = stringList{s}
	case '[':
		list := make([]string, 0, 1)
		err := jsonscan.Array(v, func(e []byte) error {
			switch e[0] {
			case '"':
				s, err := jsonscan.String(e)
				if err != nil {
					return err
				}
				list = append(list, s)
			case 'n':
				list = append(list, "")
			default:
				return errNotStringOrArray
			}
			return nil
		})
		if err != nil {
			return err
		}
		*dst = list
	case 'n':
	default:
		return errNotStringOrArray
	}
	return nil
}

// readIss reads "iss", noting that it is present: an introspection answer
// without it is the introspected issuer's, one with it, even "" or null,
// must name that issuer.
func readIss(p *payload, v []byte) error {
	p.issSet = true
	return readString(&p.Iss, v)
}

// readScp reads "scp", noting whether it was a string (Entra ID) or an
// array (Okta).
func readScp(p *payload, v []byte) error {
	if v[0] == '"' || v[0] == '[' {
		p.scpString = v[0] == '"'
	}
	return readList(&p.Scp, v)
}

// numericDate is a NumericDate claim (RFC 7519 §2).
type numericDate struct {
	time.Time
	ok bool // present and not null (0001-01-01 is a valid NumericDate)
}

// set reports whether the claim is present.
func (d numericDate) set() bool { return d.ok }

// readDate reads a NumericDate (RFC 7519 §2): a JSON number of a time
// between the years 1 and 9999, truncated to the second; null unsets it.
func readDate(dst *numericDate, v []byte) error {
	switch c := v[0]; {
	case c == 'n':
		*dst = numericDate{}
		return nil
	case c != '-' && (c < '0' || c > '9'):
		return errNumericDate
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || f < minNumericDate || f > maxNumericDate {
		return errNumericDate
	}
	round, frac := math.Modf(f)
	*dst = numericDate{time.Unix(int64(round), int64(frac*1e9)).Truncate(time.Second), true}
	return nil
}

// readRaw keeps the value as it is, a slice of the raw payload.
func readRaw(dst *json.RawMessage, v []byte) error {
	*dst = v
	return nil
}

// readConfirmation reads the "cnf" claim (RFC 7800 §3.1): a JSON object,
// anything else (null too) refused, whose member names are matched exactly
// and unique. The members bearerguard can check are kept; any other one
// ("jwk", "jwe", "jku", "kid", "JKT", one not yet registered) is noted, for
// checkBinding to refuse the token: a confirmation it cannot check is one
// it cannot accept.
func readConfirmation(dst **confirmation, v []byte) error {
	if v[0] != '{' {
		return errConfirmationType
	}
	c := &confirmation{}
	err := jsonscan.Object(v, func(name string, m []byte) error {
		switch name {
		case "jkt":
			c.JKT = m
		case "x5t#S256":
			c.X5TS256 = m
		default:
			c.unchecked = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	*dst = c
	return nil
}

// confirmation is the RFC 7800 "cnf" claim.
type confirmation struct {
	JKT     json.RawMessage // "jkt", RFC 9449 §6.1
	X5TS256 json.RawMessage // "x5t#S256", RFC 8705 §3.1

	unchecked bool // a member other than these
}

// checkable reports whether c confirms possession in a way bearerguard
// checks, and in no other way: "jkt", "x5t#S256" or both, and nothing else.
func (c *confirmation) checkable() bool {
	return !c.unchecked && (len(c.JKT) > 0 || len(c.X5TS256) > 0)
}

var (
	errPayloadNotObject = errors.New("payload is not a JSON object")
	errClaimType        = errors.New("claim of the wrong JSON type")
	errClaimNameCase    = errors.New("claim name differs only in case from a registered one")
	errNumericDate      = errors.New("NumericDate is not a JSON number of a representable time")
	errNotStringOrArray = errors.New("claim is neither a string nor an array of strings")
	errConfirmationType = errors.New(`"cnf" is not a JSON object`)
)

// NumericDate bounds: 0001-01-01 and 9999-12-31T23:59:59Z.
const (
	minNumericDate = -62135596800
	maxNumericDate = 253402300799
)

// expRule says whether a token must have an exp: a JWT must (RFC 9068
// §2.2), an introspection answer need not (RFC 7662 §2.2).
type expRule bool

const (
	expRequired expRule = true
	expOptional expRule = false
)

// checkTimes checks exp (required or not by exp), iat and nbf at now with
// leeway of clock skew (RFC 7519 §4.1.4-§4.1.6): a token is valid while
// now is before exp+leeway, and from nbf-leeway and iat-leeway on.
func (p *payload) checkTimes(now time.Time, leeway time.Duration, exp expRule) error {
	if p.Exp.set() || exp == expRequired {
		if !p.Exp.set() || !now.Before(p.Exp.Add(leeway)) {
			return invalidToken(ErrTokenExpired, nil)
		}
	}
	if p.Iat.set() && now.Add(leeway).Before(p.Iat.Time) {
		return invalidToken(ErrTokenNotYetValid, nil)
	}
	if p.Nbf.set() && now.Add(leeway).Before(p.Nbf.Time) {
		return invalidToken(ErrTokenNotYetValid, nil)
	}
	return nil
}

func (p *payload) clientID() string {
	switch {
	case p.ClientID != "":
		return p.ClientID
	case p.Azp != "":
		return p.Azp
	case p.Cid != "":
		return p.Cid
	}
	return p.Appid
}

// idTokenSignal reports whether the claims mark an OpenID Connect ID token
// rather than an access token. Keycloak marks its access tokens with a
// payload "typ" of "Bearer" (its ID tokens: "ID") and, before version 25
// or with a compatibility mapper, copies "nonce" and "at_hash" into them:
// that "typ", exactly as Keycloak spells it, outweighs those claims. An
// explicit "token_use" of "id" contradicts it and still counts.
func (p *payload) idTokenSignal() bool {
	if jsonStringEqualFold(p.TokenUse, "id") || jsonStringEqualFold(p.Typ, "ID") {
		return true
	}
	if string(p.Typ) == `"Bearer"` {
		return false
	}
	return len(p.Nonce) > 0 || len(p.AtHash) > 0 || len(p.CHash) > 0
}

func jsonStringEqualFold(raw json.RawMessage, want string) bool {
	if len(raw) < 2 || raw[0] != '"' {
		return false
	}
	s, err := jsonscan.String(raw)
	return err == nil && strings.EqualFold(s, want)
}

// machine reports whether the token was issued through client_credentials.
func (p *payload) machine(clientID string) bool {
	for _, g := range p.Gty {
		if g == "client-credentials" || g == "client_credentials" {
			return true
		}
	}
	return p.Idtyp == "app" || (p.Sub != "" && p.Sub == clientID)
}

// claims builds the public claims. scopeClaims lists where scopes are read.
func (p *payload) claims(scopeClaims []string) (*claims.Claims, error) {
	c := &claims.Claims{
		Issuer:   p.Iss,
		Subject:  p.Sub,
		Audience: p.Aud,
		ID:       p.Jti,
		ACR:      p.Acr,
		AuthTime: p.AuthTime.Time,
		ClientID: p.clientID(),
		Payload:  p.raw,
	}
	c.ExpiresAt, c.NotBefore, c.IssuedAt = p.Exp.Time, p.Nbf.Time, p.Iat.Time
	c.Machine = p.machine(c.ClientID)
	var generic map[string]any
	for _, name := range scopeClaims {
		switch name {
		case "scope":
			if p.Scope.set {
				c.Scopes = appendScopes(c.Scopes, scopes.Parse(p.Scope.s))
			}
		case "scp":
			c.Scopes = appendScopes(c.Scopes, scpScopes(p.Scp, p.scpString))
		default:
			if generic == nil {
				m, err := c.Map()
				if err != nil {
					return nil, err
				}
				generic = m
			}
			v, ok := claims.LookupMap(generic, name)
			if !ok {
				continue
			}
			list, ok := anyScopes(v)
			if !ok {
				return nil, errScopeClaimType
			}
			c.Scopes = appendScopes(c.Scopes, list)
		}
	}
	return c, nil
}

var errScopeClaimType = errors.New("scope claim is neither a string nor an array of strings")

func appendScopes(dst, src []string) []string {
	if len(dst) == 0 {
		return src
	}
	for _, s := range src {
		if !contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}

func anyScopes(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return scopes.Parse(v), true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			if scopes.Valid(s) {
				out = append(out, s)
			}
		}
		return out, true
	}
	return nil, false
}

// stringList is a claim of a string or an array of strings (RFC 7519
// §4.1.3).
type stringList []string

// scpScopes returns the scopes of an "scp" value: a space-delimited string
// (Entra ID) or an array of scope tokens (Okta), whose elements are never
// split.
func scpScopes(l stringList, fromString bool) []string {
	if fromString {
		if len(l) == 0 {
			return nil
		}
		return scopes.Parse(l[0])
	}
	out := make([]string, 0, len(l))
	for _, s := range l {
		if scopes.Valid(s) {
			out = append(out, s)
		}
	}
	return out
}
