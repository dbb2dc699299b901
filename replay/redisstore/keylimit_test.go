package redisstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bearerguard/bearerguard/middleware"
)

// addErr is Add with a bounded context.
func addErr(t *testing.T, s *Store, key string, until time.Time) (bool, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Add(ctx, key, until)
}

// wantKeyLimit checks that err refuses a key over its thumbprint's bound,
// with a Retry-After of at most most.
func wantKeyLimit(t *testing.T, added bool, err error, most time.Duration) {
	t.Helper()
	if added || !errors.Is(err, middleware.ErrReplayKeyLimit) {
		t.Fatalf("Add = %v, %v; want false and an error matching ErrReplayKeyLimit", added, err)
	}
	var r interface{ RetryAfter() time.Duration }
	if !errors.As(err, &r) {
		t.Fatalf("error %v has no RetryAfter", err)
	}
	if got := r.RetryAfter(); got <= 0 || got > most {
		t.Fatalf("RetryAfter = %v, want in (0, %v]", got, most)
	}
}

// fill puts n members of realistic size (a base64url SHA-256 is 43
// characters) into the set of thumb, expiring at until, as a store at its
// bound holds them, without n round trips.
func fill(t *testing.T, c *redis.Client, set string, n int, until time.Time) {
	t.Helper()
	ctx := context.Background()
	const batch = 5000
	for i := 0; i < n; i += batch {
		zs := make([]redis.Z, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			zs = append(zs, redis.Z{Score: float64(until.UnixMilli()), Member: fmt.Sprintf("%043d", j)})
		}
		if err := c.ZAdd(ctx, set, zs...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PExpireAt(ctx, set, until).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestKeyLimit: one DPoP key may hold Options.MaxProofsPerKey unexpired
// proofs, across replicas; beyond it its new proofs are refused with
// ErrReplayKeyLimit and a Retry-After until its oldest proof expires, while
// its replays are still replays and other keys are served.
func TestKeyLimit(t *testing.T) {
	r := startRedis(t)
	one := New(newClient(t, r.Addr()), Options{MaxProofsPerKey: 3})
	two := New(newClient(t, r.Addr()), Options{MaxProofsPerKey: 3})
	now := time.Now()
	first := now.Add(20 * time.Second)
	until := now.Add(time.Minute)

	mustAdd(t, one, "flood.1", first, true)
	mustAdd(t, two, "flood.2", until, true)
	mustAdd(t, one, "flood.3", until, true)
	for _, s := range []*Store{one, two} {
		added, err := addErr(t, s, "flood.4", until)
		wantKeyLimit(t, added, err, time.Until(first)+time.Second)
	}
	mustAdd(t, two, "flood.1", until, false) // a replay, not a limit
	mustAdd(t, one, "flood.3", until, false)
	mustAdd(t, two, "honest.1", until, true) // other keys are served
	mustAdd(t, one, "honest.2", until, true)
	// The refused key was not recorded: it is not a replay later.
	if n, err := one.client.ZCard(context.Background(), DefaultPrefix+"flood").Result(); err != nil || n != 3 {
		t.Fatalf("ZCARD of the flooding key = %d, %v; want 3", n, err)
	}
}

// TestKeyLimitFreesOnExpiry: once a full key's oldest proofs expire, by
// Redis's clock, its new proofs are recorded again, and an expired proof is
// new again, while the key's set lives on with its later proofs.
func TestKeyLimitFreesOnExpiry(t *testing.T) {
	r := startRedis(t)
	s := New(newClient(t, r.Addr()), Options{MaxProofsPerKey: 2})
	short := time.Now().Add(400 * time.Millisecond)
	mustAdd(t, s, "k.1", short, true)
	mustAdd(t, s, "k.2", time.Now().Add(time.Minute), true)
	added, err := addErr(t, s, "k.3", time.Now().Add(time.Minute))
	wantKeyLimit(t, added, err, 400*time.Millisecond)
	time.Sleep(time.Until(short) + 100*time.Millisecond)
	mustAdd(t, s, "k.3", time.Now().Add(time.Minute), true)
	mustAdd(t, s, "k.2", time.Now().Add(time.Minute), false)
	added, err = addErr(t, s, "k.1", time.Now().Add(time.Minute)) // expired: not a replay, and the key is full
	wantKeyLimit(t, added, err, time.Minute)
}

// TestDefaultKeyLimit: with Options.MaxProofsPerKey zero, a key holding
// DefaultMaxProofsPerKey proofs is refused; with a negative bound it is
// not. An already expired until is never refused: it records nothing.
func TestDefaultKeyLimit(t *testing.T) {
	r := startRedis(t)
	c := newClient(t, r.Addr())
	until := time.Now().Add(time.Minute)
	fill(t, c, DefaultPrefix+"full", DefaultMaxProofsPerKey-1, until)

	s := New(c, Options{})
	mustAdd(t, s, "full.last", until, true)
	added, err := addErr(t, s, "full.over", until)
	wantKeyLimit(t, added, err, time.Minute)
	mustAdd(t, s, "full.past", time.Now().Add(-time.Second), true)
	mustAdd(t, s, "full.last", until, false)

	unbounded := New(c, Options{MaxProofsPerKey: -1})
	mustAdd(t, unbounded, "full.over", until, true)
	mustAdd(t, unbounded, "full.over", until, false)
}

// TestMemoryPerProof holds the memory figure of DefaultMaxProofsPerKey's
// doc: a DPoP key at its bound costs Redis about 14 MB, by MEMORY USAGE of
// its set (all of it, not sampled).
func TestMemoryPerProof(t *testing.T) {
	r := startRedis(t)
	c := newClient(t, r.Addr())
	set := DefaultPrefix + "thumb"
	fill(t, c, set, DefaultMaxProofsPerKey, time.Now().Add(time.Minute))
	used, err := c.MemoryUsage(context.Background(), set, 0).Result()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a key at DefaultMaxProofsPerKey (%d proofs): %.1f MB of Redis, %d bytes a proof",
		DefaultMaxProofsPerKey, float64(used)/1e6, used/DefaultMaxProofsPerKey)
	if used < 12e6 || used > 15e6 {
		t.Fatalf("MEMORY USAGE = %d bytes, want about 14 MB (12 to 15)", used)
	}
}

// TestSetLivesWithItsLastProof: a proof with an earlier until (a client
// chooses iat within the leeway) added after one with a later until does
// not shorten the set's life, which would drop the later proof early and
// let it be replayed.
func TestSetLivesWithItsLastProof(t *testing.T) {
	r := startRedis(t)
	s := New(newClient(t, r.Addr()), Options{})
	mustAdd(t, s, "k.late", time.Now().Add(3*time.Second), true)
	early := time.Now().Add(300 * time.Millisecond)
	mustAdd(t, s, "k.early", early, true)
	time.Sleep(time.Until(early) + 300*time.Millisecond)
	mustAdd(t, s, "k.late", time.Now().Add(3*time.Second), false)
	mustAdd(t, s, "k.early", time.Now().Add(time.Second), true) // expired, so new again
}

// TestReplayWithPastUntil: a recorded proof presented again with an until
// already past is still a replay; only a proof recorded nowhere is let
// through with such an until, recording nothing.
func TestReplayWithPastUntil(t *testing.T) {
	r := startRedis(t)
	for _, limit := range []int{0, 1} { // under the bound, and at it
		s := New(newClient(t, r.Addr()), Options{MaxProofsPerKey: limit, Prefix: fmt.Sprintf("limit-%d:", limit)})
		mustAdd(t, s, "k.a", time.Now().Add(time.Minute), true)
		mustAdd(t, s, "k.a", time.Now().Add(-time.Second), false)
		mustAdd(t, s, "k.b", time.Now().Add(-time.Second), true)
		mustAdd(t, s, "k.b", time.Now().Add(-time.Second), true)
	}
}

// TestKeyWithoutDot: a key without "." is a DPoP key of its own, as in the
// in-memory store: two such keys do not share a bound.
func TestKeyWithoutDot(t *testing.T) {
	r := startRedis(t)
	s := New(newClient(t, r.Addr()), Options{MaxProofsPerKey: 1})
	until := time.Now().Add(time.Minute)
	mustAdd(t, s, "alpha", until, true)
	mustAdd(t, s, "beta", until, true)
	mustAdd(t, s, "alpha", until, false)
	added, err := addErr(t, s, "alpha.x", until)
	wantKeyLimit(t, added, err, time.Minute)
}
