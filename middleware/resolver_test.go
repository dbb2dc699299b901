package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// Issuers added at run time (resolver.go) and issuers whose keys are
// fetched at their first token (Issuer.LazyKeys).

// hgResolver is a Config.ResolveIssuer over a table the test changes, that
// counts its calls.
type hgResolver struct {
	mu    sync.Mutex
	known map[string]*middleware.Issuer
	calls map[string]int
	err   error
}

func (r *hgResolver) resolve(_ context.Context, iss string) (*middleware.Issuer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	r.calls[iss]++
	if r.err != nil {
		return nil, r.err
	}
	return r.known[iss], nil
}

func (r *hgResolver) set(iss string, is *middleware.Issuer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known == nil {
		r.known = map[string]*middleware.Issuer{}
	}
	r.known[iss] = is
}

func (r *hgResolver) asked(iss string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[iss]
}

func TestResolveIssuer(t *testing.T) {
	a, b := hgKit(t), hgKit(t)
	res := &hgResolver{}
	res.set(b.URL, &middleware.Issuer{Audiences: []string{hgAPIB}})
	v := hgReady(t, a, middleware.Config{ResolveIssuer: res.resolve})
	tokB := hgToken(b, middlewaretest.Spec{Audience: []string{hgAPIB}})

	t.Run("a resolved issuer's tokens, under its rules", func(t *testing.T) {
		for range 3 {
			_, err := v.ValidateToken(t.Context(), tokB)
			hgWant(t, err)
		}
		_, err := v.ValidateToken(t.Context(), hgToken(b, middlewaretest.Spec{}))
		hgWant(t, err, middleware.ErrInvalidAudience)
		if n := res.asked(b.URL); n != 1 {
			t.Errorf("resolver asked %d times about b, want 1", n)
		}
		_, err = v.ValidateToken(t.Context(), hgToken(a, middlewaretest.Spec{}))
		hgWant(t, err)
		if n := res.asked(a.URL); n != 0 {
			t.Errorf("resolver asked about a configured issuer")
		}
	})
	t.Run("a refusal is remembered", func(t *testing.T) {
		c := hgKit(t)
		tok := hgToken(c, middlewaretest.Spec{})
		for range 3 {
			_, err := v.ValidateToken(t.Context(), tok)
			hgWant(t, err, middleware.ErrInvalidIssuer)
		}
		if n := res.asked(c.URL); n != 1 {
			t.Errorf("resolver asked %d times, want 1", n)
		}
		if n := c.JWKSRequests() + c.DiscoveryRequests(); n != 0 {
			t.Errorf("%d requests to a refused issuer", n)
		}
	})
	t.Run("not an https URL of at most 1 KiB: never asked", func(t *testing.T) {
		long := "https://tenant.example.test/" + strings.Repeat("a", 1024)
		for _, iss := range []string{"http://internal.example.test/", "tenant", "", long} {
			tok := hgToken(a, middlewaretest.Spec{Claims: map[string]any{"iss": iss}})
			_, err := v.ValidateToken(t.Context(), tok)
			hgWant(t, err, middleware.ErrInvalidIssuer)
			if n := res.asked(iss); n != 0 {
				t.Errorf("resolver asked about %.40q", iss)
			}
		}
	})
	t.Run("forgotten", func(t *testing.T) {
		v.ForgetIssuer(b.URL)
		res.set(b.URL, nil) // the tenant left
		_, err := v.ValidateToken(t.Context(), tokB)
		hgWant(t, err, middleware.ErrInvalidIssuer)
		if n := res.asked(b.URL); n != 2 {
			t.Errorf("resolver asked %d times about b, want 2", n)
		}
	})
}

func TestResolveIssuerAnswers(t *testing.T) {
	a, b := hgKit(t), hgKit(t)
	tok := hgToken(b, middlewaretest.Spec{})
	for _, tc := range []struct {
		name string
		is   *middleware.Issuer
		err  error
		want []error
	}{
		{name: "another issuer's settings", is: &middleware.Issuer{Issuer: a.URL, Audiences: []string{hgAudience}}, want: []error{middleware.ErrInvalidIssuer}},
		{name: "an opaque-token source", is: &middleware.Issuer{Audiences: []string{hgAudience}, OpaqueTokenPrefix: "x"}, want: []error{middleware.ErrInvalidIssuer}},
		{name: "an introspection endpoint", is: &middleware.Issuer{Audiences: []string{hgAudience}, Introspection: &middleware.Introspection{ClientID: "rs", ClientSecret: "secret"}}, want: []error{middleware.ErrInvalidIssuer}},
		{name: "a token lookup", is: &middleware.Issuer{Audiences: []string{hgAudience}, LookupToken: func(context.Context, string) (*claims.Claims, error) { return &claims.Claims{}, nil }}, want: []error{middleware.ErrInvalidIssuer}},
		{name: "opaque only", is: &middleware.Issuer{Audiences: []string{hgAudience}, OpaqueOnly: true}, want: []error{middleware.ErrInvalidIssuer}},
		{name: "a bad JWKS URL", is: &middleware.Issuer{JWKSURL: "ftp://x", Audiences: []string{hgAudience}}, want: []error{middleware.ErrInvalidIssuer}},
		{name: "failing", err: errors.New("store down"), want: []error{middleware.ErrKeysUnavailable, middleware.ErrResolverFailed}},
		{name: "its own answer", err: middleware.NewError(middleware.ErrInvalidToken, "tenant suspended", nil), want: []error{middleware.ErrClaimsRejected}},
		{name: "defaults of Config", is: &middleware.Issuer{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := &hgResolver{err: tc.err}
			res.set(b.URL, tc.is)
			v := hgReady(t, a, middleware.Config{ResolveIssuer: res.resolve})
			_, err := v.ValidateToken(t.Context(), tok)
			hgWant(t, err, tc.want...)
		})
	}
}

// TestResolvedIssuersBounded: the least recently used resolved issuer is
// evicted, its refresh stopped: once every resolved issuer is evicted or
// forgotten, no goroutine of theirs is left while the validator runs.
func TestResolvedIssuersBounded(t *testing.T) {
	kits := []*middlewaretest.Issuer{hgKit(t), hgKit(t), hgKit(t)}
	res := &hgResolver{}
	for _, k := range kits {
		res.set(k.URL, &middleware.Issuer{})
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{
		Now: hgFixedNow, Audiences: []string{hgAudience}, HTTPClient: client,
		ResolveIssuer: res.resolve, MaxResolvedIssuers: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Ready(); err != nil {
		t.Errorf("Ready with a resolver alone: %v", err)
	}
	for _, k := range kits {
		_, err := v.ValidateToken(ctx, hgToken(k, middlewaretest.Spec{}))
		hgWant(t, err)
	}
	// The first was evicted: it is asked about again.
	_, err = v.ValidateToken(ctx, hgToken(kits[0], middlewaretest.Spec{}))
	hgWant(t, err)
	if n := res.asked(kits[0].URL); n != 2 {
		t.Errorf("evicted issuer asked %d times, want 2", n)
	}
	for _, k := range kits {
		v.ForgetIssuer(k.URL)
	}
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
}

// TestLazyKeys: an issuer with LazyKeys fetches nothing until its first
// token, which waits for the fetch and is accepted.
func TestLazyKeys(t *testing.T) {
	a, b := hgKit(t), hgKit(t)
	v := hgNew(t, a, middleware.Config{
		Issuer:       b.URL,
		ExtraIssuers: []middleware.Issuer{{Issuer: a.URL, LazyKeys: true, Audiences: []string{hgAPIA}}},
	})
	if err := v.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := a.JWKSRequests() + a.DiscoveryRequests(); n != 0 {
		t.Errorf("%d requests before the first token", n)
	}
	_, err := v.ValidateToken(t.Context(), hgToken(a, middlewaretest.Spec{Audience: []string{hgAPIA}}))
	hgWant(t, err)
	t.Run("all lazy: ready at once", func(t *testing.T) {
		v, err := middleware.New(t.Context(), middleware.Config{
			ExtraIssuers: []middleware.Issuer{{Issuer: a.URL, LazyKeys: true, Audiences: []string{hgAPIA}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Ready(); err != nil {
			t.Errorf("Ready: %v", err)
		}
	})
}

// hgResolvedOrListed returns Configs that trust b with rules, by name: added
// at run time by ResolveIssuer ("resolved"), and listed in ExtraIssuers
// ("listed").
func hgResolvedOrListed(b *middlewaretest.Issuer, rules middleware.Issuer) map[string]middleware.Config {
	res := &hgResolver{}
	res.set(b.URL, &rules)
	listed := rules
	listed.Issuer = b.URL
	return map[string]middleware.Config{
		"resolved": {ResolveIssuer: res.resolve},
		"listed":   {ExtraIssuers: []middleware.Issuer{listed}},
	}
}

// TestResolvedIssuerRulesAfterPipeline: the steps after the pipeline
// (step-up here) read the rules of the issuer that accepted the token,
// also for an issuer added at run time, as for one listed in ExtraIssuers:
// its ACRClaim, not Config's.
func TestResolvedIssuerRulesAfterPipeline(t *testing.T) {
	a, b := hgKit(t), hgKit(t)
	for name, cfg := range hgResolvedOrListed(b, middleware.Issuer{Audiences: []string{hgAPIB}, ACRClaim: "acrs"}) {
		t.Run(name, func(t *testing.T) {
			v := hgReady(t, a, cfg)
			tok := hgToken(b, middlewaretest.Spec{Audience: []string{hgAPIB}, Claims: map[string]any{"acrs": []string{"c2"}}})
			hgWaitIssuer(t, v, b, tok)
			_, err := v.Check(hgRequest(tok), middleware.Policy{ACRValues: []string{"c2"}})
			hgWant(t, err)
			_, err = v.Check(hgRequest(tok), middleware.Policy{ACRValues: []string{"c3"}})
			hgWant(t, err, middleware.ErrInsufficientUserAuthentication, middleware.ErrACRNotAccepted)
		})
	}
}
