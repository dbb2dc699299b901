package middleware

import (
	"context"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// cacheStats is a tokenCache's bookkeeping summed over its shards.
type cacheStats struct {
	entries, bytes, touched int
}

// stats sums the shards' bookkeeping and checks each shard against its
// own limits, which add up to at most the cache's.
func (c *tokenCache[V]) stats(t testing.TB) cacheStats {
	t.Helper()
	var st cacheStats
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		if len(s.index) > s.cap || s.used > s.cap || s.bytes > s.maxBytes || s.bytes < 0 {
			t.Errorf("shard %d: %d entries, %d positions, %d bytes; limits %d entries, %d bytes",
				i, len(s.index), s.used, s.bytes, s.cap, s.maxBytes)
		}
		st.entries += len(s.index)
		st.bytes += s.bytes
		st.touched += s.touched
		s.mu.Unlock()
	}
	return st
}

// checkLimits marks t failed if c holds more than maxEntries entries or maxBytes
// bytes, or if its shards' limits add up to more.
func checkLimits[V any](t testing.TB, c *tokenCache[V], maxEntries, maxBytes int) cacheStats {
	t.Helper()
	st := c.stats(t)
	if st.entries > maxEntries || st.bytes > maxBytes {
		t.Errorf("%d entries, %d bytes; limits %d, %d", st.entries, st.bytes, maxEntries, maxBytes)
	}
	capSum, bytesSum := 0, 0
	for i := range c.shards {
		capSum += c.shards[i].cap
		bytesSum += c.shards[i].maxBytes
	}
	if capSum != maxEntries || bytesSum > maxBytes {
		t.Errorf("shards hold %d entries, %d bytes; limits %d, %d", capSum, bytesSum, maxEntries, maxBytes)
	}
	return st
}

func TestTokenCacheUnit(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	hour := t0.Add(time.Hour)

	t.Run("hit and miss", func(t *testing.T) {
		c := newTokenCache[int](10, MaxTokenCacheBytes)
		c.put("tok", 7, 100, hour, t0)
		if got, ok := c.get("tok", t0); !ok || got != 7 {
			t.Fatalf("get = %v, %v", got, ok)
		}
		for _, other := range []string{"tok2", "to", "Tok", ""} {
			if _, ok := c.get(other, t0); ok {
				t.Errorf("hit for %q", other)
			}
		}
	})
	t.Run("never returned at or after expires", func(t *testing.T) {
		c := newTokenCache[int](10, MaxTokenCacheBytes)
		exp := t0.Add(time.Minute)
		c.put("tok", 1, 100, exp, t0)
		if _, ok := c.get("tok", exp.Add(-time.Nanosecond)); !ok {
			t.Fatal("miss before expires")
		}
		for _, at := range []time.Time{exp, exp.Add(time.Nanosecond), exp.Add(time.Hour)} {
			if _, ok := c.get("tok", at); ok {
				t.Errorf("hit at expires%+v", at.Sub(exp))
			}
		}
		// The expired entry found by get is gone, bytes and all.
		if st := c.stats(t); st.entries != 0 || st.bytes != 0 {
			t.Errorf("after expiry: %+v", st)
		}
	})
	t.Run("expired at put not cached", func(t *testing.T) {
		c := newTokenCache[int](10, MaxTokenCacheBytes)
		c.put("tok", 1, 100, t0, t0)
		c.put("tok2", 1, 100, t0.Add(-time.Hour), t0)
		if c.len() != 0 {
			t.Fatalf("len %d", c.len())
		}
	})
	t.Run("largest entry is maxBytes/64", func(t *testing.T) {
		const maxBytes = 1 << 20
		c := newTokenCache[int](100, maxBytes)
		c.put("fits", 1, maxBytes/64, hour, t0)
		c.put("huge", 1, maxBytes/64+1, hour, t0)
		if _, ok := c.get("fits", t0); !ok {
			t.Error("entry of maxBytes/64 not cached")
		}
		if _, ok := c.get("huge", t0); ok {
			t.Error("entry larger than maxBytes/64 cached")
		}
	})
	t.Run("replace", func(t *testing.T) {
		c := newTokenCache[int](10, MaxTokenCacheBytes)
		c.put("tok", 1, 1000, hour, t0)
		c.put("tok", 2, 300, t0.Add(2*time.Hour), t0)
		if got, ok := c.get("tok", hour); !ok || got != 2 {
			t.Errorf("get = %v, %v", got, ok)
		}
		if st := c.stats(t); st.entries != 1 || st.bytes != 300 {
			t.Errorf("after replace: %+v", st)
		}
		// Replacing with an entry that may not be cached drops the old one.
		c.put("tok", 3, 300, t0, t0)
		if _, ok := c.get("tok", t0); ok {
			t.Error("hit after a replacement that expired")
		}
	})
	t.Run("empty cache", func(t *testing.T) {
		for _, limits := range [][2]int{{0, MaxTokenCacheBytes}, {-1, MaxTokenCacheBytes}, {10, 0}, {10, -5}} {
			c := newTokenCache[int](limits[0], limits[1])
			c.put("tok", 1, 0, hour, t0)
			if _, ok := c.get("tok", t0); ok || c.len() != 0 {
				t.Errorf("limits %v: cached", limits)
			}
		}
	})
	t.Run("newest entry kept", func(t *testing.T) {
		c := newTokenCache[int](8, MaxTokenCacheBytes)
		for i := range 100 {
			tok := "tok" + strconv.Itoa(i)
			c.put(tok, i, 100, hour, t0)
			checkLimits(t, c, 8, MaxTokenCacheBytes)
			if got, ok := c.get(tok, t0); !ok || got != i {
				t.Fatalf("newest entry %d: %v, %v", i, got, ok)
			}
		}
	})
}

// TestTokenCacheLimits fills caches with hostile but legal inputs and
// checks after every put that the entry and byte limits hold.
func TestTokenCacheLimits(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	hour := t0.Add(time.Hour)
	const maxBytes = MaxTokenCacheBytes
	big := strings.Repeat("x", 8000)
	for _, tc := range []struct {
		name       string
		maxEntries int
		size       func(i int) int
	}{
		{"huge entries", 1 << 20, func(int) int { return maxBytes / 64 }},
		{"tiny entries", 10000, func(int) int { return 0 }},
		{"tiny entries small cache", 5, func(int) int { return 1 }},
		{"mixed sizes", 10000, func(i int) int { return (i * 7919) % (maxBytes/64 + 1) }},
		{"mostly tiny, some huge", 4096, func(i int) int {
			if i%97 == 0 {
				return maxBytes / 64
			}
			return cacheEntryOverhead
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTokenCache[int](tc.maxEntries, maxBytes)
			for i := range 30000 {
				tok := strconv.Itoa(i) + big[:i%len(big)]
				c.put(tok, i, tc.size(i), hour, t0)
				if i%101 == 0 || i > 29900 {
					checkLimits(t, c, tc.maxEntries, maxBytes)
				}
				if i%3 == 0 {
					c.put(tok, -i, tc.size(i+1), hour, t0) // replace
				}
			}
		})
	}
}

// TestTokenCacheConstantTime checks that put and get stay O(1) by counting
// the ring positions evictions free, not by timing: a put into a full
// cache of 10 000 alike entries frees exactly one, and with entries of
// any size every position is freed at most once, so that the positions
// freed never outnumber the puts.
func TestTokenCacheConstantTime(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	hour := t0.Add(time.Hour)
	const n = 10000

	t.Run("alike entries", func(t *testing.T) {
		c := newTokenCache[int](n, MaxTokenCacheBytes)
		i := 0
		// Fill every shard to its count limit; the shards are chosen by
		// hash, so this takes more than n puts.
		for ; c.len() < n; i++ {
			c.put("tok"+strconv.Itoa(i), i, 1000, hour, t0)
		}
		for range 2 * n {
			before := c.stats(t).touched
			c.put("tok"+strconv.Itoa(i), i, 1000, hour, t0)
			i++
			if freed := c.stats(t).touched - before; freed != 1 {
				t.Fatalf("a put into a full cache freed %d positions", freed)
			}
			if c.len() != n {
				t.Fatalf("len %d", c.len())
			}
		}
	})
	t.Run("any sizes, replacements and expiry", func(t *testing.T) {
		c := newTokenCache[int](n, MaxTokenCacheBytes)
		rnd := rand.New(rand.NewPCG(1, 2))
		puts := 0
		for i := range 20 * n {
			tok := "tok" + strconv.Itoa(rnd.IntN(3*n))
			size := cacheEntryOverhead
			if rnd.IntN(50) == 0 {
				size = MaxTokenCacheBytes / 64
			}
			exp := hour
			if rnd.IntN(10) == 0 {
				exp = t0.Add(time.Second)
			}
			c.put(tok, i, size, exp, t0)
			puts++
			c.get(tok, t0.Add(time.Duration(rnd.IntN(2))*time.Second))
		}
		st := checkLimits(t, c, n, MaxTokenCacheBytes)
		if st.touched > puts {
			t.Errorf("%d puts freed %d positions", puts, st.touched)
		}
	})
}

// TestTokenCacheConcurrent puts and gets from several goroutines into a
// full cache while another checks the limits; run it with -race.
func TestTokenCacheConcurrent(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const maxEntries, maxBytes = 4096, 4 << 20
	c := newTokenCache[string](maxEntries, maxBytes)
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 20000 {
				tok := "tok" + strconv.Itoa(rnd.IntN(3*maxEntries))
				exp := t0.Add(time.Duration(1+rnd.IntN(100)) * time.Second)
				now := t0.Add(time.Duration(rnd.IntN(50)) * time.Second)
				if i%3 == 0 {
					c.put(tok, tok, rnd.IntN(maxBytes/64+1), exp, now)
				} else if v, ok := c.get(tok, now); ok && v != tok {
					t.Errorf("get(%q) = %q", tok, v)
				}
			}
		})
	}
	go func() {
		defer close(done)
		for range 200 {
			checkLimits(t, c, maxEntries, maxBytes)
			_ = c.len()
		}
	}()
	wg.Wait()
	<-done
	checkLimits(t, c, maxEntries, maxBytes)
}

// ktClock is a settable Config.Now.
type ktClock struct{ t atomic.Pointer[time.Time] }

func (c *ktClock) now() time.Time { return *c.t.Load() }

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
		// Directly on the cache hit path: checkTimesAt.
		ct, ok := v.cache.get(tok, t0.Add(time.Minute))
		if !ok {
			t.Fatal("miss")
		}
		clock.set(t0.Add(2*time.Minute + DefaultLeeway))
		if err := checkTimesAt(v.cfg.now(), v.cfg.leeway(), ct.claims, expRequired); err == nil {
			t.Error("checkTimes accepted an expired token")
		}
		c2 := *ct.claims
		c2.ExpiresAt = t0.Add(time.Hour)
		c2.NotBefore = t0.Add(time.Hour)
		if err := checkTimesAt(v.cfg.now(), v.cfg.leeway(), &c2, expRequired); err == nil {
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
