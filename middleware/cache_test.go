package middleware

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

func TestTokenCacheUnit(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	cl := func(exp time.Time) *claims.Claims { return &claims.Claims{ExpiresAt: exp, Payload: []byte(`{}`)} }

	t.Run("hit and miss", func(t *testing.T) {
		c := newTokenCache(10)
		want := cl(t0.Add(time.Hour))
		c.put("tok", "iss", "kid", want, t0)
		if got, ok := c.get("tok", t0); !ok || got != want {
			t.Fatalf("get = %v, %v", got, ok)
		}
		if _, ok := c.get("tok2", t0); ok {
			t.Fatal("hit for another token")
		}
		if _, ok := c.get("to", t0); ok {
			t.Fatal("hit for a prefix")
		}
	})
	t.Run("expires with exp", func(t *testing.T) {
		c := newTokenCache(10)
		c.put("tok", "iss", "kid", cl(t0.Add(time.Minute)), t0)
		if _, ok := c.get("tok", t0.Add(time.Minute-time.Second)); !ok {
			t.Fatal("miss before exp")
		}
		if _, ok := c.get("tok", t0.Add(time.Minute)); ok {
			t.Fatal("hit at exp")
		}
	})
	t.Run("at most MaxTokenCacheTTL", func(t *testing.T) {
		c := newTokenCache(10)
		c.put("tok", "iss", "kid", cl(t0.Add(24*time.Hour)), t0)
		if _, ok := c.get("tok", t0.Add(MaxTokenCacheTTL-time.Second)); !ok {
			t.Fatal("miss before the TTL")
		}
		if _, ok := c.get("tok", t0.Add(MaxTokenCacheTTL)); ok {
			t.Fatal("hit after MaxTokenCacheTTL")
		}
	})
	t.Run("expired tokens are not stored", func(t *testing.T) {
		c := newTokenCache(10)
		c.put("tok", "iss", "kid", cl(t0), t0)
		c.put("tok2", "iss", "kid", cl(t0.Add(-time.Hour)), t0)
		if c.len() != 0 {
			t.Fatalf("len %d", c.len())
		}
	})
	t.Run("dropKey", func(t *testing.T) {
		c := newTokenCache(10)
		c.put("a", "iss1", "k1", cl(t0.Add(time.Hour)), t0)
		c.put("b", "iss1", "k2", cl(t0.Add(time.Hour)), t0)
		c.put("c", "iss2", "k1", cl(t0.Add(time.Hour)), t0)
		c.dropKey("iss1", "k1")
		if _, ok := c.get("a", t0); ok {
			t.Error("entry of the dropped key still there")
		}
		if _, ok := c.get("b", t0); !ok {
			t.Error("entry of another kid dropped")
		}
		if _, ok := c.get("c", t0); !ok {
			t.Error("entry of another issuer's key with the same kid dropped")
		}
	})
	t.Run("bounded entries", func(t *testing.T) {
		c := newTokenCache(8)
		for i := range 100 {
			c.put("tok"+strconv.Itoa(i), "iss", "kid", cl(t0.Add(time.Hour)), t0)
			if c.len() > 8 {
				t.Fatalf("len %d > 8", c.len())
			}
		}
		// The latest entry is always there.
		if _, ok := c.get("tok99", t0); !ok {
			t.Error("newest entry evicted")
		}
	})
	t.Run("bounded bytes", func(t *testing.T) {
		c := newTokenCache(1 << 20)
		big := strings.Repeat("x", MaxTokenCacheBytes/64-cacheEntryOverhead-10)
		for i := range 200 {
			c.put(strconv.Itoa(i)+big, "iss", "kid", cl(t0.Add(time.Hour)), t0)
		}
		c.mu.RLock()
		bytes := c.bytes
		c.mu.RUnlock()
		if bytes > MaxTokenCacheBytes {
			t.Errorf("%d bytes cached, limit %d", bytes, MaxTokenCacheBytes)
		}
		// A token larger than a 64th of the budget is not cached.
		huge := strings.Repeat("y", MaxTokenCacheBytes/64)
		c.put(huge, "iss", "kid", cl(t0.Add(time.Hour)), t0)
		if _, ok := c.get(huge, t0); ok {
			t.Error("huge token cached")
		}
	})
	t.Run("replace", func(t *testing.T) {
		c := newTokenCache(10)
		c.put("tok", "iss", "kid", cl(t0.Add(time.Hour)), t0)
		second := cl(t0.Add(time.Hour))
		c.put("tok", "iss", "kid", second, t0)
		if got, _ := c.get("tok", t0); got != second || c.len() != 1 {
			t.Errorf("replace: len %d", c.len())
		}
		c.mu.RLock()
		bytes := c.bytes
		c.mu.RUnlock()
		if want := entrySize("tok", second); bytes != want {
			t.Errorf("bytes %d, want %d", bytes, want)
		}
	})
}

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
		if c1 != c2 {
			t.Error("second validation did not come from the cache")
		}
		if v.cache.len() != 1 {
			t.Errorf("cache len %d", v.cache.len())
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
		c, ok := v.cache.get(tok, t0.Add(time.Minute))
		if !ok {
			t.Fatal("miss")
		}
		clock.set(t0.Add(2*time.Minute + DefaultLeeway))
		if err := v.checkTimes(c); err == nil {
			t.Error("checkTimes accepted an expired token")
		}
		c2 := *c
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
