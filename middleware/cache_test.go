package middleware_test

// The verified-token cache: an entry lasts only as long as the key that
// verified it, and the claims a request gets are its own: what a handler
// or a Config.Validate hook does to them reaches no other request.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestTokenCacheKeyReplaced: the issuer replaces the key published under a
// kid. Once the validator has fetched the new set, a token signed by the
// old key is refused, even though it was verified and cached before and
// its kid is still published.
func TestTokenCacheKeyReplaced(t *testing.T) {
	t.Parallel()
	k := hgKeys()
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	kit.SetJWKS(hgJwks(hgJwk(k.rsa, "k", "RS256")))
	h := hgNewHarness(t, kit, middleware.Config{RefreshInterval: 50 * time.Millisecond, MinRefreshInterval: 50 * time.Millisecond})
	h.waitReady(t)
	old := ksToken(kit, "RS256", "k", k.rsa)
	h.accept(t, old)
	h.accept(t, old) // from the cache

	kit.SetJWKS(hgJwks(hgJwk(k.rsa2, "k", "RS256")))
	replacement := ksToken(kit, "RS256", "k", k.rsa2)
	var last error
	if !hgPoll(10*time.Second, func() bool {
		_, last = h.v.ValidateToken(context.Background(), replacement)
		return last == nil
	}) {
		t.Fatalf("the replacement key is not used after 10 s of refreshes every 50 ms: %v", last)
	}
	h.refuse(t, old, middleware.ErrInvalidToken)
}

// TestTokenCacheClaimsIsolation: a handler that edits the claims of its
// request (scopes appended and overwritten, subject changed) and a
// Config.Validate hook that adds a scope affect neither later requests with
// the same token nor other tokens, whether or not the token comes from the
// cache. Concurrent requests let the race detector see any sharing.
func TestTokenCacheClaimsIsolation(t *testing.T) {
	t.Parallel()
	kit := middlewaretest.NewIssuer()
	defer kit.Close()

	var mu sync.Mutex
	hookSaw := map[string][][]string{} // subject -> scopes seen by the hook, per call
	h := hgNewHarness(t, kit, middleware.Config{Validate: func(_ context.Context, c *claims.Claims) error {
		mu.Lock()
		hookSaw[c.Subject] = append(hookSaw[c.Subject], slices.Clone(c.Scopes))
		mu.Unlock()
		if c.Subject == "alice" {
			c.Scopes = append(c.Scopes, "admin")
		}
		return nil
	}})
	h.waitReady(t)

	type seen struct {
		subject string
		scopes  []string
	}
	var readMu sync.Mutex
	var reads []seen
	mux := http.NewServeMux()
	mux.Handle("/write", h.v.RequireScope("write")(hgOK))
	mux.Handle("/edit", h.v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		c.Scopes = append(c.Scopes, "write")
		c.Scopes[0] = "write"
		c.Subject = "mallory"
	})))
	mux.Handle("/read", h.v.RequireScope("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		readMu.Lock()
		reads = append(reads, seen{c.Subject, slices.Clone(c.Scopes)})
		readMu.Unlock()
	})))
	get := func(path, token string) int {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return hgServe(mux, r).Code
	}

	alice := kit.Token(middlewaretest.Spec{Subject: "alice", Scopes: []string{"read"}})
	bob := kit.Token(middlewaretest.Spec{Subject: "bob", Scopes: []string{"read"}})

	// In sequence first, so that a failure names the rule.
	for i := range 2 {
		if code := get("/edit", alice); code != http.StatusOK {
			t.Fatalf("/edit: status %d", code)
		}
		if code := get("/write", alice); code != http.StatusForbidden {
			t.Errorf("/write after /edit, round %d: status %d, want 403", i, code)
		}
		if code := get("/read", alice); code != http.StatusOK {
			t.Errorf("/read after /edit, round %d: status %d, want 200", i, code)
		}
		c, err := h.v.ValidateToken(context.Background(), bob)
		if err != nil {
			t.Fatalf("bob: %v", err)
		}
		if c.HasScope("admin") || c.HasScope("write") || c.Subject != "bob" {
			t.Errorf("bob's claims gained another request's edits: subject %q, scopes %q", c.Subject, c.Scopes)
		}
	}
	readMu.Lock()
	for _, s := range reads {
		if s.subject != "alice" || !slices.Contains(s.scopes, "read") || slices.Contains(s.scopes, "write") {
			t.Errorf("/read saw subject %q, scopes %q; want alice with read, without write", s.subject, s.scopes)
		}
	}
	readMu.Unlock()
	mu.Lock()
	for sub, calls := range hookSaw {
		for i, scopes := range calls {
			if !slices.Equal(scopes, []string{"read"}) {
				t.Errorf("hook call %d for %s saw scopes %q, want the verified [read]", i, sub, scopes)
			}
		}
	}
	if len(hookSaw["alice"]) < 2 || len(hookSaw["bob"]) < 2 {
		t.Errorf("hook calls: %d for alice, %d for bob; want one per request", len(hookSaw["alice"]), len(hookSaw["bob"]))
	}
	mu.Unlock()

	// Then concurrently, for the race detector.
	var wrong atomic.Int64
	hgConcurrently(16, func(i int) {
		for range 20 {
			switch i % 4 {
			case 0:
				get("/edit", alice)
			case 1:
				if get("/write", alice) != http.StatusForbidden {
					wrong.Add(1)
				}
			case 2:
				if get("/read", alice) != http.StatusOK {
					wrong.Add(1)
				}
			case 3:
				if c, err := h.v.ValidateToken(context.Background(), bob); err != nil || c.HasScope("admin") || c.Subject != "bob" {
					wrong.Add(1)
				}
			}
		}
	})
	if n := wrong.Load(); n > 0 {
		t.Errorf("%d concurrent requests saw another request's edits", n)
	}
}

// TestClaimsPayloadIsolation: a request's claims are its own down to the
// bytes: overwriting its payload and its audience, and appending to its
// audience and scopes, reach neither a later request with the same token
// (cached or not) nor the request's own claim strings, which are never
// made from bytes a handler can reach.
func TestClaimsPayloadIsolation(t *testing.T) {
	t.Parallel()
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	for _, tc := range []struct {
		name  string
		cache int
	}{{"cached", 0}, {"uncached", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			h := hgNewHarness(t, kit, middleware.Config{TokenCacheSize: tc.cache})
			h.waitReady(t)
			token := kit.Token(middlewaretest.Spec{Subject: "alice", Scopes: []string{"read", "write"}})
			ctx := context.Background()
			want, err := h.v.ValidateToken(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			wantPayload := slices.Clone(want.Payload)
			wantAud, wantScopes := slices.Clone(want.Audience), slices.Clone(want.Scopes)
			for round := range 3 {
				c, err := h.v.ValidateToken(ctx, token)
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if string(c.Payload) != string(wantPayload) || !slices.Equal(c.Audience, wantAud) ||
					!slices.Equal(c.Scopes, wantScopes) || c.Subject != "alice" {
					t.Fatalf("round %d: claims changed by an earlier request: %q %q %q %q",
						round, c.Payload, c.Audience, c.Scopes, c.Subject)
				}
				for i := range c.Payload {
					c.Payload[i] = 'x'
				}
				if c.Subject != "alice" || c.Issuer != want.Issuer || !slices.Equal(c.Scopes, wantScopes) {
					t.Fatalf("round %d: overwriting the payload changed the claim strings: %q %q %q",
						round, c.Subject, c.Issuer, c.Scopes)
				}
				for i := range c.Audience {
					c.Audience[i] = "mallory"
				}
				aud := append(c.Audience, "extra")
				aud[0] = "mallory"
				if !slices.Equal(c.Scopes, wantScopes) {
					t.Fatalf("round %d: appending to the audience changed the scopes: %q", round, c.Scopes)
				}
				_ = append(c.Scopes, "admin")
				c.Scopes[0] = "admin"
			}
		})
	}
}
