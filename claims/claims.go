package claims

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Claims are the verified claims of an access token.
//
// A Claims value may be shared by concurrent requests that present the same
// token (see the token cache of package middleware): treat it, its slices and
// its Payload as read-only.
type Claims struct {
	// Issuer is the "iss" claim: the authorization server that issued the token.
	Issuer string
	// Subject is the "sub" claim: the user, or for client_credentials tokens
	// usually the client.
	Subject string
	// Audience is the "aud" claim, always as a list.
	Audience []string
	// ExpiresAt is the "exp" claim.
	ExpiresAt time.Time
	// NotBefore is the "nbf" claim; zero if absent.
	NotBefore time.Time
	// IssuedAt is the "iat" claim; zero if absent.
	IssuedAt time.Time
	// ID is the "jti" claim; empty if absent.
	ID string
	// ClientID is the OAuth 2.0 client the token was issued to, taken from
	// the first present of "client_id" (RFC 9068), "azp" (OpenID Connect,
	// Auth0, Keycloak, Entra ID v2), "cid" (Okta) and "appid" (Entra ID v1).
	ClientID string
	// Scopes are the scopes granted to the token, read from the claims the
	// validator was configured with (by default "scope" and "scp").
	Scopes []string
	// ACR is the "acr" claim (OpenID Connect Core §2, RFC 9068 §2.2.1): the
	// authentication context class the user's authentication satisfied;
	// empty if absent.
	ACR string
	// AuthTime is the "auth_time" claim (OpenID Connect Core §2, RFC 9068
	// §2.2.1): when the user last actively authenticated; zero if absent.
	AuthTime time.Time
	// Machine reports whether the token was issued to a client acting on its
	// own behalf (client_credentials grant) rather than to a user: Auth0's
	// "gty" is "client-credentials", Entra ID's "idtyp" is "app", or the
	// subject equals the client id (RFC 9068 §2.2). Keycloak service-account
	// tokens carry none of these signals (their subject is a user id) and
	// read as false; tell them by client id instead.
	Machine bool
	// Payload is the verified JSON payload of the token, for custom claims.
	Payload json.RawMessage
}

// HasScope reports whether scope was granted to the token.
func (c *Claims) HasScope(scope string) bool {
	for _, s := range c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Decode decodes the token's payload into v, typically a pointer to a struct
// of the application's custom claims with json tags.
func (c *Claims) Decode(v any) error {
	if len(c.Payload) == 0 {
		return ErrNoPayload
	}
	return json.Unmarshal(c.Payload, v)
}

// Map decodes the token's payload into a map of all its claims. Numbers are
// decoded as [json.Number].
func (c *Claims) Map() (map[string]any, error) {
	if len(c.Payload) == 0 {
		return nil, ErrNoPayload
	}
	d := json.NewDecoder(strings.NewReader(string(c.Payload)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// Lookup returns the value of the claim at path. A path is either a claim
// name, which may itself contain dots (Auth0's namespaced claims such as
// "https://example.com/roles"), or, when no claim has that name, a dotted
// path into nested objects such as "realm_access.roles" (Keycloak). At each
// level the longest dotted prefix that names an object is followed, so a
// namespaced name may lead a path: "https://example.com/org.id". The bool
// is false if the claim is absent.
func (c *Claims) Lookup(path string) (any, bool) {
	m, err := c.Map()
	if err != nil {
		return nil, false
	}
	return LookupMap(m, path)
}

// LookupMap resolves path in a claim map the way [Claims.Lookup] does.
func LookupMap(m map[string]any, path string) (any, bool) {
	if v, ok := m[path]; ok {
		return v, true
	}
	// The longest prefix that names an object wins, so that a claim name
	// with dots may lead a nested path: "https://example.com/org.id".
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		if next, ok := m[path[:i]].(map[string]any); ok {
			return LookupMap(next, path[i+1:])
		}
	}
	return nil, false
}

// ErrNoPayload is returned by [Claims.Decode] and [Claims.Map] when the
// Claims value carries no payload.
var ErrNoPayload = errors.New("claims: no payload")

type contextKey struct{}

// NewContext returns a copy of ctx that carries c.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, contextKey{}, c)
}

// FromContext returns the Claims stored in ctx by [NewContext], and whether
// there were any. Handlers behind an optional-authentication middleware get
// false for anonymous requests.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(contextKey{}).(*Claims)
	return c, ok && c != nil
}
