package middleware

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/scopes"
	"github.com/golang-jwt/jwt/v5"
)

// payload is the token's claim set, decoded once by golang-jwt into typed
// fields. It implements jwt.Claims so golang-jwt's validator checks exp, nbf
// and iat.
type payload struct {
	Iss   string           `json:"iss"`
	Sub   string           `json:"sub"`
	Aud   stringList       `json:"aud"`
	Exp   *jwt.NumericDate `json:"exp"`
	Nbf   *jwt.NumericDate `json:"nbf"`
	Iat   *jwt.NumericDate `json:"iat"`
	Jti   string           `json:"jti"`
	Scope *string          `json:"scope"`
	Scp   stringList       `json:"scp"`

	scpString bool // "scp" was a JSON string, not an array

	ClientID string `json:"client_id"`
	Azp      string `json:"azp"`
	Cid      string `json:"cid"`
	Appid    string `json:"appid"`

	Gty   stringList `json:"gty"`
	Idtyp string     `json:"idtyp"`

	// ID-token and token-kind signals.
	Typ      json.RawMessage `json:"typ"`
	TokenUse json.RawMessage `json:"token_use"`
	Nonce    json.RawMessage `json:"nonce"`
	AtHash   json.RawMessage `json:"at_hash"`
	CHash    json.RawMessage `json:"c_hash"`
	Cnf      *confirmation   `json:"cnf"`

	raw []byte
}

// confirmation is the RFC 7800 "cnf" claim.
type confirmation struct {
	JKT     json.RawMessage `json:"jkt"`      // RFC 9449 §6.1
	X5TS256 json.RawMessage `json:"x5t#S256"` // RFC 8705 §3.1
	JWK     json.RawMessage `json:"jwk"`      // RFC 7800 §3.2
}

var errPayloadNotObject = errors.New("payload is not a JSON object")

// claimNames are the claim names the payload struct reads.
var claimNames = func() []string {
	t := reflect.TypeFor[payload]()
	var names []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}()

// NumericDate bounds: 0001-01-01 and 9999-12-31T23:59:59Z.
const (
	minNumericDate = -62135596800
	maxNumericDate = 253402300799
)

var (
	errClaimNameCase = errors.New("claim name differs only in case from a registered one")
	errNumericDate   = errors.New("NumericDate is not a JSON number of a representable time")
)

func (p *payload) GetExpirationTime() (*jwt.NumericDate, error) { return p.Exp, nil }
func (p *payload) GetNotBefore() (*jwt.NumericDate, error)      { return p.Nbf, nil }
func (p *payload) GetIssuedAt() (*jwt.NumericDate, error)       { return p.Iat, nil }
func (p *payload) GetIssuer() (string, error)                   { return p.Iss, nil }
func (p *payload) GetSubject() (string, error)                  { return p.Sub, nil }
func (p *payload) GetAudience() (jwt.ClaimStrings, error)       { return jwt.ClaimStrings(p.Aud), nil }

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
// rather than an access token.
func (p *payload) idTokenSignal() bool {
	return len(p.Nonce) > 0 || len(p.AtHash) > 0 || len(p.CHash) > 0 ||
		jsonStringEqualFold(p.Typ, "ID") || jsonStringEqualFold(p.TokenUse, "id")
}

// bound reports whether the token is bound to a key.
func (p *payload) bound() bool {
	return p.Cnf != nil && (len(p.Cnf.JKT) > 0 || len(p.Cnf.X5TS256) > 0 || len(p.Cnf.JWK) > 0)
}

func jsonStringEqualFold(raw json.RawMessage, want string) bool {
	if len(raw) < 2 || raw[0] != '"' {
		return false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return false
	}
	return strings.EqualFold(s, want)
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
		ClientID: p.clientID(),
		Payload:  p.raw,
	}
	if p.Exp != nil {
		c.ExpiresAt = p.Exp.Time
	}
	if p.Nbf != nil {
		c.NotBefore = p.Nbf.Time
	}
	if p.Iat != nil {
		c.IssuedAt = p.Iat.Time
	}
	c.Machine = p.machine(c.ClientID)
	var generic map[string]any
	for _, name := range scopeClaims {
		switch name {
		case "scope":
			if p.Scope != nil {
				c.Scopes = appendScopes(c.Scopes, scopes.Parse(*p.Scope))
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

// stringList decodes a JSON string or array of strings (RFC 7519 §4.1.3).
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = stringList{s}
		return nil
	}
	if len(b) > 0 && b[0] == '[' {
		var list []string
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		*l = list
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	return errNotStringOrArray
}

var errNotStringOrArray = errors.New("claim is neither a string nor an array of strings")

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
