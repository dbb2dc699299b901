package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// Trust per issuer (issuers.go): each issuer's tokens judged by that
// issuer's own rules only, with Config's as defaults; APIs without a JWT
// issuer; opaque tokens routed to one source.

const (
	hgAPIA = "https://a.api.example.test"
	hgAPIB = "https://b.api.example.test"
)

// TestIssuerIsolation: a token of issuer A is judged by A's rules only,
// even when B trusts what it carries, and even when both publish the same
// key (Auth0 custom domains).
func TestIssuerIsolation(t *testing.T) {
	a, b := hgKit(t), hgKit(t)
	cfg := func(jwksB string) middleware.Config {
		return middleware.Config{
			Now:          hgFixedNow,
			Audiences:    []string{hgAPIA},
			ExtraIssuers: []middleware.Issuer{{Issuer: b.URL, JWKSURL: jwksB, Audiences: []string{hgAPIB}}},
		}
	}
	tok := func(kit *middlewaretest.Issuer, iss, aud string) string {
		return hgToken(kit, middlewaretest.Spec{Audience: []string{aud}, Claims: map[string]any{"iss": iss}})
	}
	t.Run("own keys", func(t *testing.T) {
		h := hgNewHarness(t, a, cfg(""))
		h.waitReady(t)
		hgWaitIssuer(t, h.v, b, tok(b, b.URL, hgAPIB))
		h.accept(t, tok(a, a.URL, hgAPIA))
		h.accept(t, tok(b, b.URL, hgAPIB))
		h.refuse(t, tok(a, a.URL, hgAPIB), middleware.ErrInvalidAudience)
		h.refuse(t, tok(b, b.URL, hgAPIA), middleware.ErrInvalidAudience)
		// One issuer's key never verifies a token naming the other.
		h.refuse(t, tok(a, b.URL, hgAPIB), middleware.ErrInvalidToken)
		h.refuse(t, tok(b, a.URL, hgAPIA), middleware.ErrInvalidToken)
	})
	t.Run("a key both publish", func(t *testing.T) {
		// b's JWK Set is a's: a token signed with that key verifies for
		// either issuer, under that issuer's rules only.
		h := hgNewHarness(t, a, cfg(a.JWKSURL()))
		h.waitReady(t)
		hgWaitIssuer(t, h.v, b, tok(a, b.URL, hgAPIB))
		h.accept(t, tok(a, a.URL, hgAPIA))
		h.accept(t, tok(a, b.URL, hgAPIB))
		h.refuse(t, tok(a, a.URL, hgAPIB), middleware.ErrInvalidAudience)
		h.refuse(t, tok(a, b.URL, hgAPIA), middleware.ErrInvalidAudience)
	})
	t.Run("both audiences at the top are shared", func(t *testing.T) {
		// Without audiences of its own, an issuer has Config's: the old
		// shape, where both are trusted for both.
		h := hgNewHarness(t, a, middleware.Config{
			Now:          hgFixedNow,
			Audiences:    []string{hgAPIA, hgAPIB},
			ExtraIssuers: []middleware.Issuer{{Issuer: b.URL}},
		})
		h.waitReady(t)
		hgWaitIssuer(t, h.v, b, tok(b, b.URL, hgAPIA))
		h.accept(t, tok(a, a.URL, hgAPIB))
		h.accept(t, tok(b, b.URL, hgAPIA))
	})
}

// hgFixedNow is the fixed clock of Config.Now: hgNow.
func hgFixedNow() time.Time { return hgNow }

// hgWaitIssuer waits, bounded, until the validator has kit's keys: token,
// a valid token of kit, is no longer answered 503.
func hgWaitIssuer(t testing.TB, v *middleware.Validator, kit *middlewaretest.Issuer, token string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		_, err := v.ValidateToken(ctx, token)
		if !errors.Is(err, middleware.ErrKeysUnavailable) {
			return
		}
	}
	t.Fatalf("keys of %s not obtained", kit.URL)
}

// TestIssuerRules: every rule an issuer may set applies to its tokens, and
// only to its tokens: the other issuer keeps Config's.
func TestIssuerRules(t *testing.T) {
	a, b := hgKitAll(t), hgKitAll(t)
	dkey := middlewaretest.NewDPoPKey("ES256")
	spec := func(kit *middlewaretest.Issuer, s middlewaretest.Spec) string { return hgToken(kit, s) }
	for _, tc := range []struct {
		name  string
		rules middleware.Issuer
		spec  middlewaretest.Spec
		r     func(token string) *http.Request // default: Bearer
		p     middleware.Policy
		wantA error // the token minted by a, under Config's rules
		wantB error // the same token minted by b, under b's rules
	}{
		{name: "Algorithms", rules: middleware.Issuer{Algorithms: []string{"ES256"}},
			spec: middlewaretest.Spec{Alg: "RS256"}, wantB: middleware.ErrUnsupportedAlgorithm},
		{name: "Audiences", rules: middleware.Issuer{Audiences: []string{hgAPIB}},
			spec: middlewaretest.Spec{}, wantB: middleware.ErrInvalidAudience},
		{name: "ClientIDs alone (Cognito)", rules: middleware.Issuer{ClientIDs: []string{"test-client"}},
			spec: middlewaretest.Spec{Profile: middlewaretest.Cognito}, wantA: middleware.ErrInvalidAudience},
		{name: "ClientIDs refuse another client", rules: middleware.Issuer{Audiences: []string{hgAudience}, ClientIDs: []string{"other"}},
			spec: middlewaretest.Spec{}, wantB: middleware.ErrInvalidAudience},
		{name: "AccessTokenType", rules: middleware.Issuer{AccessTokenType: middleware.TokenTypeAccessJWT},
			spec: middlewaretest.Spec{Profile: middlewaretest.Auth0}, wantB: middleware.ErrNotAccessToken},
		{name: "ScopeClaims", rules: middleware.Issuer{ScopeClaims: []string{"permissions"}},
			spec: middlewaretest.Spec{Profile: middlewaretest.Auth0, Scopes: []string{"read"}, Claims: map[string]any{"scope": nil, "permissions": []string{"read"}}},
			p:    middleware.ScopePolicy("read"), wantA: middleware.ErrInsufficientScope},
		{name: "ACRClaim", rules: middleware.Issuer{ACRClaim: "acrs"},
			spec: middlewaretest.Spec{Claims: map[string]any{"acrs": []string{"c1"}}},
			p:    middleware.Policy{ACRValues: []string{"c1"}}, wantA: middleware.ErrACRNotAccepted},
		{name: "Binding DPoP", rules: middleware.Issuer{Binding: middleware.BindingDPoP},
			spec: middlewaretest.Spec{}, wantB: middleware.ErrDPoPRequired},
		{name: "Binding DPoP with a proof", rules: middleware.Issuer{Binding: middleware.BindingDPoP},
			spec: middlewaretest.Spec{JKT: dkey.Thumbprint()},
			r:    func(tok string) *http.Request { return hgDPoPRequest(tok, hgProof(dkey, tok, middlewaretest.Proof{})) }},
		{name: "Binding certificate", rules: middleware.Issuer{Binding: middleware.BindingCertificate},
			spec: middlewaretest.Spec{}, wantB: middleware.ErrCertificateRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules := tc.rules
			rules.Issuer = b.URL
			v := hgReady(t, a, middleware.Config{
				DPoP:         middleware.DPoP{Mode: middleware.DPoPAllowed},
				ExtraIssuers: []middleware.Issuer{rules},
			})
			r := tc.r
			if r == nil {
				r = hgRequest
			}
			tokA, tokB := spec(a, tc.spec), spec(b, tc.spec)
			hgWaitIssuer(t, v, b, spec(b, middlewaretest.Spec{Alg: "ES256", JKT: dkey.Thumbprint(), Claims: map[string]any{"acrs": []string{"c1"}}}))
			_, err := v.Check(r(tokA), tc.p)
			hgWant(t, err, hgWants(tc.wantA)...)
			_, err = v.Check(r(tokB), tc.p)
			hgWant(t, err, hgWants(tc.wantB)...)
		})
	}
}

// TestIssuerConfig: the settings of an issuer are checked by New.
func TestIssuerConfig(t *testing.T) {
	kit := hgKit(t)
	lookup := func(context.Context, string) (*claims.Claims, error) { return nil, nil }
	in := func() *middleware.Introspection {
		return &middleware.Introspection{ClientID: "rs", ClientSecret: "s", Endpoint: kit.IntrospectionURL()}
	}
	const other = "https://other.example.test"
	for _, tc := range []struct {
		name string
		cfg  middleware.Config
		ok   bool
	}{
		{name: "nothing trusted", cfg: middleware.Config{Audiences: []string{hgAudience}}},
		{name: "extra issuer without name", cfg: middleware.Config{Issuer: kit.URL, Audiences: []string{hgAudience}, ExtraIssuers: []middleware.Issuer{{}}}},
		{name: "extra issuers alone", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other, Audiences: []string{hgAPIB}}}}, ok: true},
		{name: "issuer without audience", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other}}}},
		{name: "empty issuer audience", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other, Audiences: []string{""}}}}},
		{name: "empty issuer client id", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other, ClientIDs: []string{""}}}}},
		{name: "issuer HS256", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other, Audiences: []string{hgAPIB}, Algorithms: []string{"HS256"}}}}},
		{name: "issuer empty scope claim", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other, Audiences: []string{hgAPIB}, ScopeClaims: []string{""}}}}},
		{name: "unknown token type rule", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other, Audiences: []string{hgAPIB}, AccessTokenType: 9}}}},
		{name: "unknown binding rule", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other, Audiences: []string{hgAPIB}, Binding: 9}}}},
		{name: "both sources", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other, Audiences: []string{hgAPIB}, Introspection: in(), LookupToken: lookup}}}},
		{name: "opaque only without source", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other, Audiences: []string{hgAPIB}, OpaqueOnly: true}}}},
		{name: "opaque only with JWKS URL", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other, Audiences: []string{hgAPIB}, OpaqueOnly: true, LookupToken: lookup, JWKSURL: other + "/jwks"}}}},
		{name: "prefix without source", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other, Audiences: []string{hgAPIB}, OpaqueTokenPrefix: "x_"}}}},
		{name: "introspection of another issuer", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other, Audiences: []string{hgAPIB}, Introspection: &middleware.Introspection{Issuer: kit.URL, ClientID: "rs", ClientSecret: "s"}}}}},
		{name: "issuer introspection without client", cfg: middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: other, Audiences: []string{hgAPIB}, Introspection: &middleware.Introspection{}}}}},
		{name: "two sources without prefix", cfg: middleware.Config{Issuer: kit.URL, Audiences: []string{hgAudience}, LookupToken: lookup,
			ExtraIssuers: []middleware.Issuer{{Issuer: other, Introspection: in()}}}},
		{name: "two sources, one prefixed", cfg: middleware.Config{Issuer: kit.URL, Audiences: []string{hgAudience}, LookupToken: lookup,
			ExtraIssuers: []middleware.Issuer{{Issuer: other, Introspection: in(), OpaqueTokenPrefix: "ory_at_"}}}, ok: true},
		{name: "two sources by function", cfg: middleware.Config{Issuer: kit.URL, Audiences: []string{hgAudience}, LookupToken: lookup,
			OpaqueTokenIssuer: func(string) string { return "" },
			ExtraIssuers:      []middleware.Issuer{{Issuer: other, Introspection: in()}}}, ok: true},
		{name: "overlapping prefixes", cfg: middleware.Config{Audiences: []string{hgAudience}, ExtraIssuers: []middleware.Issuer{
			{Issuer: other, LookupToken: lookup, OpaqueTokenPrefix: "ory_"},
			{Issuer: kit.URL, LookupToken: lookup, OpaqueTokenPrefix: "ory_at_"}}}},
		{name: "OpaqueTokenIssuer without source", cfg: middleware.Config{Issuer: kit.URL, Audiences: []string{hgAudience}, OpaqueTokenIssuer: func(string) string { return "" }}},
		{name: "lookup without issuer", cfg: middleware.Config{Audiences: []string{hgAudience}, LookupToken: lookup}, ok: true},
		{name: "introspection without issuer", cfg: middleware.Config{Audiences: []string{hgAudience}, Introspection: in()}},
		{name: "introspection of an issuer of its own", cfg: middleware.Config{Audiences: []string{hgAudience}, Introspection: func() *middleware.Introspection {
			i := in()
			i.Issuer = other
			return i
		}()}, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := middleware.New(t.Context(), tc.cfg)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, middleware.ErrInvalidConfig)) {
				t.Errorf("New: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestNoJWTIssuer: an API whose tokens are all opaque is configured
// without Issuer, and is ready as soon as its source is usable; a JWT is
// then refused as of an untrusted issuer.
func TestNoJWTIssuer(t *testing.T) {
	kit := hgKit(t)
	t.Run("LookupToken", func(t *testing.T) {
		v, err := middleware.New(t.Context(), middleware.Config{
			Audiences: []string{hgAudience},
			LookupToken: func(_ context.Context, tok string) (*claims.Claims, error) {
				if tok != "tok-1" {
					return nil, nil
				}
				return &claims.Claims{Subject: "u", Audience: []string{hgAudience}}, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Ready(); err != nil {
			t.Errorf("Ready: %v", err)
		}
		if err := v.WaitReady(t.Context()); err != nil {
			t.Errorf("WaitReady: %v", err)
		}
		c, err := v.ValidateToken(t.Context(), "tok-1")
		hgWant(t, err)
		if c != nil && c.Subject != "u" {
			t.Errorf("claims %+v", c)
		}
		_, err = v.ValidateToken(t.Context(), "tok-2")
		hgWant(t, err, middleware.ErrTokenInactive)
		_, err = v.ValidateToken(t.Context(), hgToken(kit, middlewaretest.Spec{}))
		hgWant(t, err, middleware.ErrInvalidIssuer)
		if n := kit.JWKSRequests() + kit.DiscoveryRequests(); n != 0 {
			t.Errorf("%d requests to the kit, want none", n)
		}
	})
	introspecting := func(t *testing.T, endpoint string) *middleware.Validator {
		kit.AddClient(middlewaretest.Client{ID: hgOpaqueClient, Secret: hgOpaqueSecret})
		v, err := middleware.New(t.Context(), middleware.Config{
			Audiences: []string{hgAudience},
			Introspection: &middleware.Introspection{
				Issuer: kit.URL, Endpoint: endpoint, ClientID: hgOpaqueClient, ClientSecret: hgOpaqueSecret,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t.Run("introspection at a configured endpoint", func(t *testing.T) {
		v := introspecting(t, kit.IntrospectionURL())
		if err := v.Ready(); err != nil {
			t.Errorf("Ready: %v", err)
		}
		_, err := v.ValidateToken(t.Context(), kit.OpaqueToken(middlewaretest.Spec{IssuedAt: time.Now()}))
		hgWant(t, err)
		_, err = v.ValidateToken(t.Context(), hgToken(kit, middlewaretest.Spec{}))
		hgWant(t, err, middleware.ErrInvalidIssuer)
		if n := kit.JWKSRequests(); n != 0 {
			t.Errorf("%d JWKS requests, want none", n)
		}
	})
	t.Run("introspection at a discovered endpoint", func(t *testing.T) {
		v := introspecting(t, "")
		err := v.Ready()
		hgWant(t, err, middleware.ErrKeysUnavailable, middleware.ErrKeysNotFetchedYet)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := v.WaitReady(ctx); err != nil {
			t.Fatalf("WaitReady: %v", err)
		}
		if err := v.Ready(); err != nil {
			t.Errorf("Ready after discovery: %v", err)
		}
		_, err = v.ValidateToken(t.Context(), kit.OpaqueToken(middlewaretest.Spec{IssuedAt: time.Now()}))
		hgWant(t, err)
	})
	t.Run("discovery failing", func(t *testing.T) {
		down := hgKit(t)
		down.SetStatus(http.StatusInternalServerError)
		v, err := middleware.New(t.Context(), middleware.Config{
			Audiences:     []string{hgAudience},
			Introspection: &middleware.Introspection{Issuer: down.URL, ClientID: "rs", ClientSecret: "s"},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		err = v.WaitReady(ctx)
		hgWant(t, err, middleware.ErrKeysUnavailable, middleware.ErrDiscoveryFailed)
	})
}

// TestOpaqueSources: with several sources, an opaque token goes to the one
// the rule picks, never to another issuer's endpoint, and is judged by
// that issuer's rules.
func TestOpaqueSources(t *testing.T) {
	a, b := hgKit(t), hgKit(t)
	for _, kit := range []*middlewaretest.Issuer{a, b} {
		kit.AddClient(middlewaretest.Client{ID: hgOpaqueClient, Secret: hgOpaqueSecret})
	}
	in := func(kit *middlewaretest.Issuer) *middleware.Introspection {
		return &middleware.Introspection{Endpoint: kit.IntrospectionURL(), ClientID: hgOpaqueClient, ClientSecret: hgOpaqueSecret}
	}
	tokA := a.OpaqueToken(middlewaretest.Spec{Audience: []string{hgAPIA}, IssuedAt: time.Now()})
	tokB := b.OpaqueToken(middlewaretest.Spec{Audience: []string{hgAPIB}, IssuedAt: time.Now()})
	owner := map[string]string{tokA: a.URL, tokB: b.URL}
	lookups := 0
	v, err := middleware.New(t.Context(), middleware.Config{
		HTTPClient: a.Client(),
		ExtraIssuers: []middleware.Issuer{
			{Issuer: a.URL, OpaqueOnly: true, Audiences: []string{hgAPIA}, Introspection: in(a)},
			{Issuer: b.URL, OpaqueOnly: true, Audiences: []string{hgAPIB}, Introspection: in(b)},
		},
		OpaqueTokenIssuer: func(tok string) string { return owner[tok] },
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.ValidateToken(t.Context(), tokA)
	hgWant(t, err)
	if na, nb := a.IntrospectionRequests(), b.IntrospectionRequests(); na != 1 || nb != 0 {
		t.Errorf("introspection requests a %d b %d, want 1 0", na, nb)
	}
	_, err = v.ValidateToken(t.Context(), tokB)
	hgWant(t, err)
	_, err = v.ValidateToken(t.Context(), "unknown-token")
	hgWant(t, err, middleware.ErrMalformedToken)
	if na, nb := a.IntrospectionRequests(), b.IntrospectionRequests(); na != 1 || nb != 1 {
		t.Errorf("introspection requests a %d b %d, want 1 1", na, nb)
	}

	t.Run("by prefix", func(t *testing.T) {
		source := func(iss, aud string) func(context.Context, string) (*claims.Claims, error) {
			return func(_ context.Context, tok string) (*claims.Claims, error) {
				lookups++
				return &claims.Claims{Subject: tok, Audience: []string{aud}, Issuer: iss}, nil
			}
		}
		v, err := middleware.New(t.Context(), middleware.Config{
			ExtraIssuers: []middleware.Issuer{
				{Issuer: a.URL, OpaqueOnly: true, Audiences: []string{hgAPIA}, LookupToken: source(a.URL, hgAPIB), OpaqueTokenPrefix: "ory_at_"},
				{Issuer: b.URL, OpaqueOnly: true, Audiences: []string{hgAPIB}, LookupToken: source(b.URL, hgAPIB)},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		// a's source answers with b's audience: refused under a's rules.
		_, err = v.ValidateToken(t.Context(), "ory_at_1")
		hgWant(t, err, middleware.ErrInvalidAudience)
		c, err := v.ValidateToken(t.Context(), "other_1")
		hgWant(t, err)
		if c != nil && c.Issuer != b.URL {
			t.Errorf("issuer %q, want b's", c.Issuer)
		}
		if lookups != 2 {
			t.Errorf("%d lookups, want 2: one source per token", lookups)
		}
	})
}

// TestIssuerFailingCostsOthersNothing: with one issuer down, the others'
// tokens are accepted under their own rules, with no wait for it.
func TestIssuerFailingCostsOthersNothing(t *testing.T) {
	a, down := hgKit(t), hgKit(t)
	down.SetStatus(http.StatusServiceUnavailable)
	h := hgNewHarness(t, a, middleware.Config{
		Now:          hgFixedNow,
		Audiences:    []string{hgAPIA},
		KeyWait:      time.Hour, // a wait for the issuer down would hang the test
		ExtraIssuers: []middleware.Issuer{{Issuer: down.URL, Audiences: []string{hgAPIB}}},
	})
	h.waitReady(t)
	h.accept(t, hgToken(a, middlewaretest.Spec{Audience: []string{hgAPIA}}))
	h.refuse(t, hgToken(a, middlewaretest.Spec{Audience: []string{hgAPIB}}), middleware.ErrInvalidAudience)
}
