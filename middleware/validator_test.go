package middleware_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// Helpers shared by the external tests of package middleware. Their names
// start with "vt" so they do not collide with other test files.

func TestValidTokenClaims(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{})
	tok := kit.Sign(hgHeader(nil), hgClaims(kit, map[string]any{
		"aud":   []string{"other", hgAudience},
		"nbf":   hgNow.Add(-time.Minute).Unix(),
		"scope": "openid read:users  write:users",
		"scp":   []string{"extra", "read:users"},
	}))
	c, err := v.ValidateToken(context.Background(), tok)
	hgWant(t, err)
	if c.Issuer != kit.URL || c.Subject != "user-123" || c.ID != "jti-1" || c.ClientID != "test-client" {
		t.Errorf("registered claims: %+v", c)
	}
	if !slices.Equal(c.Audience, []string{"other", hgAudience}) {
		t.Errorf("Audience = %q", c.Audience)
	}
	if !c.ExpiresAt.Equal(hgNow.Add(time.Hour)) || !c.IssuedAt.Equal(hgNow) || !c.NotBefore.Equal(hgNow.Add(-time.Minute)) {
		t.Errorf("times: exp %v iat %v nbf %v", c.ExpiresAt, c.IssuedAt, c.NotBefore)
	}
	// scope and scp are both read by default, merged without duplicates.
	if want := []string{"openid", "read:users", "write:users", "extra"}; !slices.Equal(c.Scopes, want) {
		t.Errorf("Scopes = %q, want %q", c.Scopes, want)
	}
	if c.Machine {
		t.Error("user token reported as machine")
	}
	var custom struct {
		JTI string `json:"jti"`
	}
	if err := c.Decode(&custom); err != nil || custom.JTI != "jti-1" {
		t.Errorf("Decode: %v, %+v", err, custom)
	}
}

// TestAlgorithms: asymmetric allowlist; none, HS* and algorithms outside
// Config.Algorithms are refused; the key must fit the algorithm.
func TestAlgorithms(t *testing.T) {
	kit := hgKitAll(t)
	v := hgReady(t, kit, middleware.Config{})
	v256 := hgReady(t, kit, middleware.Config{Algorithms: []string{"RS256"}})
	rsaPub := kit.PublicKey("RS256").(*rsa.PublicKey)
	bad := []error{middleware.ErrInvalidToken, middleware.ErrUnsupportedAlgorithm}
	for _, tc := range []struct {
		name  string
		v     *middleware.Validator
		token string
		want  []error
	}{
		{"RS256", v, hgToken(kit, middlewaretest.Spec{Alg: "RS256"}), nil},
		{"RS384", v, hgToken(kit, middlewaretest.Spec{Alg: "RS384"}), nil},
		{"RS512", v, hgToken(kit, middlewaretest.Spec{Alg: "RS512"}), nil},
		{"PS256", v, hgToken(kit, middlewaretest.Spec{Alg: "PS256"}), nil},
		{"PS384", v, hgToken(kit, middlewaretest.Spec{Alg: "PS384"}), nil},
		{"PS512", v, hgToken(kit, middlewaretest.Spec{Alg: "PS512"}), nil},
		{"ES256", v, hgToken(kit, middlewaretest.Spec{Alg: "ES256"}), nil},
		{"ES384", v, hgToken(kit, middlewaretest.Spec{Alg: "ES384"}), nil},
		{"ES512", v, hgToken(kit, middlewaretest.Spec{Alg: "ES512"}), nil},
		{"EdDSA", v, hgToken(kit, middlewaretest.Spec{Alg: "EdDSA"}), nil},
		{"none", v, kit.Sign(hgHeader(map[string]any{"alg": "none", "kid": nil}), hgClaims(kit, nil)), []error{middleware.ErrInvalidToken}},
		{"none with a signature", v, kit.Sign(hgHeader(map[string]any{"alg": "none", "kid": nil}), hgClaims(kit, nil)) + "c2ln", bad},
		{"none with kid and signature", v, kit.Sign(hgHeader(map[string]any{"alg": "none", "kid": kit.KeyID("RS256")}), hgClaims(kit, nil)) + "c2ln", bad},
		{"HS256 with the public key as secret", v, kit.SignWith(hgPEMish(t, rsaPub), hgHeader(map[string]any{"alg": "HS256", "kid": kit.KeyID("RS256")}), hgClaims(kit, nil)), bad},
		{"HS256 with modulus as secret", v, kit.SignWith(rsaPub.N.Bytes(), hgHeader(map[string]any{"alg": "HS256", "kid": kit.KeyID("RS256")}), hgClaims(kit, nil)), bad},
		{"HS384", v, kit.SignWith([]byte("secret"), hgHeader(map[string]any{"alg": "HS384"}), hgClaims(kit, nil)), bad},
		{"HS512", v, kit.SignWith([]byte("secret"), hgHeader(map[string]any{"alg": "HS512"}), hgClaims(kit, nil)), bad},
		{"unknown alg", v, hgSegment(hgToken(kit, middlewaretest.Spec{}), 0, hgB64([]byte(`{"alg":"XS999","typ":"at+jwt","kid":"`+kit.KeyID("RS256")+`"}`))), bad},
		{"alg missing", v, hgSegment(hgToken(kit, middlewaretest.Spec{}), 0, hgB64([]byte(`{"typ":"at+jwt","kid":"`+kit.KeyID("RS256")+`"}`))), bad},
		{"RS384 outside Config.Algorithms", v256, hgToken(kit, middlewaretest.Spec{Alg: "RS384"}), bad},
		{"ES256 outside Config.Algorithms", v256, hgToken(kit, middlewaretest.Spec{Alg: "ES256"}), bad},
		{"RS256 in Config.Algorithms", v256, hgToken(kit, middlewaretest.Spec{Alg: "RS256"}), nil},
		// The key named by kid must fit the token's alg.
		{"ES256 header with RSA kid", v, hgToken(kit, middlewaretest.Spec{Alg: "ES256", Header: map[string]any{"kid": kit.KeyID("RS256")}}), bad},
		{"RS256 header with EC kid", v, hgToken(kit, middlewaretest.Spec{Alg: "RS256", Header: map[string]any{"kid": kit.KeyID("ES256")}}), bad},
		{"ES384 claimed on P-256 key", v, hgToken(kit, middlewaretest.Spec{Alg: "ES384", Header: map[string]any{"kid": kit.KeyID("ES256")}}), bad},
		{"EdDSA header with RSA kid", v, hgToken(kit, middlewaretest.Spec{Alg: "EdDSA", Header: map[string]any{"kid": kit.KeyID("RS256")}}), bad},
		{"PS256 signature on RS256 key", v, hgToken(kit, middlewaretest.Spec{Alg: "PS256", Header: map[string]any{"kid": kit.KeyID("RS256")}}), bad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.ValidateToken(context.Background(), tc.token)
			hgWant(t, err, tc.want...)
		})
	}
}

// hgPEMish returns a PEM-like byte form of pub, as used in HMAC key
// confusion attacks; any public byte string will do.
func hgPEMish(t *testing.T, pub *rsa.PublicKey) []byte {
	t.Helper()
	return append([]byte("-----BEGIN PUBLIC KEY-----\n"), pub.N.Bytes()...)
}

// TestKeyMustFitAlgWithoutJWKAlg: when the JWKS does not name an "alg" for
// its keys, the key's type and curve still have to fit the token's alg.
func TestKeyMustFitAlgWithoutJWKAlg(t *testing.T) {
	kit := hgKitAll(t)
	// Publish the kit's keys without their "alg" member, plus a short RSA key.
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set := hgFetchJWKS(t, kit)
	for _, k := range set {
		delete(k, "alg")
	}
	set = append(set,
		map[string]any{"kty": "RSA", "kid": "small", "use": "sig", "n": hgB64(small.N.Bytes()), "e": "AQAB"},
		hgJwk(p384, "p384", ""),
	)
	kit.SetJWKS(hgJwks(set...))
	v := hgReady(t, kit, middleware.Config{})
	bad := []error{middleware.ErrInvalidToken, middleware.ErrUnsupportedAlgorithm}
	for _, tc := range []struct {
		name  string
		token string
		want  []error
	}{
		{"RS256 fits RSA", hgToken(kit, middlewaretest.Spec{Alg: "RS256"}), nil},
		{"ES256 fits P-256", hgToken(kit, middlewaretest.Spec{Alg: "ES256"}), nil},
		{"ES256 header with RSA kid", hgToken(kit, middlewaretest.Spec{Alg: "ES256", Header: map[string]any{"kid": kit.KeyID("RS256")}}), bad},
		{"ES384 claimed on P-256 key", hgToken(kit, middlewaretest.Spec{Alg: "ES384", Header: map[string]any{"kid": kit.KeyID("ES256")}}), bad},
		{"ES384 fits P-384", kit.SignWith(p384, hgHeader(map[string]any{"alg": "ES384", "kid": "p384"}), hgClaims(kit, nil)), nil},
		{"ES512 header on P-384 key", hgToken(kit, middlewaretest.Spec{Alg: "ES512", Header: map[string]any{"kid": "p384"}}), bad},
		{"EdDSA header with EC kid", hgToken(kit, middlewaretest.Spec{Alg: "EdDSA", Header: map[string]any{"kid": kit.KeyID("ES256")}}), bad},
		{"RSA key below 2048 bits", kit.SignWith(small, hgHeader(map[string]any{"alg": "RS256", "kid": "small"}), hgClaims(kit, nil)), bad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.ValidateToken(context.Background(), tc.token)
			hgWant(t, err, tc.want...)
		})
	}
}

// TestTimes: exp required, nbf and iat not in the future, within the leeway.
func TestTimes(t *testing.T) {
	kit := hgKit(t)
	def := hgReady(t, kit, middleware.Config{})                              // DefaultLeeway
	none := hgReady(t, kit, middleware.Config{Leeway: -1})                   // no leeway
	five := hgReady(t, kit, middleware.Config{Leeway: middleware.MaxLeeway}) // the largest
	lw := middleware.DefaultLeeway
	expired := []error{middleware.ErrInvalidToken, middleware.ErrTokenExpired}
	early := []error{middleware.ErrInvalidToken, middleware.ErrTokenNotYetValid}
	at := func(d time.Duration) int64 { return hgNow.Add(d).Unix() }
	for _, tc := range []struct {
		name    string
		v       *middleware.Validator
		changes map[string]any
		want    []error
	}{
		{"exp missing", def, map[string]any{"exp": nil}, expired},
		{"exp past", def, map[string]any{"exp": at(-time.Hour)}, expired},
		{"exp within leeway", def, map[string]any{"exp": at(-lw + time.Second)}, nil},
		{"exp at leeway edge", def, map[string]any{"exp": at(-lw)}, expired},
		{"exp now without leeway", none, map[string]any{"exp": at(0)}, expired},
		{"exp one second ahead without leeway", none, map[string]any{"exp": at(time.Second)}, nil},
		{"exp past but within MaxLeeway", five, map[string]any{"exp": at(-middleware.MaxLeeway + time.Second)}, nil},
		{"exp past MaxLeeway", five, map[string]any{"exp": at(-middleware.MaxLeeway)}, expired},
		{"exp a string", def, map[string]any{"exp": "tomorrow"}, []error{middleware.ErrInvalidToken}},
		{"nbf past", def, map[string]any{"nbf": at(-time.Minute)}, nil},
		{"nbf within leeway", def, map[string]any{"nbf": at(lw)}, nil},
		{"nbf beyond leeway", def, map[string]any{"nbf": at(lw + time.Second)}, early},
		{"nbf future without leeway", none, map[string]any{"nbf": at(time.Second)}, early},
		{"nbf far future", def, map[string]any{"nbf": at(24 * time.Hour)}, early},
		{"iat missing", def, map[string]any{"iat": nil}, nil},
		{"iat within leeway", def, map[string]any{"iat": at(lw)}, nil},
		{"iat beyond leeway", def, map[string]any{"iat": at(lw + time.Second)}, early},
		{"iat future without leeway", none, map[string]any{"iat": at(time.Second)}, early},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := kit.Sign(hgHeader(nil), hgClaims(kit, tc.changes))
			_, err := tc.v.ValidateToken(context.Background(), tok)
			hgWant(t, err, tc.want...)
		})
	}
}

// TestClock: Config.Now is the validator's only notion of time for tokens.
func TestClock(t *testing.T) {
	kit := hgKit(t)
	var now atomic.Pointer[time.Time]
	t0 := hgNow
	now.Store(&t0)
	v := hgReady(t, kit, middleware.Config{Now: func() time.Time { return *now.Load() }, TokenCacheSize: -1})
	tok := hgToken(kit, middlewaretest.Spec{Lifetime: time.Hour})
	for _, tc := range []struct {
		at   time.Duration
		want []error
	}{
		{0, nil},
		{-time.Hour, []error{middleware.ErrInvalidToken, middleware.ErrTokenNotYetValid}},
		{59 * time.Minute, nil},
		{2 * time.Hour, []error{middleware.ErrInvalidToken, middleware.ErrTokenExpired}},
	} {
		t.Run(tc.at.String(), func(t *testing.T) {
			ti := hgNow.Add(tc.at)
			now.Store(&ti)
			_, err := v.ValidateToken(context.Background(), tok)
			hgWant(t, err, tc.want...)
		})
	}
}

// TestIssuerAndAudience: iss exact; aud any-of, string or array;
// ClientIDs for issuers without aud.
func TestIssuerAndAudience(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{Audiences: []string{hgAudience, "urn:second"}})
	clients := hgReady(t, kit, middleware.Config{Audiences: []string{}, ClientIDs: []string{"test-client", "other-client"}})
	both := hgReady(t, kit, middleware.Config{Audiences: []string{hgAudience}, ClientIDs: []string{"test-client"}})
	badIss := []error{middleware.ErrInvalidToken, middleware.ErrInvalidIssuer}
	badAud := []error{middleware.ErrInvalidToken, middleware.ErrInvalidAudience}
	for _, tc := range []struct {
		name    string
		v       *middleware.Validator
		changes map[string]any
		want    []error
	}{
		{"iss exact", v, nil, nil},
		{"iss with trailing slash", v, map[string]any{"iss": kit.URL + "/"}, badIss},
		{"iss in upper case", v, map[string]any{"iss": strings.ToUpper(kit.URL)}, badIss},
		{"iss with path", v, map[string]any{"iss": kit.URL + "/tenant"}, badIss},
		{"iss missing", v, map[string]any{"iss": nil}, badIss},
		{"iss empty", v, map[string]any{"iss": ""}, badIss},
		{"iss another issuer", v, map[string]any{"iss": "https://evil.example"}, badIss},
		{"aud string", v, map[string]any{"aud": hgAudience}, nil},
		{"aud second configured", v, map[string]any{"aud": "urn:second"}, nil},
		{"aud array with one match", v, map[string]any{"aud": []string{"urn:other", hgAudience}}, nil},
		{"aud array without match", v, map[string]any{"aud": []string{"urn:other", "urn:third"}}, badAud},
		{"aud string without match", v, map[string]any{"aud": "urn:other"}, badAud},
		{"aud prefix look-alike", v, map[string]any{"aud": hgAudience + "/"}, badAud},
		{"aud missing", v, map[string]any{"aud": nil}, badAud},
		{"aud empty array", v, map[string]any{"aud": []string{}}, badAud},
		{"aud not a string", v, map[string]any{"aud": 42}, []error{middleware.ErrInvalidToken}},
		{"client listed, no aud", clients, map[string]any{"aud": nil}, nil},
		{"second client listed", clients, map[string]any{"aud": nil, "client_id": "other-client"}, nil},
		{"client not listed", clients, map[string]any{"aud": nil, "client_id": "evil-client"}, badAud},
		{"no client", clients, map[string]any{"aud": nil, "client_id": nil}, badAud},
		{"both checks pass", both, nil, nil},
		{"both: client not listed", both, map[string]any{"client_id": "evil-client"}, badAud},
		{"both: aud missing", both, map[string]any{"aud": nil}, badAud},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := kit.Sign(hgHeader(nil), hgClaims(kit, tc.changes))
			_, err := tc.v.ValidateToken(context.Background(), tok)
			hgWant(t, err, tc.want...)
		})
	}
}

// TestAccessTokenType: only access tokens are accepted (RFC 9068 §2.1, §4;
// RFC 8725 §3.11): other kinds of JWT, told apart by their "typ" or their
// ID-token claims, are refused even when the issuer signed them for this
// audience; RequireAccessTokenType accepts at+jwt only. Sender-constrained
// tokens are refused too (RFC 9449 §7.2). The default validator's answers
// are checked over HTTP as well.
func TestAccessTokenType(t *testing.T) {
	kit := hgKit(t)
	lax := hgNewHarness(t, kit, middleware.Config{Now: func() time.Time { return hgNow }})
	lax.waitReady(t)
	strict := hgReady(t, kit, middleware.Config{RequireAccessTokenType: true})
	notAT := []error{middleware.ErrInvalidToken, middleware.ErrNotAccessToken}
	bound := []error{middleware.ErrInvalidToken, middleware.ErrSenderConstrained}
	malformed := []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}
	for _, tc := range []struct {
		name    string
		typ     any // header typ; nil: absent
		changes map[string]any
		lax     []error
		strict  []error
	}{
		{"at+jwt", "at+jwt", nil, nil, nil},
		{"application/at+jwt", "application/at+jwt", nil, nil, nil},
		{"AT+JWT", "AT+JWT", nil, nil, nil},
		{"Application/At+Jwt", "Application/At+Jwt", nil, nil, nil},
		{"JWT", "JWT", nil, nil, notAT},
		{"jwt", "jwt", nil, nil, notAT},
		{"absent", nil, nil, nil, notAT},
		{"JWT with nonce", "JWT", map[string]any{"nonce": "n-0S6_WzA2Mj"}, notAT, notAT},
		{"absent with nonce", nil, map[string]any{"nonce": "n"}, notAT, notAT},
		{"JWT with at_hash", "JWT", map[string]any{"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}, notAT, notAT},
		{"absent with c_hash", nil, map[string]any{"c_hash": "LDktKdoQak3Pk0cnXxCltA"}, notAT, notAT},
		{"Keycloak payload typ ID", "JWT", map[string]any{"typ": "ID"}, notAT, notAT},
		{"Keycloak payload typ Bearer", "JWT", map[string]any{"typ": "Bearer"}, nil, notAT},
		// Keycloak copies nonce (and at_hash) into access tokens before
		// v25 and with a compatibility mapper; its payload typ tells them
		// from ID tokens, as long as the header does not say otherwise.
		{"Keycloak payload typ Bearer with nonce", "JWT", map[string]any{"typ": "Bearer", "nonce": "n", "at_hash": "h"}, nil, notAT},
		{"Keycloak payload typ Bearer with nonce, no header typ", nil, map[string]any{"typ": "Bearer", "nonce": "n"}, nil, notAT},
		{"Keycloak payload typ Bearer with nonce, at+jwt", "at+jwt", map[string]any{"typ": "Bearer", "nonce": "n"}, nil, nil},
		{"Keycloak payload typ Bearer, header dpop+jwt", "dpop+jwt", map[string]any{"typ": "Bearer"}, notAT, notAT},
		{"payload typ bearer (not Keycloak's spelling) with nonce", "JWT", map[string]any{"typ": "bearer", "nonce": "n"}, notAT, notAT},
		{"payload typ Bearer with token_use id", "JWT", map[string]any{"typ": "Bearer", "token_use": "id"}, notAT, notAT},
		{"Cognito token_use id", nil, map[string]any{"token_use": "id"}, notAT, notAT},
		{"Cognito token_use access", nil, map[string]any{"token_use": "access"}, nil, notAT},
		{"at+jwt with nonce", "at+jwt", map[string]any{"nonce": "n"}, notAT, notAT},
		{"logout+jwt", "logout+jwt", nil, notAT, notAT},
		{"dpop+jwt", "dpop+jwt", nil, notAT, notAT},
		{"secevent+jwt", "secevent+jwt", nil, notAT, notAT},
		{"application/logout+jwt", "application/logout+jwt", nil, notAT, notAT},
		{"id_token+jwt", "id_token+jwt", nil, notAT, notAT},
		{"empty typ", "", nil, notAT, notAT},
		{"typ not a string", 1, nil, malformed, []error{middleware.ErrInvalidToken}},
		{"typ an array", []string{"at+jwt"}, nil, malformed, []error{middleware.ErrInvalidToken}},
		{"typ an object", map[string]any{}, nil, malformed, []error{middleware.ErrInvalidToken}},
		{"Application/AT+JWT", "Application/AT+JWT", nil, nil, nil},
		{"application/jwt", "application/jwt", nil, nil, notAT},
		{"token-introspection+jwt", "token-introspection+jwt", nil, notAT, notAT}, // RFC 9701
		{"JOSE", "JOSE", nil, notAT, notAT},                                       // RFC 7515 §4.1.9 examples
		{"JOSE+JSON", "JOSE+JSON", nil, notAT, notAT},
		{"jwe", "jwe", nil, notAT, notAT},
		{"id_token", "id_token", nil, notAT, notAT}, // not registered, but telling
		{"id+jwt", "id+jwt", nil, notAT, notAT},
		{"client-authentication+jwt", "client-authentication+jwt", nil, notAT, notAT}, // RFC 7523 bis
		{"at+jwt with a parameter", "at+jwt; charset=utf-8", nil, notAT, notAT},       // not the media type
		{"at+jwt trailing space", "at+jwt ", nil, notAT, notAT},                       // look-alikes
		{"at+jwt leading space", " at+jwt", nil, notAT, notAT},
		{"at+jw", "at+jw", nil, notAT, notAT},
		{"cnf.jkt", "at+jwt", map[string]any{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}, bound, bound},
		{"cnf.x5t#S256", "at+jwt", map[string]any{"cnf": map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}, bound, bound},
		{"cnf.jwk", "at+jwt", map[string]any{"cnf": map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}}, bound, bound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := hgHeader(nil)
			if tc.typ == nil {
				delete(h, "typ")
			} else {
				h["typ"] = tc.typ
			}
			tok := kit.Sign(h, hgClaims(kit, tc.changes))
			if len(tc.lax) == 0 {
				lax.accept(t, tok)
			} else {
				hgWant(t, lax.refuse(t, tok, tc.lax[len(tc.lax)-1]), tc.lax...)
			}
			_, err := strict.ValidateToken(context.Background(), tok)
			hgWant(t, err, tc.strict...)
		})
	}
}

// TestProfiles: every provider profile of the kit, user and machine access
// tokens, is accepted with the right configuration and its scopes are
// found; every profile's ID token is refused.
func TestProfiles(t *testing.T) {
	kit := hgKitAll(t)
	for _, tc := range []struct {
		profile middlewaretest.Profile
		cfg     middleware.Config
		alg     string
		machine bool
		claims  map[string]any // applied to the access token
	}{
		{profile: middlewaretest.Generic},
		{profile: middlewaretest.Generic, machine: true},
		// Only "permissions" carries the scopes (Auth0 RBAC).
		{profile: middlewaretest.Auth0, cfg: middleware.Config{ScopeClaims: []string{"permissions"}}, claims: map[string]any{"scope": nil}},
		{profile: middlewaretest.Auth0, cfg: middleware.Config{ScopeClaims: []string{"permissions"}}, machine: true, claims: map[string]any{"scope": nil}},
		{profile: middlewaretest.Logto, alg: "ES384"},
		{profile: middlewaretest.Logto, alg: "ES384", machine: true},
		// Only realm_access.roles carries the scopes (Keycloak).
		{profile: middlewaretest.Keycloak, cfg: middleware.Config{ScopeClaims: []string{"realm_access.roles"}}, claims: map[string]any{"scope": nil}},
		{profile: middlewaretest.Keycloak, cfg: middleware.Config{ScopeClaims: []string{"realm_access.roles"}}, machine: true, claims: map[string]any{"scope": nil}},
		{profile: middlewaretest.Entra, cfg: middleware.Config{ScopeClaims: []string{"scp", "roles"}}},
		// Entra app tokens: application roles in "roles".
		{profile: middlewaretest.Entra, cfg: middleware.Config{ScopeClaims: []string{"scp", "roles"}}, machine: true},
		{profile: middlewaretest.Okta},
		{profile: middlewaretest.Okta, machine: true},
		// Cognito access tokens have no aud: restrict the client instead.
		{profile: middlewaretest.Cognito, cfg: middleware.Config{ClientIDs: []string{"test-client"}}},
		{profile: middlewaretest.Cognito, cfg: middleware.Config{ClientIDs: []string{"test-client"}}, machine: true},
	} {
		name := tc.profile.String()
		if tc.machine {
			name += "/machine"
		} else {
			name += "/user"
		}
		t.Run(name, func(t *testing.T) {
			v := hgReady(t, kit, tc.cfg)
			h := v.RequireScope("read:users")(hgOK)
			tok := hgToken(kit, middlewaretest.Spec{
				Profile: tc.profile, Alg: tc.alg, Machine: tc.machine,
				Scopes: []string{"read:users", "write:users"}, Claims: tc.claims,
			})
			if w := hgServe(h, hgRequest(tok)); w.Code != http.StatusOK {
				t.Fatalf("access token: status %d, %s", w.Code, w.Header().Get("WWW-Authenticate"))
			}
			c, err := v.ValidateToken(context.Background(), tok)
			hgWant(t, err)
			if !c.HasScope("read:users") || !c.HasScope("write:users") {
				t.Errorf("Scopes = %q", c.Scopes)
			}
			if c.ClientID != "test-client" {
				t.Errorf("ClientID = %q, want test-client", c.ClientID)
			}
			// Keycloak service-account tokens carry none of the signals
			// Machine looks for (gty, idtyp, sub == client id): their sub
			// is the service account's user id.
			if c.Machine != tc.machine && !(tc.profile == middlewaretest.Keycloak && tc.machine) {
				t.Errorf("Machine = %v, want %v", c.Machine, tc.machine)
			}
			// Without the scope, the same route answers 403.
			noScope := hgToken(kit, middlewaretest.Spec{Profile: tc.profile, Alg: tc.alg, Machine: tc.machine, Scopes: []string{"write:users"}, Claims: tc.claims})
			if w := hgServe(h, hgRequest(noScope)); w.Code != http.StatusForbidden {
				t.Errorf("token without the scope: status %d, want 403", w.Code)
			}

			// The same profile's ID token, even for this API's audience, is refused.
			for _, aud := range [][]string{{hgAudience}, {"test-client", hgAudience}} {
				id := hgToken(kit, middlewaretest.Spec{Profile: tc.profile, Alg: tc.alg, Kind: middlewaretest.IDToken, Audience: aud})
				_, err := v.ValidateToken(context.Background(), id)
				hgWant(t, err, middleware.ErrInvalidToken, middleware.ErrNotAccessToken)
				if w := hgServe(h, hgRequest(id)); w.Code != http.StatusUnauthorized {
					t.Errorf("ID token: status %d, want 401", w.Code)
				}
			}
		})
	}
}

// TestScopeClaims: which claims scopes are read from.
func TestScopeClaims(t *testing.T) {
	kit := hgKit(t)
	payload := map[string]any{
		"scope":                      "s1 s2",
		"scp":                        []string{"p1"},
		"permissions":                []string{"perm1", "bad\"perm"},
		"roles":                      []string{"role1"},
		"realm_access":               map[string]any{"roles": []string{"realm1"}},
		"https://example.com/scopes": "ns1 ns2",
	}
	for _, tc := range []struct {
		name   string
		claims []string
		edit   map[string]any
		want   []string
		err    []error
	}{
		{"default scope and scp", nil, nil, []string{"s1", "s2", "p1"}, nil},
		{"scp as string", nil, map[string]any{"scp": "p1 p2"}, []string{"s1", "s2", "p1", "p2"}, nil},
		{"permissions only", []string{"permissions"}, nil, []string{"perm1"}, nil},
		{"roles only", []string{"roles"}, nil, []string{"role1"}, nil},
		{"nested path", []string{"realm_access.roles"}, nil, []string{"realm1"}, nil},
		{"namespaced claim with dots", []string{"https://example.com/scopes"}, nil, []string{"ns1", "ns2"}, nil},
		{"merged", []string{"scope", "permissions", "realm_access.roles"}, nil, []string{"s1", "s2", "perm1", "realm1"}, nil},
		{"absent claim", []string{"missing"}, nil, nil, nil},
		{"scope claim of the wrong type", []string{"permissions"}, map[string]any{"permissions": 42}, nil, []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"array with a non-string", []string{"roles"}, map[string]any{"roles": []any{"a", 1}}, nil, []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := hgReady(t, kit, middleware.Config{ScopeClaims: tc.claims})
			c, err := v.ValidateToken(context.Background(), kit.Sign(hgHeader(nil), hgClaims(kit, hgMerge(payload, tc.edit))))
			hgWant(t, err, tc.err...)
			if err == nil && !slices.Equal(c.Scopes, tc.want) {
				t.Errorf("Scopes = %q, want %q", c.Scopes, tc.want)
			}
		})
	}
}

// TestClientIDAndMachine: the client id is normalised from client_id, azp,
// cid and appid, in that order; Machine detects client_credentials tokens.
func TestClientIDAndMachine(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{})
	for _, tc := range []struct {
		name    string
		changes map[string]any
		client  string
		machine bool
	}{
		{"client_id first", map[string]any{"client_id": "c1", "azp": "a1", "cid": "o1", "appid": "e1"}, "c1", false},
		{"azp second", map[string]any{"client_id": nil, "azp": "a1", "cid": "o1", "appid": "e1"}, "a1", false},
		{"cid third", map[string]any{"client_id": nil, "cid": "o1", "appid": "e1"}, "o1", false},
		{"appid last", map[string]any{"client_id": nil, "appid": "e1"}, "e1", false},
		{"empty client_id skipped", map[string]any{"client_id": "", "azp": "a1"}, "a1", false},
		{"none", map[string]any{"client_id": nil}, "", false},
		{"Auth0 gty client-credentials", map[string]any{"gty": "client-credentials", "sub": "c@clients"}, "test-client", true},
		{"gty client_credentials", map[string]any{"gty": "client_credentials"}, "test-client", true},
		{"gty array", map[string]any{"gty": []string{"password", "client-credentials"}}, "test-client", true},
		{"gty password", map[string]any{"gty": "password"}, "test-client", false},
		{"Entra idtyp app", map[string]any{"idtyp": "app"}, "test-client", true},
		{"Entra idtyp user", map[string]any{"idtyp": "user"}, "test-client", false},
		{"sub equals client id", map[string]any{"sub": "test-client"}, "test-client", true},
		{"sub equals azp", map[string]any{"client_id": nil, "azp": "svc", "sub": "svc"}, "svc", true},
		{"user token", nil, "test-client", false},
		{"no sub and no client", map[string]any{"sub": nil, "client_id": nil}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.ValidateToken(context.Background(), kit.Sign(hgHeader(nil), hgClaims(kit, tc.changes)))
			hgWant(t, err)
			if c.ClientID != tc.client || c.Machine != tc.machine {
				t.Errorf("ClientID %q, Machine %v; want %q, %v", c.ClientID, c.Machine, tc.client, tc.machine)
			}
		})
	}
}

// TestNoKid: a token without kid is checked against the issuer's keys that
// fit its algorithm.
func TestNoKid(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{})
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			_, err := v.ValidateToken(context.Background(), hgToken(kit, middlewaretest.Spec{Alg: alg, Header: map[string]any{"kid": nil}}))
			hgWant(t, err)
		})
	}
	t.Run("kid not a string", func(t *testing.T) {
		_, err := v.ValidateToken(context.Background(), hgToken(kit, middlewaretest.Spec{Header: map[string]any{"kid": 7}}))
		hgWant(t, err, middleware.ErrInvalidToken, middleware.ErrMalformedToken)
	})
	t.Run("unknown kid", func(t *testing.T) {
		_, err := v.ValidateToken(context.Background(), hgToken(kit, middlewaretest.Spec{Header: map[string]any{"kid": "nope"}}))
		hgWant(t, err, middleware.ErrInvalidToken, middleware.ErrUnknownKey)
	})
}

// TestValidateHook: Config.Validate runs after every other check.
func TestValidateHook(t *testing.T) {
	kit := hgKit(t)
	errNoOrg := errors.New("org_id required")
	var calls atomic.Int64
	v := hgReady(t, kit, middleware.Config{Validate: func(ctx context.Context, c *claims.Claims) error {
		calls.Add(1)
		var custom struct {
			OrgID string `json:"org_id"`
			Mode  string `json:"mode"`
		}
		if err := c.Decode(&custom); err != nil {
			return err
		}
		switch {
		case custom.Mode == "forbid":
			return middleware.NewError(middleware.ErrInsufficientScope, "org \"admin\" only\n", errNoOrg)
		case custom.Mode == "bad-request":
			return middleware.NewError(middleware.ErrInvalidRequest, "", nil)
		case custom.Mode == "unknown-category":
			return middleware.NewError(errNoOrg, "", nil)
		case custom.OrgID == "":
			return errNoOrg
		}
		return nil
	}})
	h := v.Authenticate(hgOK)
	for _, tc := range []struct {
		name    string
		changes map[string]any
		status  int
		want    []error
	}{
		{"accepted", map[string]any{"org_id": "org_1"}, http.StatusOK, nil},
		{"plain error", nil, http.StatusUnauthorized, []error{middleware.ErrInvalidToken, middleware.ErrClaimsRejected, errNoOrg}},
		{"NewError insufficient_scope", map[string]any{"mode": "forbid"}, http.StatusForbidden, []error{middleware.ErrInsufficientScope, errNoOrg}},
		{"NewError invalid_request", map[string]any{"mode": "bad-request"}, http.StatusBadRequest, []error{middleware.ErrInvalidRequest}},
		{"NewError unknown category", map[string]any{"mode": "unknown-category"}, http.StatusUnauthorized, []error{middleware.ErrInvalidToken, middleware.ErrClaimsRejected}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := kit.Sign(hgHeader(nil), hgClaims(kit, tc.changes))
			_, err := v.ValidateToken(context.Background(), tok)
			hgWant(t, err, tc.want...)
			// The same token again (a cache hit) still goes through the hook.
			_, err = v.ValidateToken(context.Background(), tok)
			hgWant(t, err, tc.want...)
			if w := hgServe(h, hgRequest(tok)); w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
		})
	}
	// The hook never sees tokens that fail other checks.
	before := calls.Load()
	_, err := v.ValidateToken(context.Background(), kit.Sign(hgHeader(nil), hgClaims(kit, map[string]any{"aud": "urn:other", "org_id": "o"})))
	hgWant(t, err, middleware.ErrInvalidAudience)
	if calls.Load() != before {
		t.Error("Validate was called for a token with the wrong audience")
	}
}

// TestHookDescriptionSanitised: a description given to NewError is reduced
// to the RFC 6750 character set.
func TestHookDescriptionSanitised(t *testing.T) {
	e := middleware.NewError(middleware.ErrInsufficientScope, "org \"admin\"\\ only\n\x00é", nil)
	if e.Status != http.StatusForbidden || e.Code != middleware.CodeInsufficientScope {
		t.Errorf("Status %d Code %q", e.Status, e.Code)
	}
	for _, c := range []byte(e.Description) {
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			t.Fatalf("Description %q has character %q", e.Description, c)
		}
	}
	if e.Description != "org admin only" {
		t.Errorf("Description = %q", e.Description)
	}
}

func TestNewErrorCategories(t *testing.T) {
	for _, tc := range []struct {
		category error
		status   int
		code     string
	}{
		{middleware.ErrNoToken, http.StatusUnauthorized, ""},
		{middleware.ErrInvalidRequest, http.StatusBadRequest, middleware.CodeInvalidRequest},
		{middleware.ErrInvalidToken, http.StatusUnauthorized, middleware.CodeInvalidToken},
		{middleware.ErrInsufficientScope, http.StatusForbidden, middleware.CodeInsufficientScope},
		{middleware.ErrKeysUnavailable, http.StatusServiceUnavailable, middleware.CodeUnavailable},
		{errors.New("other"), http.StatusUnauthorized, middleware.CodeInvalidToken},
	} {
		t.Run(tc.category.Error(), func(t *testing.T) {
			cause := errors.New("cause")
			e := middleware.NewError(tc.category, "", cause)
			if e.Status != tc.status || e.Code != tc.code {
				t.Errorf("Status %d Code %q; want %d %q", e.Status, e.Code, tc.status, tc.code)
			}
			if !errors.Is(e, cause) {
				t.Error("cause not matched")
			}
			if e.Description == "" && tc.code != middleware.CodeInvalidRequest {
				t.Error("no default description")
			}
			// Exactly one category.
			n := 0
			for _, c := range []error{middleware.ErrNoToken, middleware.ErrInvalidRequest, middleware.ErrInvalidToken, middleware.ErrInsufficientScope, middleware.ErrKeysUnavailable} {
				if errors.Is(e, c) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("matches %d categories", n)
			}
		})
	}
}
