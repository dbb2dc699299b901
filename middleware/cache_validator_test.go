package middleware

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// ktClock is a settable Config.Now.
type ktClock struct{ t atomic.Pointer[time.Time] }

func (c *ktClock) now() time.Time  { return *c.t.Load() }
func (c *ktClock) set(t time.Time) { c.t.Store(&t) }

func TestTokenCacheValidator(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	ctx := context.Background()

	t.Run("repeated token hits", func(t *testing.T) {
		kit := ktKit(t)
		v := ktReady(t, kit, Config{})
		tok := kit.Token(middlewaretest.Spec{Scopes: []string{"a"}})
		c1, err := v.ValidateToken(ctx, tok)
		ktWant(t, err)
		c2, err := v.ValidateToken(ctx, tok)
		ktWant(t, err)
		if v.cache.len() != 1 {
			t.Errorf("cache len %d", v.cache.len())
		}
		// Each request gets its own copy of the cached claims.
		ct, ok := v.cache.get(tok, time.Now())
		if !ok {
			t.Fatal("not cached")
		}
		if c1 == c2 || c2 == ct.claims || !reflect.DeepEqual(c2, ct.claims) {
			t.Error("a hit must return an equal copy of the cached claims")
		}
		// Another token with the same claims is a miss.
		c3, err := v.ValidateToken(ctx, kit.Token(middlewaretest.Spec{Scopes: []string{"a"}}))
		ktWant(t, err)
		if c3 == c1 {
			t.Error("another token hit the cache")
		}
	})
	t.Run("refused tokens are not cached", func(t *testing.T) {
		kit := ktKit(t)
		v := ktReady(t, kit, Config{})
		for _, tok := range []string{
			kit.Token(middlewaretest.Spec{Audience: []string{"urn:other"}}),
			kit.Token(middlewaretest.Spec{Kind: middlewaretest.IDToken, Audience: []string{ktAPI}}),
			kit.Token(middlewaretest.Spec{Lifetime: -time.Hour}),
		} {
			for range 2 {
				if _, err := v.ValidateToken(ctx, tok); err == nil {
					t.Fatal("accepted")
				}
			}
		}
		if n := v.cache.len(); n != 0 {
			t.Errorf("cache len %d", n)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		kit := ktKit(t)
		v := ktReady(t, kit, Config{TokenCacheSize: -1})
		if v.cache != nil {
			t.Fatal("cache allocated")
		}
		tok := kit.Token(middlewaretest.Spec{})
		c1, err := v.ValidateToken(ctx, tok)
		ktWant(t, err)
		c2, err := v.ValidateToken(ctx, tok)
		ktWant(t, err)
		if c1 == c2 {
			t.Error("a disabled cache returned the same claims")
		}
	})
	t.Run("expired cached token refused", func(t *testing.T) {
		kit := ktKit(t)
		var clock ktClock
		clock.set(t0)
		v := ktReady(t, kit, Config{Now: clock.now})
		// Shorter than MaxTokenCacheTTL: the entry lives until exp.
		tok := kit.Token(middlewaretest.Spec{IssuedAt: t0, Lifetime: 2 * time.Minute})
		ktWant(t, ktValidate(v, tok))
		if v.cache.len() != 1 {
			t.Fatal("not cached")
		}
		clock.set(t0.Add(2*time.Minute - time.Second))
		ktWant(t, ktValidate(v, tok))
		clock.set(t0.Add(2*time.Minute + DefaultLeeway - time.Second))
		ktWant(t, ktValidate(v, tok)) // within the leeway
		clock.set(t0.Add(2*time.Minute + DefaultLeeway))
		ktWant(t, ktValidate(v, tok), ErrInvalidToken, ErrTokenExpired)
		clock.set(t0.Add(time.Hour))
		ktWant(t, ktValidate(v, tok), ErrInvalidToken, ErrTokenExpired)
	})
	t.Run("cached token and a clock set back", func(t *testing.T) {
		kit := ktKit(t)
		var clock ktClock
		clock.set(t0)
		v := ktReady(t, kit, Config{Now: clock.now})
		tok := kit.Token(middlewaretest.Spec{IssuedAt: t0, Claims: map[string]any{"nbf": t0.Unix()}})
		ktWant(t, ktValidate(v, tok))
		if v.cache.len() != 1 {
			t.Fatal("not cached")
		}
		clock.set(t0.Add(-time.Hour))
		ktWant(t, ktValidate(v, tok), ErrInvalidToken, ErrTokenNotYetValid)
	})
	t.Run("cached token checked against the clock", func(t *testing.T) {
		kit := ktKit(t)
		var clock ktClock
		clock.set(t0)
		v := ktReady(t, kit, Config{Now: clock.now})
		tok := kit.Token(middlewaretest.Spec{IssuedAt: t0, Lifetime: 2 * time.Minute})
		ktWant(t, ktValidate(v, tok))
		// Directly on the cache hit path: checkTimes.
		ct, ok := v.cache.get(tok, t0.Add(time.Minute))
		if !ok {
			t.Fatal("miss")
		}
		clock.set(t0.Add(2*time.Minute + DefaultLeeway))
		if err := v.checkTimes(ct.claims); err == nil {
			t.Error("checkTimes accepted an expired token")
		}
		c2 := *ct.claims
		c2.ExpiresAt = t0.Add(time.Hour)
		c2.NotBefore = t0.Add(time.Hour)
		if err := v.checkTimes(&c2); err == nil {
			t.Error("checkTimes accepted a token not valid yet")
		}
	})
	t.Run("entry dropped when its key leaves the JWKS", func(t *testing.T) {
		kit := ktKit(t)
		v := ktReady(t, kit, Config{MinRefreshInterval: time.Nanosecond})
		tok := kit.Token(middlewaretest.Spec{Alg: "ES256"})
		ktWant(t, ktValidate(v, tok))
		if v.cache.len() != 1 {
			t.Fatal("not cached")
		}
		kit.RemoveKey(kit.KeyID("ES256"))
		kit.RotateKey("ES256")
		// A new kid makes the validator fetch the JWKS, which no longer
		// has the key; a second fetch ensures the first one, including
		// its cache clean-up, is over.
		ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{Alg: "ES256"})))
		ktWant(t, ktValidate(v, kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": "nope"}})), ErrUnknownKey)
		ktWant(t, ktValidate(v, tok), ErrInvalidToken, ErrUnknownKey)
	})
	t.Run("scopes checked on every hit", func(t *testing.T) {
		kit := ktKit(t)
		v := ktReady(t, kit, Config{})
		tok := kit.Token(middlewaretest.Spec{Scopes: []string{"read"}})
		ok := ScopePolicy("read")
		admin := ScopePolicy("admin")
		r := ktRequest("GET", "", "", "", "Bearer "+tok)
		if _, e := v.Check(r, ok); e != nil {
			t.Fatal(e)
		}
		if _, e := v.Check(r, admin); e == nil {
			t.Fatal("a cached token passed a scope it lacks")
		}
	})
}
