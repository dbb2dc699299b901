package middleware

// The budget of fetches unknown kids may cause, mostly driven through an
// injected clock: the issuer's keys are fed to begin and finish as the
// refresh goroutine would, and requests ask for fetches at chosen times. No
// sleeps.

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"hash/maphash"
	"strconv"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// kbClock is an issuer's keys without a refresh goroutine: the test starts
// and ends fetches itself, at the times it chooses.
type kbClock struct {
	t      *testing.T
	ik     *issuerKeys
	now    time.Time
	keys   []*verifyKey // what the JWKS serves
	starts []time.Time  // starts of the fetches asked for by kids
}

func kbNew(t *testing.T, minRefresh time.Duration) *kbClock {
	t.Helper()
	c := &kbClock{t: t, ik: newIssuerKeys(&Config{MinRefreshInterval: minRefresh}, nil, Issuer{Issuer: "https://issuer.example"})}
	c.now = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)
	c.publish("k0")
	c.fetch() // start-up
	return c
}

// publish adds a key under kid to the JWKS.
func (c *kbClock) publish(kid string) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	c.keys = append(append([]*verifyKey(nil), c.keys...), &verifyKey{kid: kid, alg: "EdDSA", pub: pub})
}

// fetch runs one fetch at c.now, as the refresh goroutine would, taking
// the round requests asked for, if any.
func (c *kbClock) fetch() {
	c.ik.mu.Lock()
	asked := c.ik.next != nil && !c.ik.lastStart.IsZero()
	c.ik.mu.Unlock()
	r, _ := c.ik.begin(c.now)
	if asked {
		c.starts = append(c.starts, c.now)
	}
	// Fresh copies: a JWKS fetch decodes new keys each time.
	keys := make([]*verifyKey, len(c.keys))
	for i, k := range c.keys {
		cp := *k
		keys[i] = &cp
	}
	c.ik.finish(r, keys, nil, c.now)
}

// kid asks for a fetch for kid at c.now, as a request with that unknown
// kid does, and runs the fetch if the budget allows it now. It reports
// whether a fetch ran.
func (c *kbClock) kid(kid string) bool {
	c.ik.mu.Lock()
	now, _ := c.ik.ask(maphash.String(c.ik.seed, kid), c.now, false)
	c.ik.mu.Unlock()
	if now {
		c.fetch()
	}
	return now
}

// due runs the fetch asked for if its time has come, as the refresh
// goroutine does when its timer fires.
func (c *kbClock) due() {
	c.ik.mu.Lock()
	run := c.ik.next != nil && !c.now.Before(c.ik.nextAt)
	c.ik.mu.Unlock()
	if run {
		c.fetch()
	}
}

// gaps returns the times between the starts of the asked fetches.
func (c *kbClock) gaps() []time.Duration {
	var g []time.Duration
	for i := 1; i < len(c.starts); i++ {
		g = append(g, c.starts[i].Sub(c.starts[i-1]))
	}
	return g
}

// TestUnknownKidBackoff: a stream of distinct unknown kids (one every
// 100 ms for 60 s) causes fetches at least MinRefreshInterval apart, the
// interval doubling while they find no new key, up to MaxKeyFetchBackoff
// times; a fetch that finds a new key, or a kid seen twice before a fetch
// could look for it, brings it back to MinRefreshInterval at once.
func TestUnknownKidBackoff(t *testing.T) {
	const base = time.Second
	step := 100 * time.Millisecond
	stream := func(c *kbClock, from, n int) {
		for i := range n {
			c.now = c.now.Add(step)
			c.due()
			c.kid("forged-" + strconv.Itoa(from+i))
		}
	}

	t.Run("forged stream", func(t *testing.T) {
		c := kbNew(t, base)
		stream(c, 0, 600)
		want := []time.Duration{2 * base, 4 * base, 8 * base}
		for i, g := range c.gaps() {
			w := MaxKeyFetchBackoff * base
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Fatalf("gaps between fetches %v: gap %d is %v, want %v", c.gaps(), i, g, w)
			}
		}
		// 60 s of forged kids: 1 + 2 + 4 s, then one fetch per 8 s.
		if n := len(c.starts); n < 8 || n > 10 {
			t.Errorf("%d fetches for 600 distinct forged kids in 60 s, want 8 to 10 (gaps %v)", n, c.gaps())
		}
	})

	t.Run("new key resets", func(t *testing.T) {
		c := kbNew(t, base)
		stream(c, 0, 200) // well into the backoff
		c.publish("k1")
		// The new key's first token: no fetch allowed now.
		c.now = c.now.Add(step)
		c.due()
		c.kid("k1")
		// Its second token, before any fetch looked: the backoff ends.
		c.now = c.now.Add(time.Millisecond)
		c.due()
		c.kid("k1")
		last := c.starts[len(c.starts)-1]
		if c.ik.set.Load().byKid["k1"] == nil {
			// The next fetch is due at most MinRefreshInterval after
			// the previous one.
			c.ik.mu.Lock()
			at := c.ik.nextAt
			c.ik.mu.Unlock()
			if at.Sub(last) > base {
				t.Fatalf("next fetch %v after the last one, want at most %v once a kid is seen twice", at.Sub(last), base)
			}
			c.now = at
			c.due()
		}
		if c.ik.set.Load().byKid["k1"] == nil {
			t.Fatal("the new key was not fetched")
		}
		if c.ik.idle != 0 {
			t.Fatalf("backoff %d after a fetch found a new key, want 0", c.ik.idle)
		}
		// Forged kids again: MinRefreshInterval, then doubling.
		n := len(c.starts)
		stream(c, 1000, 100)
		g := c.gaps()[n-1:]
		if g[0] != base || g[1] != 2*base {
			t.Errorf("gaps after the new key %v, want %v then %v", g, base, 2*base)
		}
	})

	t.Run("never closer than MinRefreshInterval", func(t *testing.T) {
		c := kbNew(t, base)
		// The same few kids over and over: every one is a second
		// sighting, so no backoff, but the budget still holds.
		for i := range 600 {
			c.now = c.now.Add(step)
			c.due()
			c.kid("again-" + strconv.Itoa(i%3))
		}
		for _, g := range c.gaps() {
			if g < base {
				t.Fatalf("fetches %v apart, MinRefreshInterval is %v", g, base)
			}
		}
		if n := len(c.starts); n > 61 {
			t.Errorf("%d fetches in 60 s, want at most 61", n)
		}
	})
}

// TestUnknownKidMemory: the kids remembered are bounded. A kid found absent
// is refused at once while the keys held stay the same, and for absentTTL
// only; a kid the issuer withdrew, as long as the keys stay the same; the pending kids (to tell a kid seen twice) never exceed
// maxPendingKids, and a full table ends the backoff rather than hide a
// kid seen twice.
func TestUnknownKidMemory(t *testing.T) {
	c := kbNew(t, time.Second)
	ik := c.ik
	h := maphash.String(ik.seed, "gone")
	ik.mu.Lock()
	ik.markAbsent(h, ik.set.Load(), c.now)
	if !ik.knownAbsent(h, c.now.Add(ik.absentTTL()-time.Nanosecond)) {
		t.Error("a kid found absent is not refused at once")
	}
	if ik.knownAbsent(h, c.now.Add(ik.absentTTL())) {
		t.Error("a kid found absent is refused at once past absentTTL")
	}
	for i := range 3 * maxAbsentKids {
		ik.markAbsent(maphash.String(ik.seed, "k"+strconv.Itoa(i)), ik.set.Load(), c.now)
		if len(ik.absent) > maxAbsentKids {
			t.Fatalf("%d absent kids remembered, more than %d", len(ik.absent), maxAbsentKids)
		}
	}
	ik.markAbsent(h, ik.set.Load(), c.now)
	ik.mu.Unlock()
	c.publish("k1")
	c.fetch()
	ik.mu.Lock()
	if ik.knownAbsent(h, c.now) {
		t.Error("a kid found absent is still refused at once after the keys changed")
	}
	ik.mu.Unlock()

	// A kid the issuer withdrew is refused at once while the keys stay
	// the same, however long.
	c.fetch()
	k1 := maphash.String(ik.seed, "k1")
	c.keys = c.keys[:len(c.keys)-1]
	c.fetch()
	ik.mu.Lock()
	if !ik.knownAbsent(k1, c.now.Add(time.Hour)) {
		t.Error("a kid the last fetch removed is not refused at once")
	}
	ik.mu.Unlock()
	c.publish("k1")
	c.fetch()
	ik.mu.Lock()
	if ik.knownAbsent(k1, c.now) {
		t.Error("a kid published again is still refused")
	}
	ik.mu.Unlock()

	// Pending kids.
	c.kid("spend") // the one fetch allowed now; then backoff
	for i := range 3 * maxPendingKids {
		c.kid("p" + strconv.Itoa(i))
		if len(ik.pending) > maxPendingKids {
			t.Fatalf("%d pending kids remembered, more than %d", len(ik.pending), maxPendingKids)
		}
	}
	if ik.idle != 0 {
		t.Errorf("backoff %d with the pending kids table full, want 0", ik.idle)
	}
}

// TestUnknownKidRetryAfter: a kid answered 503 because no fetch is allowed
// now is told to come back when a fetch is allowed for it seen again
// (MinRefreshInterval after the last one), not when the backoff would
// allow the next fetch: a kid seen twice ends the backoff.
func TestUnknownKidRetryAfter(t *testing.T) {
	kit := ktKit(t)
	v := ktReady(t, kit, Config{MinRefreshInterval: time.Hour, TokenCacheSize: -1})
	forged := func(kid string) error {
		return ktValidate(v, kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": kid}}))
	}
	// Spends the budget; the fetch finds nothing new: backoff.
	ktWant(t, forged("first"), ErrInvalidToken, ErrUnknownKey)
	if idle := v.order[0].idle; idle != 1 {
		t.Fatalf("backoff %d after a fetch that found nothing new, want 1", idle)
	}
	err := forged("second")
	ktWant(t, err, ErrKeysUnavailable)
	var e *Error
	if !errors.As(err, &e) || e.RetryAfter > time.Hour || e.RetryAfter < time.Hour-time.Minute {
		t.Fatalf("Retry-After %v, want about MinRefreshInterval (1h), not the backoff's 2h", e.RetryAfter)
	}
}
