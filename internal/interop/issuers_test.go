package interop

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
)

// One validator trusting, at once, two oidc-provider instances (two
// tenants, each trusted for another API resource and with its own rules)
// and Authlib, through net/http, Echo and Gin: each issuer's good tokens
// accepted, every cross-issuer mix refused, one issuer stopped while the
// others keep serving.
func TestBearerguardTenants(t *testing.T) {
	t.Parallel()
	a, b, c := StartOIDCProvider(t), StartOIDCProvider(t), StartAuthlib(t)
	targets := newTargets(t, middleware.Config{
		ExtraIssuers: []middleware.Issuer{
			// oidc-provider types its tokens at+jwt: require it of both.
			{Issuer: a.Issuer, Audiences: []string{ResourceRS256}, AccessTokenType: middleware.TokenTypeAccessJWT},
			{Issuer: b.Issuer, Audiences: []string{ResourceES256}, Algorithms: []string{"ES256"}, AccessTokenType: middleware.TokenTypeAccessJWT},
			// Authlib 1.2 types them JWT: the default rule.
			{Issuer: c.Issuer, Audiences: []string{ResourceES256}},
		},
	})
	tokA := a.ClientCredentialsToken(t, a.BasicClient, Basic, allScopes, resource(ResourceRS256))
	tokB := b.ClientCredentialsToken(t, b.PostClient, Post, []string{ScopeRead}, resource(ResourceES256))
	tokC := c.ClientCredentialsToken(t, c.BasicClient, Basic, []string{ScopeRead}, resource(ResourceES256))
	for _, tg := range targets {
		for _, tok := range []string{tokA, tokB, tokC} {
			waitIssuer(t, tg, tok)
		}
	}
	for _, tg := range targets {
		wantAccepted(t, tg, tokA, machineView(a.BasicClient, ScopeRead, ScopeWrite))
		wantAccepted(t, tg, tokB, machineView(b.PostClient, ScopeRead))
		wantAccepted(t, tg, tokC, machineView(c.BasicClient, ScopeRead))
	}

	t.Run("cross-issuer mixes", func(t *testing.T) {
		// a's token for the resource only b is trusted for.
		aForB := a.ClientCredentialsToken(t, a.BasicClient, Basic, []string{ScopeRead}, resource(ResourceES256))
		// b's token for a's resource: RS256, which only a accepts.
		bForA := b.ClientCredentialsToken(t, b.BasicClient, Basic, []string{ScopeRead}, resource(ResourceRS256))
		// Authlib's token for a's resource.
		cForA := c.ClientCredentialsToken(t, c.BasicClient, Basic, []string{ScopeRead}, resource(ResourceRS256))
		for _, tg := range targets {
			wantRefused(t, tg, aForB, middleware.ErrInvalidAudience)
			wantRefused(t, tg, bForA, middleware.ErrUnsupportedAlgorithm)
			wantRefused(t, tg, cForA, middleware.ErrInvalidAudience)
		}
	})

	t.Run("one issuer stopped", func(t *testing.T) {
		a.Stop()
		tokB2 := b.ClientCredentialsToken(t, b.BasicClient, Basic, []string{ScopeRead}, resource(ResourceES256))
		tokC2 := c.ClientCredentialsToken(t, c.PostClient, Post, []string{ScopeRead}, resource(ResourceES256))
		for _, tg := range targets {
			wantAccepted(t, tg, tokB2, machineView(b.BasicClient, ScopeRead))
			wantAccepted(t, tg, tokC2, machineView(c.PostClient, ScopeRead))
			// a's keys are held: its tokens still verify while it is down.
			wantAccepted(t, tg, tokA, machineView(a.BasicClient, ScopeRead, ScopeWrite))
		}
	})
}

// waitIssuer waits, at most ReadyTimeout, until tg's validator has the keys
// of token's issuer: the token is no longer answered 503.
func waitIssuer(t *testing.T, tg target, token string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	for {
		_, err := tg.v.ValidateToken(ctx, token)
		if !errors.Is(err, middleware.ErrKeysUnavailable) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: keys not obtained: %v", tg.name, err)
		case <-time.After(pollInterval):
		}
	}
}

// A resolver adds an oidc-provider tenant while the server runs and removes
// it again; a flood of random "iss" values before it makes no network call.
func TestBearerguardResolvedTenant(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	var mu sync.Mutex
	tenants := map[string]bool{}
	asked := 0
	targets := newTargets(t, middleware.Config{
		Audiences: []string{ResourceRS256},
		ResolveIssuer: func(_ context.Context, iss string) (*middleware.Issuer, error) {
			mu.Lock()
			defer mu.Unlock()
			asked++
			if !tenants[iss] {
				return nil, nil
			}
			return &middleware.Issuer{AccessTokenType: middleware.TokenTypeAccessJWT}, nil
		},
	})
	for i := range 200 {
		forged := forgedToken(t, "https://tenant-"+strconv.Itoa(i)+".example.test/", ResourceRS256)
		for _, tg := range targets {
			if _, err := validate(tg.v, forged); err == nil {
				t.Fatalf("%s: a forged token of an unknown issuer accepted", tg.name)
			}
		}
	}
	for _, tg := range targets {
		tg.log.mu.Lock()
		n := len(tg.log.ok) + tg.log.failures
		tg.log.mu.Unlock()
		if n != 0 {
			t.Errorf("%s: %d network calls for a flood of unknown issuers, want 0", tg.name, n)
		}
	}
	mu.Lock()
	if asked > 3*len(targets)*middleware.MaxResolutionsPerSecond {
		t.Errorf("resolver asked %d times", asked)
	}
	tenants[s.Issuer] = true // the tenant is onboarded
	mu.Unlock()

	token := s.ClientCredentialsToken(t, s.BasicClient, Basic, []string{ScopeRead}, resource(ResourceRS256))
	for _, tg := range targets {
		waitIssuer(t, tg, token)
		wantAccepted(t, tg, token, machineView(s.BasicClient, ScopeRead))
	}

	mu.Lock()
	delete(tenants, s.Issuer) // the tenant leaves
	mu.Unlock()
	for _, tg := range targets {
		tg.v.ForgetIssuer(s.Issuer)
		wantRefused(t, tg, token, middleware.ErrInvalidIssuer)
	}
}
