package middleware_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// Opaque tokens: routing by kind, RFC 7662 introspection (the answer's
// rules, client authentication, failures, cache and coalescing) and
// Config.LookupToken.

func TestOpaqueRouting(t *testing.T) {
	kit := hgKit(t)
	opaque := kit.OpaqueToken(middlewaretest.Spec{Scopes: []string{"read:users"}, IssuedAt: time.Now()})

	t.Run("without a source an opaque token is malformed", func(t *testing.T) {
		v := hgNew(t, kit, middleware.Config{Now: time.Now})
		_, err := v.ValidateToken(t.Context(), opaque)
		hgWant(t, err, middleware.ErrMalformedToken)
	})
	t.Run("introspected", func(t *testing.T) {
		v := hgIntrospecting(t, kit, middleware.Config{})
		c, err := v.ValidateToken(t.Context(), opaque)
		hgWant(t, err)
		if c.Subject != "user-123" || c.ClientID != "test-client" || c.Issuer != kit.URL || !c.HasScope("read:users") {
			t.Errorf("claims %+v", c)
		}
		var custom struct {
			TokenType string `json:"token_type"`
			Active    bool   `json:"active"`
		}
		if err := c.Decode(&custom); err != nil || custom.TokenType != "Bearer" || !custom.Active {
			t.Errorf("Decode: %+v, %v", custom, err)
		}
	})
	t.Run("a JWT still goes the JWT way", func(t *testing.T) {
		v := hgIntrospecting(t, kit, middleware.Config{})
		if err := v.WaitReady(t.Context()); err != nil {
			t.Fatal(err)
		}
		before := kit.IntrospectionRequests()
		_, err := v.ValidateToken(t.Context(), kit.Token(middlewaretest.Spec{}))
		hgWant(t, err)
		_, err = v.ValidateToken(t.Context(), kit.Token(middlewaretest.Spec{Lifetime: -time.Hour}))
		hgWant(t, err, middleware.ErrTokenExpired)
		if n := kit.IntrospectionRequests() - before; n != 0 {
			t.Errorf("%d introspection calls for JWTs", n)
		}
	})
	t.Run("a JWE-shaped token is not introspected", func(t *testing.T) {
		// Five segments are not a compact JWS: an opaque token to the
		// source, which does not know it.
		v := hgIntrospecting(t, kit, middleware.Config{})
		_, err := v.ValidateToken(t.Context(), "eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn")
		hgWant(t, err, middleware.ErrTokenInactive)
	})
}

func TestIntrospectionAnswer(t *testing.T) {
	kit := hgKit(t)
	now := time.Now()
	spec := func(claims map[string]any) middlewaretest.Spec {
		return middlewaretest.Spec{IssuedAt: now, Scopes: []string{"read:users"}, Claims: claims}
	}
	revoked := kit.OpaqueToken(spec(nil))
	kit.Revoke(revoked)
	tests := []struct {
		name  string
		token string
		rule  middleware.AudienceRule
		ids   []string
		want  []error
	}{
		{name: "active", token: kit.OpaqueToken(spec(nil))},
		{name: "unknown", token: "c29tZSByYW5kb20gc3RyaW5n", want: []error{middleware.ErrTokenInactive}},
		{name: "revoked", token: revoked, want: []error{middleware.ErrTokenInactive}},
		{name: "expired at the issuer", token: kit.OpaqueToken(middlewaretest.Spec{IssuedAt: now.Add(-2 * time.Hour)}), want: []error{middleware.ErrTokenInactive}},
		{name: "active but expired", token: kit.OpaqueToken(middlewaretest.Spec{IssuedAt: now.Add(-2 * time.Hour), Claims: map[string]any{"active": true}}), want: []error{middleware.ErrTokenExpired}},
		{name: "active but not valid yet", token: kit.OpaqueToken(spec(map[string]any{"nbf": now.Add(time.Hour).Unix()})), want: []error{middleware.ErrTokenNotYetValid}},
		{name: "without exp", token: kit.OpaqueToken(spec(map[string]any{"exp": nil}))},
		{name: "another issuer", token: kit.OpaqueToken(spec(map[string]any{"iss": "https://evil.example.test"})), want: []error{middleware.ErrInvalidIssuer}},
		{name: "issuer differs in case", token: kit.OpaqueToken(spec(map[string]any{"iss": strings.ToUpper(kit.URL)})), want: []error{middleware.ErrInvalidIssuer}},
		{name: "without iss", token: kit.OpaqueToken(spec(map[string]any{"iss": nil}))},
		{name: "iss empty", token: kit.OpaqueToken(spec(map[string]any{"iss": ""})), want: []error{middleware.ErrInvalidIssuer}},
		{name: "iss null", token: kit.OpaqueToken(spec(map[string]any{"iss": json.RawMessage("null")})), want: []error{middleware.ErrInvalidIssuer}},
		{name: "another audience", token: kit.OpaqueToken(spec(map[string]any{"aud": "https://other.example.test"})), want: []error{middleware.ErrInvalidAudience}},
		{name: "without aud", token: kit.OpaqueToken(spec(map[string]any{"aud": nil})), want: []error{middleware.ErrInvalidAudience}},
		{name: "without aud, AudienceAbsentOK", token: kit.OpaqueToken(spec(map[string]any{"aud": nil})), rule: middleware.AudienceAbsentOK},
		{name: "another audience, AudienceAbsentOK", token: kit.OpaqueToken(spec(map[string]any{"aud": "https://other.example.test"})), rule: middleware.AudienceAbsentOK, want: []error{middleware.ErrInvalidAudience}},
		{name: "aud the client, AudienceClientID", token: kit.OpaqueToken(spec(map[string]any{"aud": "test-client"})), rule: middleware.AudienceClientID, ids: []string{"test-client"}},
		{name: "aud another client, AudienceClientID", token: kit.OpaqueToken(spec(map[string]any{"aud": "other", "client_id": "other"})), rule: middleware.AudienceClientID, ids: []string{"test-client"}, want: []error{middleware.ErrInvalidAudience}},
		{name: "aud the client, default rule", token: kit.OpaqueToken(spec(map[string]any{"aud": "test-client"})), want: []error{middleware.ErrInvalidAudience}},
		{name: "client not allowed", token: kit.OpaqueToken(spec(nil)), ids: []string{"another-client"}, want: []error{middleware.ErrInvalidAudience}},
		{name: "token_type bearer", token: kit.OpaqueToken(spec(map[string]any{"token_type": "bearer"}))},
		{name: "token_type access_token", token: kit.OpaqueToken(spec(map[string]any{"token_type": "access_token"}))},
		{name: "token_type absent", token: kit.OpaqueToken(spec(map[string]any{"token_type": nil}))},
		{name: "refresh token", token: kit.OpaqueToken(spec(map[string]any{"token_type": "refresh_token"})), want: []error{middleware.ErrNotAccessToken}},
		{name: "token_type a number", token: kit.OpaqueToken(spec(map[string]any{"token_type": 1})), want: []error{middleware.ErrMalformedToken}},
		{name: "ID-token claims", token: kit.OpaqueToken(spec(map[string]any{"nonce": "n"})), want: []error{middleware.ErrNotAccessToken}},
		{name: "bound by cnf", token: kit.OpaqueToken(spec(map[string]any{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}})), want: []error{middleware.ErrSenderConstrained}},
		{name: "scope an array", token: kit.OpaqueToken(spec(map[string]any{"scope": []string{"a"}})), want: []error{middleware.ErrMalformedToken}},
		{name: "name differs in case", token: kit.OpaqueToken(spec(map[string]any{"Scope": "admin"})), want: []error{middleware.ErrMalformedToken}},
		{name: "ACTIVE beside active", token: kit.OpaqueToken(spec(map[string]any{"ACTIVE": false})), want: []error{middleware.ErrMalformedToken}},
		{name: "Active beside active", token: kit.OpaqueToken(spec(map[string]any{"Active": false})), want: []error{middleware.ErrMalformedToken}},
		{name: "TOKEN_TYPE beside token_type", token: kit.OpaqueToken(spec(map[string]any{"TOKEN_TYPE": "refresh_token"})), want: []error{middleware.ErrMalformedToken}},
		{name: "Token_Type beside token_type", token: kit.OpaqueToken(spec(map[string]any{"Token_Type": "refresh_token"})), want: []error{middleware.ErrMalformedToken}},
		{name: "token_type with a Kelvin sign", token: kit.OpaqueToken(spec(map[string]any{"to\u212aen_type": "refresh_token"})), want: []error{middleware.ErrMalformedToken}},
		{name: "Token_Type alone", token: kit.OpaqueToken(spec(map[string]any{"token_type": nil, "Token_Type": "refresh_token"})), want: []error{middleware.ErrMalformedToken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := hgIntrospecting(t, kit, middleware.Config{ClientIDs: tt.ids, Introspection: &middleware.Introspection{Audience: tt.rule}})
			_, err := v.ValidateToken(t.Context(), tt.token)
			hgWant(t, err, tt.want...)
		})
	}
}

func TestIntrospectionNotAnAnswer(t *testing.T) {
	for _, body := range []string{
		`not json`,
		`[]`,
		`{}`,
		`{"active": "true"}`,
		`{"active": 1}`,
		`{"active": true, "active": false}`,
		`{"active": true, "scope": "a", "scope": "admin"}`,
		`{"active": true`,
	} {
		t.Run(body, func(t *testing.T) {
			kit := hgKit(t)
			kit.SetIntrospectionAnswer([]byte(body))
			v := hgIntrospecting(t, kit, middleware.Config{})
			_, err := v.ValidateToken(t.Context(), kit.OpaqueToken(middlewaretest.Spec{}))
			e := hgWant(t, err, middleware.ErrKeysUnavailable, middleware.ErrIntrospectionFailed)
			if e.RetryAfter < time.Second {
				t.Errorf("RetryAfter %v", e.RetryAfter)
			}
		})
	}
}

func TestIntrospectionFailures(t *testing.T) {
	t.Run("5xx, then recovery", func(t *testing.T) {
		kit := hgKit(t)
		v := hgIntrospecting(t, kit, middleware.Config{Introspection: &middleware.Introspection{Endpoint: kit.IntrospectionURL()}})
		token := kit.OpaqueToken(middlewaretest.Spec{IssuedAt: time.Now()})
		kit.SetStatus(http.StatusInternalServerError)
		_, err := v.ValidateToken(t.Context(), token)
		hgWant(t, err, middleware.ErrKeysUnavailable, middleware.ErrIntrospectionFailed)
		kit.SetStatus(0)
		_, err = v.ValidateToken(t.Context(), token)
		hgWant(t, err)
	})
	t.Run("unreachable", func(t *testing.T) {
		kit := hgKit(t)
		v := hgIntrospecting(t, kit, middleware.Config{Introspection: &middleware.Introspection{Endpoint: "http://127.0.0.1:1/introspect"}})
		_, err := v.ValidateToken(t.Context(), kit.OpaqueToken(middlewaretest.Spec{}))
		hgWant(t, err, middleware.ErrKeysUnavailable, middleware.ErrIntrospectionFailed)
	})
	t.Run("slower than Timeout", func(t *testing.T) {
		kit := hgKit(t)
		v := hgIntrospecting(t, kit, middleware.Config{Introspection: &middleware.Introspection{
			Endpoint: kit.IntrospectionURL(), Timeout: 50 * time.Millisecond}})
		kit.SetDelay(5 * time.Second)
		start := time.Now()
		_, err := v.ValidateToken(t.Context(), kit.OpaqueToken(middlewaretest.Spec{}))
		hgWant(t, err, middleware.ErrKeysUnavailable, middleware.ErrIntrospectionFailed)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("answered after %v", d)
		}
	})
	t.Run("no introspection_endpoint discovered", func(t *testing.T) {
		kit := hgKit(t)
		kit.SetStatus(http.StatusNotFound)
		v := hgIntrospecting(t, kit, middleware.Config{})
		_, err := v.ValidateToken(t.Context(), kit.OpaqueToken(middlewaretest.Spec{}))
		hgWant(t, err, middleware.ErrKeysUnavailable, middleware.ErrIntrospectionFailed, middleware.ErrDiscoveryFailed)
	})
	t.Run("our credentials refused: 503 and one warning", func(t *testing.T) {
		kit := hgKit(t)
		var buf bytes.Buffer
		var mu sync.Mutex
		logger := slog.New(slog.NewTextHandler(&hgLockedWriter{w: &buf, mu: &mu}, nil))
		v := hgIntrospecting(t, kit, middleware.Config{Logger: logger, Introspection: &middleware.Introspection{ClientSecret: "wrong"}})
		for range 3 {
			_, err := v.ValidateToken(t.Context(), kit.OpaqueToken(middlewaretest.Spec{}))
			hgWant(t, err, middleware.ErrKeysUnavailable, middleware.ErrIntrospectionFailed)
		}
		mu.Lock()
		defer mu.Unlock()
		if n := strings.Count(buf.String(), "refuses this API's client credentials"); n != 1 {
			t.Errorf("%d warnings, want 1:\n%s", n, buf.String())
		}
		if strings.Contains(buf.String(), "wrong") {
			t.Errorf("the secret is logged:\n%s", buf.String())
		}
	})
}

// hgLockedWriter serializes writes to w.
type hgLockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *hgLockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestIntrospectionClientAuthentication(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		in     middleware.Introspection
		public crypto.PublicKey
		want   []error
	}{
		{name: "client_secret_basic, form-urlencoded", in: middleware.Introspection{}},
		{name: "client_secret_post", in: middleware.Introspection{AuthMethod: middleware.AuthClientSecretPost}},
		{name: "private_key_jwt RSA", in: middleware.Introspection{AuthMethod: middleware.AuthPrivateKeyJWT, PrivateKey: rsaKey, KeyID: "k1"}, public: &rsaKey.PublicKey},
		{name: "private_key_jwt ES384", in: middleware.Introspection{AuthMethod: middleware.AuthPrivateKeyJWT, PrivateKey: ecKey}, public: &ecKey.PublicKey},
		{name: "private_key_jwt EdDSA", in: middleware.Introspection{AuthMethod: middleware.AuthPrivateKeyJWT, PrivateKey: edKey}, public: edKey.Public()},
		{name: "private_key_jwt with another key", in: middleware.Introspection{AuthMethod: middleware.AuthPrivateKeyJWT, PrivateKey: other}, public: &ecKey.PublicKey,
			want: []error{middleware.ErrKeysUnavailable, middleware.ErrIntrospectionFailed}},
		{name: "wrong secret", in: middleware.Introspection{ClientSecret: "wrong"}, want: []error{middleware.ErrKeysUnavailable, middleware.ErrIntrospectionFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kit := hgKit(t)
			v := hgIntrospecting(t, kit, middleware.Config{Introspection: &tt.in})
			kit.AddClient(middlewaretest.Client{ID: hgOpaqueClient, Secret: hgOpaqueSecret, PublicKey: tt.public})
			// Two calls: a private_key_jwt assertion is never replayed.
			for range 2 {
				_, err := v.ValidateToken(t.Context(), kit.OpaqueToken(middlewaretest.Spec{IssuedAt: time.Now()}))
				hgWant(t, err, tt.want...)
			}
		})
	}
}

// hgClock is a settable clock for the cache tests.
type hgClock struct{ ns atomic.Int64 }

func (c *hgClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *hgClock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newHgClock(t time.Time) *hgClock  { c := &hgClock{}; c.ns.Store(t.UnixNano()); return c }

func TestIntrospectionCache(t *testing.T) {
	t.Run("TTL 0 asks every time", func(t *testing.T) {
		kit := hgKit(t)
		v := hgIntrospecting(t, kit, middleware.Config{})
		token := kit.OpaqueToken(middlewaretest.Spec{IssuedAt: time.Now()})
		for range 3 {
			_, err := v.ValidateToken(t.Context(), token)
			hgWant(t, err)
		}
		kit.Revoke(token)
		_, err := v.ValidateToken(t.Context(), token)
		hgWant(t, err, middleware.ErrTokenInactive)
		if n := kit.IntrospectionRequests(); n != 4 {
			t.Errorf("%d calls, want 4", n)
		}
	})
	t.Run("revocation is seen when the entry expires", func(t *testing.T) {
		kit := hgKit(t)
		clock := newHgClock(time.Now())
		v := hgIntrospecting(t, kit, middleware.Config{Now: clock.now, Introspection: &middleware.Introspection{CacheTTL: time.Minute}})
		token := kit.OpaqueToken(middlewaretest.Spec{IssuedAt: time.Now(), Scopes: []string{"a"}})
		c, err := v.ValidateToken(t.Context(), token)
		hgWant(t, err)
		c.Scopes[0] = "admin" // the caller's own copy
		kit.Revoke(token)
		clock.add(59 * time.Second)
		c, err = v.ValidateToken(t.Context(), token)
		hgWant(t, err)
		if !slices.Equal(c.Scopes, []string{"a"}) {
			t.Errorf("scopes %q: a handler changed the cached claims", c.Scopes)
		}
		clock.add(time.Second)
		_, err = v.ValidateToken(t.Context(), token)
		hgWant(t, err, middleware.ErrTokenInactive)
		if n := kit.IntrospectionRequests(); n != 2 {
			t.Errorf("%d calls, want 2", n)
		}
	})
	t.Run("never past exp", func(t *testing.T) {
		kit := hgKit(t)
		clock := newHgClock(time.Now())
		v := hgIntrospecting(t, kit, middleware.Config{Now: clock.now, Leeway: -1, Introspection: &middleware.Introspection{CacheTTL: time.Hour}})
		token := kit.OpaqueToken(middlewaretest.Spec{IssuedAt: time.Now(), Lifetime: 10 * time.Minute})
		_, err := v.ValidateToken(t.Context(), token)
		hgWant(t, err)
		clock.add(11 * time.Minute)
		_, err = v.ValidateToken(t.Context(), token)
		hgWant(t, err, middleware.ErrTokenExpired)
	})
	t.Run("inactive cached briefly", func(t *testing.T) {
		kit := hgKit(t)
		clock := newHgClock(time.Now())
		v := hgIntrospecting(t, kit, middleware.Config{Now: clock.now, Introspection: &middleware.Introspection{CacheTTL: time.Hour}})
		for range 3 {
			_, err := v.ValidateToken(t.Context(), "dW5rbm93bg")
			hgWant(t, err, middleware.ErrTokenInactive)
		}
		if n := kit.IntrospectionRequests(); n != 1 {
			t.Errorf("%d calls, want 1", n)
		}
		clock.add(middleware.IntrospectionNegativeTTL)
		_, err := v.ValidateToken(t.Context(), "dW5rbm93bg")
		hgWant(t, err, middleware.ErrTokenInactive)
		if n := kit.IntrospectionRequests(); n != 2 {
			t.Errorf("%d calls, want 2", n)
		}
	})
	t.Run("failures are not cached", func(t *testing.T) {
		kit := hgKit(t)
		v := hgIntrospecting(t, kit, middleware.Config{Introspection: &middleware.Introspection{Endpoint: kit.IntrospectionURL(), CacheTTL: time.Hour}})
		token := kit.OpaqueToken(middlewaretest.Spec{IssuedAt: time.Now()})
		kit.SetStatus(http.StatusBadGateway)
		_, err := v.ValidateToken(t.Context(), token)
		hgWant(t, err, middleware.ErrKeysUnavailable)
		kit.SetStatus(0)
		_, err = v.ValidateToken(t.Context(), token)
		hgWant(t, err)
	})
}

// TestIntrospectionCoalescing: 100 concurrent first requests with one new
// opaque token cause exactly one introspection call.
func TestIntrospectionCoalescing(t *testing.T) {
	for _, ttl := range []time.Duration{0, time.Minute} {
		t.Run("CacheTTL "+ttl.String(), func(t *testing.T) {
			kit := hgKit(t)
			v := hgIntrospecting(t, kit, middleware.Config{Introspection: &middleware.Introspection{Endpoint: kit.IntrospectionURL(), CacheTTL: ttl}})
			token := kit.OpaqueToken(middlewaretest.Spec{IssuedAt: time.Now()})
			// Hold the answer until every request has asked.
			kit.SetDelay(500 * time.Millisecond)
			var wg sync.WaitGroup
			for range 100 {
				wg.Go(func() {
					_, err := v.ValidateToken(context.Background(), token)
					if err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if n := kit.IntrospectionRequests(); n != 1 {
				t.Errorf("%d introspection calls, want 1", n)
			}
		})
	}
}

func TestLookupToken(t *testing.T) {
	kit := hgKit(t)
	now := time.Now()
	store := map[string]*claims.Claims{
		"good":    {Issuer: kit.URL, Subject: "alice", ClientID: "app", Audience: []string{hgAudience}, Scopes: []string{"read:users"}, ExpiresAt: now.Add(time.Hour)},
		"no-iss":  {Subject: "alice", Audience: []string{hgAudience}},
		"expired": {Audience: []string{hgAudience}, ExpiresAt: now.Add(-time.Hour)},
		"no-aud":  {Subject: "alice"},
		"evil":    {Issuer: "https://evil.example.test", Audience: []string{hgAudience}},
		"bound":   {Audience: []string{hgAudience}, Payload: []byte(`{"cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}`)},
	}
	down := errors.New("store down")
	lookup := func(_ context.Context, token string) (*claims.Claims, error) {
		switch token {
		case "revoked":
			return nil, middleware.ErrTokenInactive
		case "invalid":
			return nil, errors.Join(errors.New("not found"), middleware.ErrInvalidToken)
		case "down":
			return nil, down
		case "own":
			return nil, middleware.NewError(middleware.ErrInsufficientScope, "own answer", nil)
		}
		return store[token], nil
	}
	v := hgNew(t, kit, middleware.Config{Now: time.Now, LookupToken: lookup})
	tests := []struct {
		token string
		want  []error
	}{
		{"good", nil},
		{"no-iss", nil},
		{"unknown", []error{middleware.ErrTokenInactive}},
		{"revoked", []error{middleware.ErrTokenInactive}},
		{"invalid", []error{middleware.ErrTokenInactive}},
		{"down", []error{middleware.ErrKeysUnavailable, middleware.ErrLookupFailed, down}},
		{"own", []error{middleware.ErrInsufficientScope}},
		{"expired", []error{middleware.ErrTokenExpired}},
		{"no-aud", []error{middleware.ErrInvalidAudience}},
		{"evil", []error{middleware.ErrInvalidIssuer}},
		{"bound", []error{middleware.ErrSenderConstrained}},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			c, err := v.ValidateToken(t.Context(), tt.token)
			hgWant(t, err, tt.want...)
			if tt.token == "good" {
				c.Scopes[0] = "admin"
				if store["good"].Scopes[0] != "read:users" {
					t.Error("the handler's claims share the store's")
				}
			}
		})
	}
}

func TestOpaqueConfig(t *testing.T) {
	kit := hgKit(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(context.Context, string) (*claims.Claims, error) { return nil, nil }
	base := middleware.Introspection{ClientID: "rs", ClientSecret: "s"}
	with := func(f func(in *middleware.Introspection)) *middleware.Introspection {
		in := base
		f(&in)
		return &in
	}
	tests := []struct {
		name string
		cfg  middleware.Config
		ok   bool
	}{
		{name: "introspection", cfg: middleware.Config{Introspection: &base}, ok: true},
		{name: "both sources", cfg: middleware.Config{Introspection: &base, LookupToken: lookup}},
		{name: "no client id", cfg: middleware.Config{Introspection: &middleware.Introspection{CacheTTL: time.Minute}}},
		{name: "untrusted issuer", cfg: middleware.Config{Introspection: with(func(in *middleware.Introspection) { in.Issuer = "https://other.example.test" })}},
		{name: "extra issuer", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: "https://other.example.test"}}, Introspection: with(func(in *middleware.Introspection) { in.Issuer = "https://other.example.test" })}, ok: true},
		{name: "http endpoint", cfg: middleware.Config{Introspection: with(func(in *middleware.Introspection) { in.Endpoint = "http://as.example.test/introspect" })}},
		{name: "no secret", cfg: middleware.Config{Introspection: with(func(in *middleware.Introspection) { in.ClientSecret = "" })}},
		{name: "unknown method", cfg: middleware.Config{Introspection: with(func(in *middleware.Introspection) { in.AuthMethod = "none" })}},
		{name: "private_key_jwt without key", cfg: middleware.Config{Introspection: with(func(in *middleware.Introspection) {
			in.AuthMethod, in.ClientSecret = middleware.AuthPrivateKeyJWT, ""
		})}},
		{name: "private_key_jwt", cfg: middleware.Config{Introspection: with(func(in *middleware.Introspection) {
			in.AuthMethod, in.ClientSecret, in.PrivateKey = middleware.AuthPrivateKeyJWT, "", key
		})}, ok: true},
		{name: "AudienceClientID without ClientIDs", cfg: middleware.Config{Introspection: with(func(in *middleware.Introspection) { in.Audience = middleware.AudienceClientID })}},
		{name: "unknown audience rule", cfg: middleware.Config{Introspection: with(func(in *middleware.Introspection) { in.Audience = 7 })}},
		{name: "negative CacheTTL", cfg: middleware.Config{Introspection: with(func(in *middleware.Introspection) { in.CacheTTL = -1 })}},
		{name: "lookup", cfg: middleware.Config{LookupToken: lookup}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Issuer, cfg.Audiences = kit.URL, []string{hgAudience}
			_, err := middleware.New(t.Context(), cfg)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, middleware.ErrInvalidConfig)) {
				t.Errorf("New: %v, want ok %v", err, tt.ok)
			}
		})
	}
}
