package middlewaretest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// newIssuer starts an Issuer that is closed when the test ends.
func newIssuer(t *testing.T) *middlewaretest.Issuer {
	t.Helper()
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	return iss
}

// decode splits a compact JWS and decodes its header and payload without
// verifying anything.
func decode(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	for n, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[n])
		if err != nil {
			t.Fatalf("decode part %d: %v", n, err)
		}
		d := json.NewDecoder(strings.NewReader(string(raw)))
		d.UseNumber()
		if err := d.Decode(dst); err != nil {
			t.Fatalf("unmarshal part %d: %v", n, err)
		}
	}
	return header, claims
}

// verify checks token's signature with key and the expected alg.
func verify(t *testing.T, token, alg string, key any) {
	t.Helper()
	_, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{alg}),
		jwt.WithoutClaimsValidation())
	if err != nil {
		t.Fatalf("verify %s token: %v", alg, err)
	}
}

func getJSON(t *testing.T, iss *middlewaretest.Issuer, u string, dst any) *http.Response {
	t.Helper()
	resp, err := iss.Client().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if dst != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, dst); err != nil {
			t.Fatalf("GET %s: %v in %q", u, err, body)
		}
	}
	return resp
}

func TestURLs(t *testing.T) {
	iss := newIssuer(t)
	u, err := url.Parse(iss.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Path != "" {
		t.Errorf("URL = %q, want http://127.0.0.1:PORT", iss.URL)
	}
	if got, want := iss.JWKSURL(), iss.URL+"/jwks"; got != want {
		t.Errorf("JWKSURL() = %q, want %q", got, want)
	}
	if got, want := iss.TokenURL(), iss.URL+"/oauth/token"; got != want {
		t.Errorf("TokenURL() = %q, want %q", got, want)
	}
}

func TestDiscovery(t *testing.T) {
	iss := newIssuer(t)
	iss.AddClient(middlewaretest.Client{ID: "a", Secret: "s", Scopes: []string{"write", "read"}})
	iss.AddClient(middlewaretest.Client{ID: "b", Secret: "s", Scopes: []string{"read", "admin"}})
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		t.Run(path, func(t *testing.T) {
			var doc struct {
				Issuer                            string   `json:"issuer"`
				JWKSURI                           string   `json:"jwks_uri"`
				TokenEndpoint                     string   `json:"token_endpoint"`
				GrantTypesSupported               []string `json:"grant_types_supported"`
				TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
				IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
				ScopesSupported                   []string `json:"scopes_supported"`
				ResponseTypesSupported            []string `json:"response_types_supported"`
			}
			resp := getJSON(t, iss, iss.URL+path, &doc)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if doc.Issuer != iss.URL || doc.JWKSURI != iss.JWKSURL() || doc.TokenEndpoint != iss.TokenURL() {
				t.Errorf("issuer, jwks_uri, token_endpoint = %q, %q, %q", doc.Issuer, doc.JWKSURI, doc.TokenEndpoint)
			}
			if !reflect.DeepEqual(doc.GrantTypesSupported, []string{"client_credentials"}) {
				t.Errorf("grant_types_supported = %q", doc.GrantTypesSupported)
			}
			if !reflect.DeepEqual(doc.TokenEndpointAuthMethodsSupported, []string{"client_secret_basic", "client_secret_post"}) {
				t.Errorf("token_endpoint_auth_methods_supported = %q", doc.TokenEndpointAuthMethodsSupported)
			}
			for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA", "ES512"} {
				if !slices.Contains(doc.IDTokenSigningAlgValuesSupported, alg) {
					t.Errorf("id_token_signing_alg_values_supported = %q lacks %s", doc.IDTokenSigningAlgValuesSupported, alg)
				}
			}
			if !reflect.DeepEqual(doc.ScopesSupported, []string{"admin", "read", "write"}) {
				t.Errorf("scopes_supported = %q", doc.ScopesSupported)
			}
			if doc.ResponseTypesSupported == nil {
				t.Error("response_types_supported missing")
			}
		})
	}
	if got := iss.DiscoveryRequests(); got != 2 {
		t.Errorf("DiscoveryRequests() = %d, want 2", got)
	}
}

// fetchJWKS returns the published keys by kid, parsed with jwkset, and
// checks that every JWK has the required public members and nothing
// private.
func fetchJWKS(t *testing.T, iss *middlewaretest.Issuer) map[string]any {
	t.Helper()
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if resp := getJSON(t, iss, iss.JWKSURL(), &raw); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /jwks: status %d", resp.StatusCode)
	}
	public := map[string][]string{
		"RSA": {"alg", "e", "kid", "kty", "n", "use"},
		"EC":  {"alg", "crv", "kid", "kty", "use", "x", "y"},
		"OKP": {"alg", "crv", "kid", "kty", "use", "x"},
	}
	for _, k := range raw.Keys {
		members := slices.Sorted(func(yield func(string) bool) {
			for name := range k {
				if !yield(name) {
					return
				}
			}
		})
		kty, _ := k["kty"].(string)
		if want := public[kty]; !slices.Equal(members, want) || k["use"] != "sig" {
			t.Errorf("JWK members = %q (use %v), want %q, use sig", members, k["use"], want)
		}
	}

	var set jwkset.JWKSMarshal
	getJSON(t, iss, iss.JWKSURL(), &set)
	jwks, err := set.JWKSlice()
	if err != nil {
		t.Fatalf("jwkset cannot read the JWKS: %v", err)
	}
	keys := map[string]any{}
	for _, j := range jwks {
		keys[j.Marshal().KID] = j.Key()
	}
	return keys
}

func TestJWKS(t *testing.T) {
	iss := newIssuer(t)
	algs := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	eager := fetchJWKS(t, iss)
	if len(eager) != 4 {
		t.Errorf("fresh issuer publishes %d keys, want 4", len(eager))
	}
	for _, alg := range algs { // generates the lazy keys
		iss.KeyID(alg)
	}
	keys := fetchJWKS(t, iss)
	if len(keys) != len(algs) {
		t.Errorf("JWKS has %d keys, want %d", len(keys), len(algs))
	}
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			kid := iss.KeyID(alg)
			pub, ok := keys[kid]
			if !ok {
				t.Fatalf("kid %q not published", kid)
			}
			if !reflect.DeepEqual(pub, iss.PublicKey(alg)) {
				t.Errorf("published key differs from PublicKey(%q)", alg)
			}
			// A token signed with the current key verifies with the
			// published key.
			verify(t, iss.Token(middlewaretest.Spec{Alg: alg}), alg, pub)
		})
	}
	if got := iss.JWKSRequests(); got != 4 {
		t.Errorf("JWKSRequests() = %d, want 4", got)
	}
}

func TestKeyTypes(t *testing.T) {
	iss := newIssuer(t)
	tests := []struct {
		alg   string
		check func(any) bool
	}{
		{"RS256", func(k any) bool { r, ok := k.(*rsa.PublicKey); return ok && r.N.BitLen() == 2048 }},
		{"PS256", func(k any) bool { _, ok := k.(*rsa.PublicKey); return ok }},
		{"ES256", func(k any) bool { e, ok := k.(*ecdsa.PublicKey); return ok && e.Curve == elliptic.P256() }},
		{"ES384", func(k any) bool { e, ok := k.(*ecdsa.PublicKey); return ok && e.Curve == elliptic.P384() }},
		{"ES512", func(k any) bool { e, ok := k.(*ecdsa.PublicKey); return ok && e.Curve == elliptic.P521() }},
		{"EdDSA", func(k any) bool { _, ok := k.(ed25519.PublicKey); return ok }},
	}
	for _, tt := range tests {
		if !tt.check(iss.PublicKey(tt.alg)) {
			t.Errorf("PublicKey(%q) = %T, wrong type or size", tt.alg, iss.PublicKey(tt.alg))
		}
	}
	if iss.KeyID("RS256") == iss.KeyID("PS256") {
		t.Error("RS256 and PS256 share a key")
	}
}

func TestTokenProfiles(t *testing.T) {
	iss := newIssuer(t)
	const api = "https://api.example.test"
	scopes := []string{"read:items", "write:items"}
	scopeString := "read:items write:items"
	scopeArray := []any{"read:items", "write:items"}

	tests := []struct {
		name    string
		spec    middlewaretest.Spec
		typ     any // header typ; nil means absent
		want    map[string]any
		absent  []string
		present []string
	}{
		{
			name: "Generic user",
			spec: middlewaretest.Spec{Scopes: scopes},
			typ:  "at+jwt",
			want: map[string]any{
				"iss": iss.URL, "sub": "user-123", "aud": api,
				"client_id": "test-client", "scope": scopeString,
			},
			present: []string{"exp", "iat", "jti"},
		},
		{
			name:   "Generic machine",
			spec:   middlewaretest.Spec{Machine: true, ClientID: "svc"},
			typ:    "at+jwt",
			want:   map[string]any{"sub": "svc", "client_id": "svc"},
			absent: []string{"scope"},
		},
		{
			name: "Auth0 user",
			spec: middlewaretest.Spec{Profile: middlewaretest.Auth0, Scopes: scopes},
			typ:  "JWT",
			want: map[string]any{
				"sub": "user-123", "aud": []any{api, iss.URL + "/userinfo"},
				"azp": "test-client", "scope": scopeString, "permissions": scopeArray,
			},
			absent: []string{"gty", "client_id", "jti", "org_id"},
		},
		{
			name: "Auth0 machine",
			spec: middlewaretest.Spec{Profile: middlewaretest.Auth0, Machine: true, Scopes: scopes},
			typ:  "JWT",
			want: map[string]any{
				"sub": "test-client@clients", "aud": api, "azp": "test-client",
				"gty": "client-credentials", "scope": scopeString, "permissions": scopeArray,
			},
		},
		{
			name: "Logto organization",
			spec: middlewaretest.Spec{
				Profile:  middlewaretest.Logto,
				Audience: []string{"urn:logto:organization:org1"},
				Scopes:   scopes,
				Claims:   map[string]any{"organization_id": "org1"},
			},
			typ: "at+jwt",
			want: map[string]any{
				"aud": "urn:logto:organization:org1", "organization_id": "org1",
				"client_id": "test-client", "scope": scopeString,
			},
			present: []string{"jti"},
		},
		{
			name: "Logto machine",
			spec: middlewaretest.Spec{Profile: middlewaretest.Logto, Machine: true, ClientID: "m2m"},
			typ:  "at+jwt",
			want: map[string]any{"sub": "m2m", "client_id": "m2m", "aud": api},
		},
		{
			name: "Keycloak user",
			spec: middlewaretest.Spec{Profile: middlewaretest.Keycloak, Scopes: scopes},
			typ:  "JWT",
			want: map[string]any{
				"typ": "Bearer", "azp": "test-client", "sub": "user-123",
				"aud": []any{api, "account"}, "scope": scopeString,
				"realm_access":       map[string]any{"roles": scopeArray},
				"preferred_username": "user-123",
			},
			present: []string{"jti", "resource_access", "sid"},
			absent:  []string{"client_id"},
		},
		{
			name: "Keycloak machine",
			spec: middlewaretest.Spec{Profile: middlewaretest.Keycloak, Machine: true, ClientID: "My-Svc"},
			typ:  "JWT",
			want: map[string]any{
				"typ": "Bearer", "azp": "My-Svc", "client_id": "My-Svc",
				"preferred_username": "service-account-my-svc",
				"realm_access":       map[string]any{"roles": []any{}},
			},
			present: []string{"sub"},
			absent:  []string{"scope"},
		},
		{
			name: "Entra user",
			spec: middlewaretest.Spec{Profile: middlewaretest.Entra, Scopes: scopes, Audience: []string{"api://x"}},
			typ:  "JWT",
			want: map[string]any{
				"ver": "2.0", "aud": "api://x", "azp": "test-client",
				"scp": scopeString, "sub": "user-123",
			},
			present: []string{"tid", "oid", "nbf", "uti"},
			absent:  []string{"roles", "idtyp", "jti"},
		},
		{
			name: "Entra machine",
			spec: middlewaretest.Spec{Profile: middlewaretest.Entra, Machine: true, Scopes: scopes},
			typ:  "JWT",
			want: map[string]any{
				"ver": "2.0", "azp": "test-client", "roles": scopeArray, "idtyp": "app",
			},
			present: []string{"tid", "oid"},
			absent:  []string{"scp"},
		},
		{
			name:    "Okta user",
			spec:    middlewaretest.Spec{Profile: middlewaretest.Okta, Scopes: scopes},
			want:    map[string]any{"ver": json.Number("1"), "cid": "test-client", "scp": scopeArray, "sub": "user-123"},
			present: []string{"uid", "jti", "auth_time"},
			absent:  []string{"scope", "client_id"},
		},
		{
			name:   "Okta machine",
			spec:   middlewaretest.Spec{Profile: middlewaretest.Okta, Machine: true, Scopes: scopes},
			want:   map[string]any{"cid": "test-client", "sub": "test-client", "scp": scopeArray},
			absent: []string{"uid"},
		},
		{
			name: "Cognito user",
			spec: middlewaretest.Spec{Profile: middlewaretest.Cognito, Scopes: scopes, Audience: []string{"ignored"}},
			want: map[string]any{
				"token_use": "access", "client_id": "test-client", "scope": scopeString,
				"username": "user-123", "sub": "user-123",
			},
			present: []string{"jti", "auth_time"},
			absent:  []string{"aud"},
		},
		{
			name:   "Cognito machine",
			spec:   middlewaretest.Spec{Profile: middlewaretest.Cognito, Machine: true},
			want:   map[string]any{"token_use": "access", "sub": "test-client", "client_id": "test-client"},
			absent: []string{"aud", "username"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := iss.Token(tt.spec)
			verify(t, tok, "RS256", iss.PublicKey("RS256"))
			header, claims := decode(t, tok)
			if header["alg"] != "RS256" || header["kid"] != iss.KeyID("RS256") {
				t.Errorf("header alg, kid = %v, %v", header["alg"], header["kid"])
			}
			if header["typ"] != tt.typ {
				t.Errorf("header typ = %v, want %v", header["typ"], tt.typ)
			}
			checkClaims(t, claims, tt.want, tt.present, tt.absent)
			if claims["iss"] != iss.URL {
				t.Errorf("iss = %v", claims["iss"])
			}
			if !strings.HasPrefix(tt.name, "Cognito") && claims["aud"] == nil {
				t.Error("aud missing")
			}
		})
	}
}

func checkClaims(t *testing.T, claims, want map[string]any, present, absent []string) {
	t.Helper()
	for name, v := range want {
		got := claims[name]
		if !reflect.DeepEqual(got, v) {
			t.Errorf("claim %s = %#v, want %#v", name, got, v)
		}
	}
	for _, name := range present {
		if _, ok := claims[name]; !ok {
			t.Errorf("claim %s missing", name)
		}
	}
	for _, name := range absent {
		if v, ok := claims[name]; ok {
			t.Errorf("claim %s = %v, want absent", name, v)
		}
	}
}

func TestIDTokens(t *testing.T) {
	iss := newIssuer(t)
	tests := []struct {
		profile middlewaretest.Profile
		typ     any
		want    map[string]any
	}{
		{middlewaretest.Generic, "JWT", nil},
		{middlewaretest.Auth0, "JWT", map[string]any{"azp": "web"}},
		{middlewaretest.Logto, "JWT", nil},
		{middlewaretest.Keycloak, "JWT", map[string]any{"typ": "ID", "azp": "web"}},
		{middlewaretest.Entra, "JWT", map[string]any{"ver": "2.0"}},
		{middlewaretest.Okta, nil, map[string]any{"ver": json.Number("1")}},
		{middlewaretest.Cognito, nil, map[string]any{"token_use": "id", "cognito:username": "user-123"}},
	}
	for _, tt := range tests {
		t.Run(tt.profile.String(), func(t *testing.T) {
			tok := iss.Token(middlewaretest.Spec{Profile: tt.profile, Kind: middlewaretest.IDToken, ClientID: "web", Alg: "ES256"})
			verify(t, tok, "ES256", iss.PublicKey("ES256"))
			header, claims := decode(t, tok)
			if header["typ"] != tt.typ {
				t.Errorf("header typ = %v, want %v", header["typ"], tt.typ)
			}
			want := map[string]any{"iss": iss.URL, "sub": "user-123", "aud": "web", "nonce": "n-0S6_WzA2Mj"}
			for k, v := range tt.want {
				want[k] = v
			}
			checkClaims(t, claims, want, []string{"at_hash", "auth_time", "iat", "exp"}, []string{"scope", "client_id"})
			if h, _ := claims["at_hash"].(string); len(h) != 22 { // 16 bytes, base64url
				t.Errorf("at_hash = %q, want 22 characters for ES256", h)
			}
		})
	}
}

func TestTokenSpecFields(t *testing.T) {
	iss := newIssuer(t)
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

	t.Run("times", func(t *testing.T) {
		_, c := decode(t, iss.Token(middlewaretest.Spec{IssuedAt: at}))
		checkClaims(t, c, map[string]any{
			"iat": json.Number("1893553445"), "exp": json.Number("1893557045"),
		}, nil, nil)
	})
	t.Run("expired", func(t *testing.T) {
		tok := iss.Token(middlewaretest.Spec{Lifetime: -time.Minute})
		_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return iss.PublicKey("RS256"), nil })
		if !errors.Is(err, jwt.ErrTokenExpired) {
			t.Errorf("Parse error = %v, want ErrTokenExpired", err)
		}
	})
	t.Run("audiences", func(t *testing.T) {
		_, c := decode(t, iss.Token(middlewaretest.Spec{Audience: []string{"a", "b"}}))
		checkClaims(t, c, map[string]any{"aud": []any{"a", "b"}}, nil, nil)
	})
	t.Run("subject and client", func(t *testing.T) {
		_, c := decode(t, iss.Token(middlewaretest.Spec{Subject: "alice", ClientID: "app"}))
		checkClaims(t, c, map[string]any{"sub": "alice", "client_id": "app"}, nil, nil)
	})
	t.Run("claims and header overrides", func(t *testing.T) {
		tok := iss.Token(middlewaretest.Spec{
			Claims: map[string]any{"exp": nil, "iss": "https://evil.test", "custom": 7},
			Header: map[string]any{"typ": nil, "kid": nil, "x": "y"},
		})
		verify(t, tok, "RS256", iss.PublicKey("RS256"))
		h, c := decode(t, tok)
		checkClaims(t, c, map[string]any{"iss": "https://evil.test", "custom": json.Number("7")}, nil, []string{"exp"})
		checkClaims(t, h, map[string]any{"alg": "RS256", "x": "y"}, nil, []string{"typ", "kid"})
	})
	t.Run("header alg lies", func(t *testing.T) {
		tok := iss.Token(middlewaretest.Spec{Header: map[string]any{"alg": "RS512"}})
		h, _ := decode(t, tok)
		if h["alg"] != "RS512" {
			t.Errorf("alg = %v", h["alg"])
		}
		// The signature is still RS256.
		parts := strings.Split(tok, ".")
		if err := jwt.SigningMethodRS256.Verify(parts[0]+"."+parts[1], mustB64(t, parts[2]), iss.PublicKey("RS256")); err != nil {
			t.Errorf("RS256 signature: %v", err)
		}
	})
	t.Run("unknown alg panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		iss.Token(middlewaretest.Spec{Alg: "HS256"})
	})
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSign(t *testing.T) {
	iss := newIssuer(t)
	claims := map[string]any{"sub": "x"}

	tok := iss.Sign(nil, claims)
	verify(t, tok, "RS256", iss.PublicKey("RS256"))
	h, c := decode(t, tok)
	checkClaims(t, h, map[string]any{"alg": "RS256", "kid": iss.KeyID("RS256")}, nil, []string{"typ"})
	checkClaims(t, c, claims, nil, []string{"iss", "exp"})

	tok = iss.Sign(map[string]any{"alg": "ES384", "kid": nil, "typ": "JWT"}, claims)
	verify(t, tok, "ES384", iss.PublicKey("ES384"))
	h, _ = decode(t, tok)
	checkClaims(t, h, map[string]any{"alg": "ES384", "typ": "JWT"}, nil, []string{"kid"})

	tok = iss.Sign(map[string]any{"alg": "EdDSA", "kid": "other"}, claims)
	verify(t, tok, "EdDSA", iss.PublicKey("EdDSA"))
	h, _ = decode(t, tok)
	checkClaims(t, h, map[string]any{"kid": "other"}, nil, nil)

	tok = iss.Sign(map[string]any{"alg": "none"}, claims)
	if !strings.HasSuffix(tok, ".") {
		t.Errorf("alg none token %q has a signature", tok)
	}
	h, _ = decode(t, tok)
	checkClaims(t, h, map[string]any{"alg": "none"}, nil, []string{"kid"})
}

func TestSignWith(t *testing.T) {
	iss := newIssuer(t)
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tok := iss.SignWith(attacker, map[string]any{"kid": iss.KeyID("RS256")}, map[string]any{"sub": "x"})
	verify(t, tok, "RS256", &attacker.PublicKey)
	if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return iss.PublicKey("RS256"), nil }); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("verify with issuer key: %v, want ErrTokenSignatureInvalid", err)
	}

	// Algorithm confusion: HS256 keyed with the issuer's public key bytes.
	secret := iss.PublicKey("RS256").(*rsa.PublicKey).N.Bytes()
	tok = iss.SignWith(secret, map[string]any{"alg": "HS256"}, map[string]any{"sub": "x"})
	verify(t, tok, "HS256", secret)
	if h, _ := decode(t, tok); h["kid"] != nil {
		t.Errorf("SignWith added kid %v", h["kid"])
	}
}

func TestRotateAndRemove(t *testing.T) {
	iss := newIssuer(t)
	old := iss.KeyID("RS256")
	oldPub := iss.PublicKey("RS256")
	oldTok := iss.Token(middlewaretest.Spec{})

	kid := iss.RotateKey("RS256")
	if kid == old || iss.KeyID("RS256") != kid {
		t.Fatalf("RotateKey = %q, KeyID = %q, old %q", kid, iss.KeyID("RS256"), old)
	}
	keys := fetchJWKS(t, iss)
	if _, ok := keys[old]; !ok {
		t.Error("old key unpublished by rotation")
	}
	if _, ok := keys[kid]; !ok {
		t.Error("new key not published")
	}
	newTok := iss.Token(middlewaretest.Spec{})
	if h, _ := decode(t, newTok); h["kid"] != kid {
		t.Errorf("new token kid = %v, want %v", h["kid"], kid)
	}
	verify(t, newTok, "RS256", keys[kid])
	verify(t, oldTok, "RS256", oldPub)

	iss.RemoveKey(old)
	keys = fetchJWKS(t, iss)
	if _, ok := keys[old]; ok {
		t.Error("removed key still published")
	}
	if _, ok := keys[kid]; !ok {
		t.Error("RemoveKey removed the wrong key")
	}

	// Removing the current key keeps it signing: tokens with an unknown kid.
	iss.RemoveKey(kid)
	if h, _ := decode(t, iss.Token(middlewaretest.Spec{})); h["kid"] != kid {
		t.Errorf("kid after removal = %v, want %v", h["kid"], kid)
	}
	if _, ok := fetchJWKS(t, iss)[kid]; ok {
		t.Error("removed current key still published")
	}
}

func TestSetJWKS(t *testing.T) {
	iss := newIssuer(t)
	body := []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`)
	iss.SetJWKS(body)
	body[0] = 'X' // SetJWKS copies
	resp, err := iss.Client().Get(iss.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}` {
		t.Errorf("body = %q", got)
	}
	iss.SetJWKS(nil)
	if keys := fetchJWKS(t, iss); len(keys) != 4 {
		t.Errorf("restored JWKS has %d keys", len(keys))
	}
}

func TestSetStatusAndCounters(t *testing.T) {
	iss := newIssuer(t)
	iss.SetStatus(http.StatusServiceUnavailable)
	for _, u := range []string{iss.JWKSURL(), iss.URL + "/.well-known/openid-configuration", iss.URL + "/.well-known/oauth-authorization-server"} {
		if resp := getJSON(t, iss, u, nil); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("GET %s: status %d, want 503", u, resp.StatusCode)
		}
	}
	iss.AddClient(middlewaretest.Client{ID: "c", Secret: "s"})
	if resp, _ := postToken(t, iss, url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"}}, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("token endpoint affected by SetStatus: %d", resp.StatusCode)
	}
	iss.SetStatus(0)
	if resp := getJSON(t, iss, iss.JWKSURL(), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("after SetStatus(0): %d", resp.StatusCode)
	}
	if j, d := iss.JWKSRequests(), iss.DiscoveryRequests(); j != 2 || d != 2 {
		t.Errorf("JWKSRequests, DiscoveryRequests = %d, %d, want 2, 2", j, d)
	}
}

func TestSetDelay(t *testing.T) {
	iss := newIssuer(t)
	iss.SetDelay(time.Hour)

	// The client giving up ends the wait.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, iss.JWKSURL(), nil)
	if _, err := iss.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("delayed GET error = %v, want deadline exceeded", err)
	}

	// Close releases a request that is still waiting.
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(started)
		resp, err := iss.Client().Get(iss.URL + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-started
	for iss.DiscoveryRequests() == 0 {
		runtime.Gosched() // wait for the request to reach the delay
	}
	closed := make(chan struct{})
	go func() { iss.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung on a delayed request")
	}
	<-done
}

func postToken(t *testing.T, iss *middlewaretest.Issuer, form url.Values, prepare func(*http.Request)) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, iss.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if prepare != nil {
		prepare(req)
	}
	resp, err := iss.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("token response: %v", err)
	}
	return resp, body
}

func TestTokenEndpoint(t *testing.T) {
	iss := newIssuer(t)
	// An ID and secret with characters that form-urlencoding changes.
	const id, secret = "svc:1 ü", "p@ss:wörd+/="
	iss.AddClient(middlewaretest.Client{ID: id, Secret: secret, Scopes: []string{"read", "write"}, Profile: middlewaretest.Auth0})
	iss.AddClient(middlewaretest.Client{ID: "logto-app", Secret: "s3", Scopes: []string{"read"}, Profile: middlewaretest.Logto})
	basic := func(id, secret string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range cc {
			v[k] = vs
		}
		for n := 0; n < len(kv); n += 2 {
			v.Add(kv[n], kv[n+1])
		}
		return v
	}

	tests := []struct {
		name      string
		form      url.Values
		auth      func(*http.Request)
		status    int
		errCode   string
		scope     string
		claims    map[string]any
		challenge bool
	}{
		{
			name: "basic, all scopes, audience", form: with("audience", "https://api.a.test"), auth: basic(id, secret),
			status: 200, scope: "read write",
			claims: map[string]any{"sub": id + "@clients", "azp": id, "aud": "https://api.a.test", "gty": "client-credentials", "scope": "read write"},
		},
		{
			name: "post, scope subset, default audience", form: with("client_id", id, "client_secret", secret, "scope", "write"),
			status: 200, scope: "write",
			claims: map[string]any{"aud": "https://api.example.test", "scope": "write"},
		},
		{
			name: "Logto resource", form: with("client_id", "logto-app", "client_secret", "s3", "resource", "https://api.logto.test"),
			status: 200, scope: "read",
			claims: map[string]any{"sub": "logto-app", "client_id": "logto-app", "aud": "https://api.logto.test"},
		},
		{name: "wrong secret basic", form: cc, auth: basic(id, "nope"), status: 401, errCode: "invalid_client", challenge: true},
		{name: "wrong secret post", form: with("client_id", id, "client_secret", "nope"), status: 401, errCode: "invalid_client", challenge: true},
		{name: "unknown client", form: with("client_id", "who", "client_secret", "x"), status: 401, errCode: "invalid_client", challenge: true},
		{name: "no credentials", form: cc, status: 401, errCode: "invalid_client", challenge: true},
		{name: "bearer scheme", form: cc, auth: func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }, status: 401, errCode: "invalid_client", challenge: true},
		{name: "two auth methods", form: with("client_secret", secret), auth: basic(id, secret), status: 400, errCode: "invalid_request"},
		{name: "scope not allowed", form: with("scope", "read admin"), auth: basic(id, secret), status: 400, errCode: "invalid_scope"},
		{name: "other grant", form: url.Values{"grant_type": {"password"}}, auth: basic(id, secret), status: 400, errCode: "unsupported_grant_type"},
		{name: "missing grant", form: url.Values{}, auth: basic(id, secret), status: 400, errCode: "invalid_request"},
		{name: "repeated scope", form: with("scope", "read", "scope", "write"), auth: basic(id, secret), status: 400, errCode: "invalid_request"},
		{name: "relative resource", form: with("resource", "api"), auth: basic(id, secret), status: 400, errCode: "invalid_target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := postToken(t, iss, tt.form, tt.auth)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d (body %v)", resp.StatusCode, tt.status, body)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q", cc)
			}
			if got := resp.Header.Get("WWW-Authenticate"); tt.challenge != strings.HasPrefix(got, "Basic ") {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			if tt.status != http.StatusOK {
				if body["error"] != tt.errCode {
					t.Errorf("error = %v, want %s", body["error"], tt.errCode)
				}
				return
			}
			if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["scope"] != tt.scope {
				t.Errorf("response = %v", body)
			}
			tok, _ := body["access_token"].(string)
			verify(t, tok, "RS256", iss.PublicKey("RS256"))
			_, claims := decode(t, tok)
			checkClaims(t, claims, tt.claims, []string{"exp", "iat"}, nil)
		})
	}

	t.Run("GET not allowed", func(t *testing.T) {
		resp, err := iss.Client().Get(iss.TokenURL())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("status = %d", resp.StatusCode)
		}
	})
}

func TestProfileString(t *testing.T) {
	want := []string{"Generic", "Auth0", "Logto", "Keycloak", "Entra", "Okta", "Cognito"}
	for n, w := range want {
		if got := middlewaretest.Profile(n).String(); got != w {
			t.Errorf("Profile(%d).String() = %q, want %q", n, got, w)
		}
	}
	if got := middlewaretest.Profile(99).String(); got != "Profile(99)" {
		t.Errorf("String() = %q", got)
	}
}

// TestConcurrent mints, rotates and serves at the same time; run with -race.
func TestConcurrent(t *testing.T) {
	iss := newIssuer(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				tok := iss.Token(middlewaretest.Spec{Alg: "ES384"}) // lazy key, raced
				keyfunc := func(*jwt.Token) (any, error) { return iss.PublicKey("ES384"), nil }
				if _, err := jwt.Parse(tok, keyfunc); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			iss.RemoveKey(iss.KeyID("ES256"))
			iss.RotateKey("ES256")
			iss.SetStatus(0)
			iss.SetDelay(0)
		}
	})
	wg.Go(func() {
		for range 5 {
			resp, err := iss.Client().Get(iss.JWKSURL())
			if err != nil {
				t.Error(err)
				return
			}
			var set jwkset.JWKSMarshal
			if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
				t.Error(err)
			}
			resp.Body.Close()
			if _, err := set.JWKSlice(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
}
