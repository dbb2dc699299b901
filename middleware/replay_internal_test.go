package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestMemoryReplay: the default replay store refuses a key while it is
// recorded, forgets it once expired, and is bounded in entries and bytes:
// full of unexpired keys it fails (503) rather than forget one early.
func TestMemoryReplay(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ctx := context.Background()

	m := newMemoryReplay(clock, 2, 1<<20)
	add := func(key string, until time.Time) (bool, error) { return m.Add(ctx, key, until) }
	if ok, err := add("a", now.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("first add: %v %v", ok, err)
	}
	if ok, err := add("a", now.Add(time.Minute)); ok || err != nil {
		t.Fatalf("replayed add: %v %v, want false", ok, err)
	}
	if ok, err := add("b", now.Add(2*time.Minute)); !ok || err != nil {
		t.Fatalf("second key: %v %v", ok, err)
	}
	if _, err := add("c", now.Add(time.Minute)); !errors.Is(err, errReplayFull) {
		t.Fatalf("third key in a store of two: %v, want errReplayFull", err)
	}
	now = now.Add(time.Minute) // "a" expires
	if ok, err := add("a", now.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("expired key added again: %v %v", ok, err)
	}
	if ok, _ := add("b", now.Add(time.Minute)); ok {
		t.Fatalf("unexpired key b added again")
	}

	bytes := newMemoryReplay(clock, 1000, 3*(replayEntryOverhead+10))
	for i := range 3 {
		if ok, err := bytes.Add(ctx, "key-"+strconv.Itoa(100000+i), now.Add(time.Minute)); !ok || err != nil {
			t.Fatalf("add %d: %v %v", i, ok, err)
		}
	}
	if _, err := bytes.Add(ctx, "key-200000", now.Add(time.Minute)); !errors.Is(err, errReplayFull) {
		t.Fatalf("add beyond the byte bound: %v, want errReplayFull", err)
	}
	if len(bytes.until) != 3 || bytes.size != 3*(replayEntryOverhead+10) {
		t.Fatalf("store holds %d entries, %d bytes", len(bytes.until), bytes.size)
	}
}

// TestProofKeyCache: a proof JWK parsed once is reused for the same bytes
// and alg only, and refused JWKs are never cached.
func TestProofKeyCache(t *testing.T) {
	key := middlewaretest.NewDPoPKey("ES256")
	raw, err := json.Marshal(key.JWK())
	if err != nil {
		t.Fatal(err)
	}
	pc := newProofKeyCache()
	now := time.Now()
	p1, j1, err := pc.get(raw, "ES256", now)
	if err != nil {
		t.Fatal(err)
	}
	p2, j2, err := pc.get(raw, "ES256", now)
	if err != nil || p1 != p2 || string(j1) != string(j2) || pc.c.len() != 1 {
		t.Fatalf("second get: %v, same key %v, entries %d", err, p1 == p2, pc.c.len())
	}
	if _, _, err := pc.get(raw, "ES384", now); err == nil {
		t.Fatal("an ES256 key served for ES384")
	}
	private, err := json.Marshal(key.PrivateJWK())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := pc.get(private, "ES256", now); err == nil {
			t.Fatal("a JWK with private members accepted")
		}
	}
	if n := pc.c.len(); n != 1 {
		t.Fatalf("%d entries: refusals were cached", n)
	}
	if _, _, err := pc.get(raw, "ES256", now.Add(proofKeyCacheTTL)); err != nil || pc.c.len() != 1 {
		t.Fatalf("after the lifetime: %v, %d entries", err, pc.c.len())
	}
}
