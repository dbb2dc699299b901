package middleware_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
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

// TestHardeningAlgNone: unsigned tokens (RFC 7519 §6, RFC 8725 §3.1) are
// refused whatever the spelling of "none", with or without a signature
// segment and a real kid.
func TestHardeningAlgNone(t *testing.T) {
	t.Parallel()
	f := hgShared()
	claims := hgMustJSON(hgValidClaims(f.kit.URL))
	kid := f.kit.KeyID("RS256")
	f.h.accept(t, f.kit.Sign(map[string]any{"typ": "at+jwt"}, hgValidClaims(f.kit.URL))) // control

	// The genuine unsigned form has an empty third segment: not a compact
	// JWS this library accepts at all.
	t.Run("none/unsigned", func(t *testing.T) {
		f.h.refuse(t, f.kit.Sign(map[string]any{"alg": "none", "typ": "at+jwt"}, hgValidClaims(f.kit.URL)), middleware.ErrMalformedToken)
	})
	for _, alg := range []string{"none", "None", "NONE", "nOnE", ""} {
		for _, kidv := range []any{nil, kid} {
			hdr := map[string]any{"alg": alg, "typ": "at+jwt"}
			label := "alg=" + alg + "/signature/no-kid"
			if kidv != nil {
				hdr["kid"] = kidv
				label = "alg=" + alg + "/signature/kid"
			}
			t.Run(label, func(t *testing.T) {
				f.h.refuse(t, hgCraft(hgMustJSON(hdr), claims, []byte("not-a-signature")), middleware.ErrUnsupportedAlgorithm)
			})
		}
	}
	t.Run("alg-missing", func(t *testing.T) {
		f.h.refuse(t, hgCraft(hgMustJSON(map[string]any{"kid": kid}), claims, []byte("x")), middleware.ErrUnsupportedAlgorithm)
	})
	t.Run("alg-not-string", func(t *testing.T) {
		f.h.refuse(t, hgCraft(`{"alg":256,"kid":"`+kid+`"}`, claims, []byte("x")), middleware.ErrUnsupportedAlgorithm)
	})
	t.Run("config-refuses-none-and-HS", func(t *testing.T) {
		for _, alg := range []string{"none", "HS256", "HS384", "HS512", "RS1", "ES256K"} {
			_, err := middleware.New(context.Background(), middleware.Config{
				Issuer: f.kit.URL, Audiences: []string{hgAudience}, Algorithms: []string{alg},
			})
			if err == nil {
				t.Errorf("New accepted Algorithms [%q]", alg)
			}
		}
	})
}

// TestHardeningHMACWithPublicKey: the key-confusion attack (RFC 8725 §2.1,
// §3.1): HS256/384/512 tokens whose HMAC secret is the issuer's public key
// in every form an attacker might guess.
func TestHardeningHMACWithPublicKey(t *testing.T) {
	t.Parallel()
	f := hgShared()
	pub := f.kit.PublicKey("RS256").(*rsa.PublicKey)
	kid := f.kit.KeyID("RS256")
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(pub)
	secrets := map[string][]byte{
		"PEM-PKIX":       pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"PEM-PKCS1":      pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"DER-PKIX":       pkix,
		"DER-PKCS1":      pkcs1,
		"JWK-n-bytes":    pub.N.Bytes(),
		"JWK-n-base64":   []byte(hgB64(pub.N.Bytes())),
		"JWK-JSON":       []byte(hgMustJSON(hgJwk(pub, kid, "RS256"))),
		"EC-PEM":         hgMustPEM(t, f.kit.PublicKey("ES256")),
		"Ed25519-public": []byte(f.kit.PublicKey("EdDSA").(ed25519.PublicKey)),
	}
	for name, secret := range secrets {
		for _, alg := range []string{"HS256", "HS384", "HS512"} {
			for _, kidv := range []any{kid, nil} {
				hdr := map[string]any{"alg": alg, "typ": "at+jwt"}
				label := name + "/" + alg + "/no-kid"
				if kidv != nil {
					hdr["kid"] = kidv
					label = name + "/" + alg + "/kid"
				}
				t.Run(label, func(t *testing.T) {
					f.h.refuse(t, f.kit.SignWith(secret, hdr, hgValidClaims(f.kit.URL)), middleware.ErrUnsupportedAlgorithm)
				})
			}
		}
	}
}

func hgMustPEM(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// TestHardeningKeyAlgorithm: the token's alg must fit the key: the JWK's
// "alg" when it has one (RFC 7517 §4.4), and always the key's type, curve
// and size (RFC 7518 §3, RFC 8725 §3.1). Every refused token below carries
// a genuine signature by the issuer key it names, made with the wrong
// algorithm, so a missing check would accept it.
func TestHardeningKeyAlgorithm(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	ok := []struct{ name, alg, kid string }{
		{"RS256 on RS256 key", "RS256", "rsa-rs256"},
		{"PS256 on PS256 key", "PS256", "rsa-ps256"},
		{"ES256 on ES256 key", "ES256", "ec-es256"},
		{"ES384 on P-384 key without alg", "ES384", "ec384-noalg"},
		{"EdDSA on Ed25519 key", "EdDSA", "ed-eddsa"},
		// A JWK without "alg" may verify any algorithm of its family
		// (documented in SECURITY.md): RSA keys then serve RS* and PS*.
		{"RS256 on RSA key without alg", "RS256", "rsa-noalg"},
		{"PS512 on RSA key without alg", "PS512", "rsa-noalg"},
	}
	keyFor := func(alg string) any {
		switch alg[:2] {
		case "RS", "PS":
			return k.rsa
		case "Ed":
			return k.ed
		}
		if alg == "ES384" {
			return k.ec384
		}
		return k.ec
	}
	for _, c := range ok {
		t.Run("accept/"+c.name, func(t *testing.T) {
			f.h.accept(t, f.token(t, c.alg, c.kid, keyFor(c.alg)))
		})
	}
	refused := []struct {
		name, alg, kid string
		key            any
		want           error
	}{
		{"RS512 on RS256 key", "RS512", "rsa-rs256", k.rsa, middleware.ErrUnsupportedAlgorithm},
		{"RS384 on RS256 key", "RS384", "rsa-rs256", k.rsa, middleware.ErrUnsupportedAlgorithm},
		{"PS256 on RS256 key", "PS256", "rsa-rs256", k.rsa, middleware.ErrUnsupportedAlgorithm},
		{"RS256 on PS256 key", "RS256", "rsa-ps256", k.rsa, middleware.ErrUnsupportedAlgorithm},
		{"PS512 on PS256 key", "PS512", "rsa-ps256", k.rsa, middleware.ErrUnsupportedAlgorithm},
		{"ES256 on P-256 key marked ES384", "ES256", "ec-es384-on-p256", k.ec, middleware.ErrUnsupportedAlgorithm},
		{"RS256 on RSA key marked ES256", "RS256", "rsa-as-es256", k.rsa, middleware.ErrUnsupportedAlgorithm},
		{"ES256 on EC key marked RS256", "ES256", "ec-as-rs256", k.ec, middleware.ErrUnsupportedAlgorithm},
		{"RS256 on 1024-bit RSA key", "RS256", "rsa-weak", k.rsaWeak, middleware.ErrUnsupportedAlgorithm},
		{"EdDSA on ES256 key", "EdDSA", "ec-es256", k.ed, middleware.ErrUnsupportedAlgorithm},
	}
	for _, c := range refused {
		t.Run("refuse/"+c.name, func(t *testing.T) {
			f.h.refuse(t, f.token(t, c.alg, c.kid, c.key), c.want)
		})
	}
	// Another family than the key, where no genuine signature can exist:
	// the signature is filler of the right length.
	claims := hgMustJSON(hgValidClaims(f.kit.URL))
	family := []struct {
		name, alg, kid string
		sigLen         int
	}{
		{"ES256 on RSA key", "ES256", "rsa-noalg", 64},
		{"EdDSA on RSA key", "EdDSA", "rsa-noalg", 64},
		{"RS256 on P-384 key", "RS256", "ec384-noalg", 256},
		{"ES256 on P-384 key", "ES256", "ec384-noalg", 64},
		{"ES512 on P-384 key", "ES512", "ec384-noalg", 132},
		{"ES384 on P-256 key marked ES384", "ES384", "ec-es384-on-p256", 96},
		{"ES256 on RSA key marked ES256", "ES256", "rsa-as-es256", 64},
		{"RS256 on EC key marked RS256", "RS256", "ec-as-rs256", 256},
		{"ES256 on Ed25519 key marked ES256", "ES256", "ed-as-es256", 64},
		{"EdDSA on Ed25519 key marked ES256", "EdDSA", "ed-as-es256", 64},
	}
	for _, c := range family {
		t.Run("refuse/"+c.name, func(t *testing.T) {
			sig := make([]byte, c.sigLen)
			_, _ = rand.Read(sig)
			hdr := hgMustJSON(map[string]any{"alg": c.alg, "kid": c.kid, "typ": "at+jwt"})
			f.h.refuse(t, hgCraft(hdr, claims, sig), middleware.ErrUnsupportedAlgorithm)
		})
	}
}

// TestHardeningKeyAlgorithmNoKid: a token without "kid" is tried against
// the issuer's keys that may verify its alg, and a JWK's "alg" binds those
// keys as it does when the kid is named.
func TestHardeningKeyAlgorithmNoKid(t *testing.T) {
	t.Parallel()
	k := hgKeys()
	const iss = "https://issuer.example"
	srv := hgNewCountingServer(t, http.StatusOK, "application/json", hgJwks(
		hgJwk(k.rsa2, "only-rs256", "RS256"),
		hgJwk(k.ec2, "only-es256", "ES256"),
	))
	h := hgNewHarness(t, nil, middleware.Config{Issuer: iss, JWKSURL: srv.URL})
	h.waitReady(t)
	claims := hgMustJSON(hgValidClaims(iss))
	sign := func(alg string, key any) string {
		return hgSignRaw(t, alg, key, `{"alg":"`+alg+`","typ":"at+jwt"}`, claims)
	}
	h.accept(t, sign("RS256", k.rsa2))
	h.accept(t, sign("ES256", k.ec2))
	for _, alg := range []string{"RS384", "RS512", "PS256", "PS512"} {
		t.Run(alg+" on an RS256 key", func(t *testing.T) {
			h.refuse(t, sign(alg, k.rsa2), middleware.ErrUnknownKey)
		})
	}
	t.Run("EdDSA without Ed25519 key", func(t *testing.T) {
		h.refuse(t, sign("EdDSA", k.ed), middleware.ErrUnknownKey)
	})
}

// TestHardeningECDSASignature: ECDSA signatures must be the raw R||S of
// RFC 7518 §3.4 with r and s in [1, n-1]; "psychic signatures" (r = s = 0,
// CVE-2022-21449), DER encodings and wrong lengths are refused.
func TestHardeningECDSASignature(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	hdr := hgMustJSON(map[string]any{"alg": "ES256", "kid": "ec-es256", "typ": "at+jwt"})
	input := hgB64([]byte(hdr)) + "." + hgB64([]byte(hgMustJSON(hgValidClaims(f.kit.URL))))
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.ec, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	raw := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	f.h.accept(t, input+"."+hgB64(raw)) // control: the genuine raw signature

	der, err := ecdsa.SignASN1(rand.Reader, k.ec, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	n := k.ec.Curve.Params().N
	nBytes := n.FillBytes(make([]byte, 32))
	sPlusN := new(big.Int).Add(s, n) // s + n does not fit 32 bytes, or is >= n
	cases := map[string][]byte{
		"r=s=0 (64 zero bytes)":  make([]byte, 64),
		"r=s=n":                  append(append([]byte{}, nBytes...), nBytes...),
		"r=0, genuine s":         append(make([]byte, 32), raw[32:]...),
		"genuine r, s=0":         append(append([]byte{}, raw[:32]...), make([]byte, 32)...),
		"DER of genuine sig":     der,
		"raw + 1 byte":           append(append([]byte{}, raw...), 0),
		"raw - 1 byte":           raw[:63],
		"raw with leading zero":  append([]byte{0}, raw...),
		"empty-ish (1 byte)":     {0},
		"R||S of P-384 size":     append(append(make([]byte, 16), raw[:32]...), append(make([]byte, 16), raw[32:]...)...),
		"genuine r, s+n too big": append(append([]byte{}, raw[:32]...), sPlusN.Bytes()...),
	}
	for name, sig := range cases {
		t.Run(name, func(t *testing.T) {
			f.h.refuse(t, input+"."+hgB64(sig), middleware.ErrInvalidSignature)
		})
	}

	// The same for the issuer's own test-kit key, whose private half the
	// test does not hold: zero signatures never verify.
	sf := hgShared()
	kid := sf.kit.KeyID("ES256")
	for _, alg := range []string{"ES256"} {
		h := hgMustJSON(map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"})
		sf.h.refuse(t, hgCraft(h, hgMustJSON(hgValidClaims(sf.kit.URL)), make([]byte, 64)), middleware.ErrInvalidSignature)
	}
}

// TestHardeningSignatureLength: RSA and EdDSA signatures of the wrong
// length or content are refused.
func TestHardeningSignatureLength(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	for _, c := range []struct {
		alg, kid string
		key      crypto.Signer
	}{{"RS256", "rsa-rs256", k.rsa}, {"PS256", "rsa-ps256", k.rsa}, {"EdDSA", "ed-eddsa", k.ed}} {
		tok := f.token(t, c.alg, c.kid, c.key)
		i := len(tok) - 1
		for i > 0 && tok[i] != '.' {
			i--
		}
		input, sig := tok[:i], tok[i+1:]
		raw, err := hgDecodeSeg(sig)
		if err != nil {
			t.Fatal(err)
		}
		flipped := append([]byte{}, raw...)
		flipped[len(flipped)/2] ^= 1
		for name, s := range map[string][]byte{
			"truncated": raw[:len(raw)-1],
			"extended":  append(append([]byte{}, raw...), 0),
			"flipped":   flipped,
			"zeros":     make([]byte, len(raw)),
		} {
			t.Run(c.alg+"/"+name, func(t *testing.T) {
				f.h.refuse(t, input+"."+hgB64(s), middleware.ErrInvalidSignature)
			})
		}
	}
}

func hgDecodeSeg(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// TestMultiIssuer: with several trusted issuers, a token is routed by its
// "iss" and verified only with the keys of that issuer (RFC 8725 §3.8),
// even when another trusted issuer has a key with the same kid. An
// untrusted issuer named in a token is never contacted.
func TestMultiIssuer(t *testing.T) {
	t.Parallel()
	k := hgKeys()

	t.Run("test kits", func(t *testing.T) {
		t.Parallel()
		a, b := hgShared().kit, middlewaretest.NewIssuer()
		defer b.Close()
		h := hgNewHarness(t, a, middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: b.URL}}})
		h.waitReady(t)
		stranger := middlewaretest.NewIssuer()
		defer stranger.Close()
		h.accept(t, a.Token(middlewaretest.Spec{}))
		h.accept(t, b.Token(middlewaretest.Spec{}))
		h.accept(t, b.Token(middlewaretest.Spec{Alg: "ES256"}))
		typ := map[string]any{"typ": "at+jwt"}
		// B's key, A's kid, A's iss.
		h.refuse(t, b.Sign(hgWith(typ, "kid", a.KeyID("RS256")), hgValidClaims(a.URL)), middleware.ErrInvalidSignature)
		// B's key and kid, A's iss.
		h.refuse(t, b.Sign(typ, hgValidClaims(a.URL)), middleware.ErrUnknownKey)
		// A's key and kid, B's iss.
		h.refuse(t, a.Sign(typ, hgValidClaims(b.URL)), middleware.ErrUnknownKey)
		// A's key, B's kid, B's iss.
		h.refuse(t, a.Sign(hgWith(typ, "kid", b.KeyID("RS256")), hgValidClaims(b.URL)), middleware.ErrInvalidSignature)
		// B's key, no kid (Sign takes a nil kid for none), A's iss.
		h.refuse(t, b.Sign(map[string]any{"typ": "at+jwt", "kid": nil}, hgValidClaims(a.URL)), middleware.ErrInvalidSignature)
		// An untrusted issuer, even with a trusted issuer's kid.
		h.refuse(t, b.Sign(hgWith(typ, "kid", a.KeyID("RS256")), hgValidClaims("https://evil.example")), middleware.ErrInvalidIssuer)
		h.refuse(t, stranger.Token(middlewaretest.Spec{}), middleware.ErrInvalidIssuer)
		if n := stranger.JWKSRequests() + stranger.DiscoveryRequests(); n != 0 {
			t.Errorf("an untrusted issuer named in a token was contacted %d times", n)
		}
	})

	// Both issuers publish a key under the same kid; the tests hold both
	// private keys: each token is routed to the issuer it names, and
	// verified with that issuer's key only.
	t.Run("same kid, duplicate iss", func(t *testing.T) {
		t.Parallel()
		// Two issuers whose JWKS each hold a key under the kid "same".
		sa := hgNewCountingServer(t, http.StatusOK, "application/json", hgJwks(hgJwk(k.rsa, "same", "RS256")))
		sb := hgNewCountingServer(t, http.StatusOK, "application/json", hgJwks(hgJwk(k.rsa2, "same", "RS256")))
		type iss struct{ URL string }
		a, b := iss{"https://a.example"}, iss{"https://b.example"}
		h := hgNewHarness(t, nil, middleware.Config{
			Issuer: a.URL, JWKSURL: sa.URL,
			ExtraIssuers: []middleware.Issuer{{Issuer: b.URL, JWKSURL: sb.URL}},
		})
		h.waitReady(t)
		hdr := hgMustJSON(map[string]any{"alg": "RS256", "kid": "same", "typ": "at+jwt"})
		payload := func(iss ...string) string {
			m := hgValidClaims("")
			delete(m, "iss")
			s := hgMustJSON(m)
			var members []string
			for _, i := range iss {
				members = append(members, `"iss":`+hgMustJSON(i))
			}
			return "{" + strings.Join(members, ",") + "," + s[1:]
		}
		h.accept(t, hgSignRaw(t, "RS256", k.rsa, hdr, payload(a.URL)))
		h.accept(t, hgSignRaw(t, "RS256", k.rsa2, hdr, payload(b.URL)))
		h.refuse(t, hgSignRaw(t, "RS256", k.rsa2, hdr, payload(a.URL)), middleware.ErrInvalidSignature)
		h.refuse(t, hgSignRaw(t, "RS256", k.rsa, hdr, payload(b.URL)), middleware.ErrInvalidSignature)
		// "iss" given twice is refused, whichever issuer signed
		// (RFC 7519 §4): readers keeping the first and the last value
		// would route the token to different issuers.
		for _, dup := range [][]string{{a.URL, b.URL}, {a.URL, "https://evil.example"}, {"https://evil.example", a.URL}, {a.URL, a.URL}} {
			h.refuse(t, hgSignRaw(t, "RS256", k.rsa, hdr, payload(dup...)), middleware.ErrMalformedToken)
		}
	})
}

// TestKeyHeadersIgnored: "jku", "x5u", "jwk" and "x5c" header parameters
// are never fetched or used as keys (RFC 8725 §3.10): a token signed by an
// attacker who names their own key there is refused, and the attacker's
// server receives no request.
func TestKeyHeadersIgnored(t *testing.T) {
	t.Parallel()
	f := hgShared()
	k := hgKeys()
	attackerJWK := hgJwk(k.rsa2, "attacker", "RS256")
	attacker := hgNewCountingServer(t, http.StatusOK, "application/json", hgJwks(attackerJWK))
	cert := base64.StdEncoding.EncodeToString(hgSelfSigned(t, k.rsa2))
	issuerKid := f.kit.KeyID("RS256")
	// All four at once, x5c not even a certificate.
	allFour := map[string]any{
		"jku": attacker.URL + "/jwks",
		"x5u": attacker.URL + "/cert.pem",
		"jwk": attackerJWK,
		"x5c": []string{base64.StdEncoding.EncodeToString([]byte("not a certificate"))},
	}
	cases := []struct {
		name   string
		header map[string]any
		want   error
	}{
		{"jku, attacker kid", map[string]any{"jku": attacker.URL + "/jwks", "kid": "attacker"}, middleware.ErrUnknownKey},
		{"jku, issuer kid", map[string]any{"jku": attacker.URL + "/jwks", "kid": issuerKid}, middleware.ErrInvalidSignature},
		{"jku, no kid", map[string]any{"jku": attacker.URL + "/jwks"}, middleware.ErrInvalidSignature},
		{"x5u, attacker kid", map[string]any{"x5u": attacker.URL + "/cert.pem", "kid": "attacker"}, middleware.ErrUnknownKey},
		{"x5u, issuer kid", map[string]any{"x5u": attacker.URL + "/cert.pem", "kid": issuerKid}, middleware.ErrInvalidSignature},
		{"jwk, no kid", map[string]any{"jwk": attackerJWK}, middleware.ErrInvalidSignature},
		{"jwk, its kid", map[string]any{"jwk": attackerJWK, "kid": "attacker"}, middleware.ErrUnknownKey},
		{"jwk, issuer kid", map[string]any{"jwk": attackerJWK, "kid": issuerKid}, middleware.ErrInvalidSignature},
		{"x5c, no kid", map[string]any{"x5c": []string{cert}}, middleware.ErrInvalidSignature},
		{"x5c, issuer kid", map[string]any{"x5c": []string{cert}, "kid": issuerKid}, middleware.ErrInvalidSignature},
		{"all four", map[string]any{"jku": attacker.URL, "x5u": attacker.URL, "jwk": attackerJWK, "x5c": []string{cert}}, middleware.ErrInvalidSignature},
		{"all four, issuer kid", hgWith(allFour, "kid", issuerKid), middleware.ErrInvalidSignature},
		{"all four, attacker kid", hgWith(allFour, "kid", "attacker"), middleware.ErrUnknownKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := hgWith(c.header, "alg", "RS256", "typ", "at+jwt")
			f.h.refuse(t, f.kit.SignWith(k.rsa2, hdr, hgValidClaims(f.kit.URL)), c.want)
		})
	}
	// A valid token with the same headers, signed by the issuer, is
	// accepted: the headers are ignored, not a reason to refuse.
	tok := f.kit.Sign(map[string]any{"typ": "at+jwt", "jku": attacker.URL, "x5u": attacker.URL}, hgValidClaims(f.kit.URL))
	f.h.accept(t, tok)
	f.h.accept(t, f.kit.Sign(hgWith(allFour, "typ", "at+jwt"), hgValidClaims(f.kit.URL)))
	if n := attacker.n.Load(); n != 0 {
		t.Errorf("attacker server received %d requests", n)
	}
}
