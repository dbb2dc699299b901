package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// replayClock is a settable clock for the in-memory replay store.
type replayClock struct{ t time.Time }

func (c *replayClock) now() time.Time { return c.t }

// TestMemoryReplay: the default replay store refuses a key while it is
// recorded, whatever until the replay comes with, and forgets it once
// expired; it refuses (an error: 503) what it could not remember long
// enough rather than forget it early.
func TestMemoryReplay(t *testing.T) {
	clock := &replayClock{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	m := newMemoryReplay(clock.now, 2*time.Minute, 100, 1<<20)
	add := func(key string, until time.Duration) (bool, error) { return m.Add(ctx, key, clock.t.Add(until)) }
	for _, tc := range []struct {
		name  string
		key   string
		until time.Duration // from now
		pass  time.Duration // then the clock moves on; -1: to the end of the time slot
		added bool
		err   error
	}{
		{"first", "k1.a", time.Minute, 0, true, nil},
		{"replayed", "k1.a", time.Minute, 0, false, nil},
		{"replayed with a later until", "k1.a", 2 * time.Minute, 0, false, nil},
		{"replayed with an earlier until", "k1.a", time.Second, 0, false, nil},
		{"another jti of the key", "k1.b", 90 * time.Second, 0, true, nil},
		{"the same jti of another key", "k2.a", time.Minute, 0, true, nil},
		{"a key without a dot", "plain", time.Minute, 59 * time.Second, true, nil},
		{"replayed a second before expiry", "k1.a", time.Minute, time.Second, false, nil},
		{"replayed at expiry: kept to the end of its time slot", "k1.a", time.Minute, -1, false, nil},
		{"expired", "k1.a", time.Minute, 0, true, nil},
		{"other key still recorded", "k1.b", time.Minute, 0, false, nil},
		{"until passed: nothing to remember", "k3.a", 0, 0, true, nil},
		{"until passed, again", "k3.a", -time.Second, 0, true, nil},
		{"until beyond the window: refused, not forgotten early", "k4.a", time.Hour, 0, false, errReplayTooLong},
		{"not recorded by the refusal", "k4.a", time.Minute, 0, true, nil},
	} {
		added, err := add(tc.key, tc.until)
		if added != tc.added || !errors.Is(err, tc.err) {
			t.Fatalf("%s: Add = %v, %v; want %v, %v", tc.name, added, err, tc.added, tc.err)
		}
		if tc.pass == -1 {
			clock.t = m.slotEnd(m.slotOf(clock.t))
			continue
		}
		clock.t = clock.t.Add(tc.pass)
	}
	// Long after: the sweeps of Add release every slot of every shard.
	clock.t = clock.t.Add(time.Hour)
	for range replayShards {
		m.sweepOne()
	}
	if b := m.bytes.Load(); b != 0 {
		t.Fatalf("store holds %d bytes after everything expired", b)
	}
	if ok, err := add("k5.a", time.Second); !ok || err != nil {
		t.Fatalf("add after an hour: %v %v", ok, err)
	}
	if b := m.bytes.Load(); b != 16*replayMinTable {
		t.Fatalf("store holds %d bytes after everything expired, want %d (one entry's tables)", b, 16*replayMinTable)
	}
}

// TestMemoryReplayClockBack: when the clock goes back, an add whose time
// slot shares its place in the ring with a later slot keeps that slot's
// entries (its own is then kept longer), so no entry is forgotten early.
func TestMemoryReplayClockBack(t *testing.T) {
	clock := &replayClock{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	window := 2 * time.Minute
	m := newMemoryReplay(clock.now, window, 100, 1<<20)
	if ok, err := m.Add(ctx, "k.x", clock.t.Add(window)); !ok || err != nil {
		t.Fatalf("add: %v %v", ok, err)
	}
	clock.t = clock.t.Add(-replaySlots * time.Duration(m.span)) // the same place in the ring
	if ok, err := m.Add(ctx, "k.y", clock.t.Add(window)); !ok || err != nil {
		t.Fatalf("add after the clock went back: %v %v", ok, err)
	}
	for _, k := range []string{"k.x", "k.y"} {
		if ok, err := m.Add(ctx, k, clock.t.Add(window)); ok || err != nil {
			t.Fatalf("replay of %s: %v %v; want false, nil", k, ok, err)
		}
	}
}

// TestMemoryReplayModel: a long random run of adds (a few DPoP keys and
// jtis, untils across the window and before now, a clock moving forward by
// seconds; TestMemoryReplayClockBack for a clock going back) against a
// model that knows each key's until: a key recorded and not expired is
// always refused (a replay is never accepted), and a key is refused
// otherwise only before the end of the time slot of its last until.
func TestMemoryReplayModel(t *testing.T) {
	clock := &replayClock{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	window := 90 * time.Second
	m := newMemoryReplay(clock.now, window, 1000, 64<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	last := map[string]time.Time{} // until of each key's last recording
	replays := 0
	for i := range 200_000 {
		key := strconv.Itoa(rng.IntN(5)) + "." + strconv.Itoa(rng.IntN(200))
		until := clock.t.Add(time.Duration(rng.Int64N(int64(window+10*time.Second))) - 10*time.Second)
		ok, err := m.Add(ctx, key, until)
		prev, seen := last[key]
		switch {
		case err != nil:
			t.Fatalf("op %d: %v", i, err)
		case seen && clock.t.Before(prev) && ok:
			t.Fatalf("op %d: replay of %s accepted (recorded until %v, now %v)", i, key, prev, clock.t)
		case !ok && !(seen && clock.t.Before(m.slotEnd(m.slotOf(prev)))):
			t.Fatalf("op %d: %s refused, last recorded until %v (seen %v), now %v", i, key, prev, seen, clock.t)
		case ok && clock.t.Before(until):
			last[key] = until
		case !ok:
			replays++
		}
		clock.t = clock.t.Add(time.Duration(rng.Int64N(int64(2 * time.Second))))
	}
	if replays < 5000 {
		t.Fatalf("only %d replays refused: the run tests little", replays)
	}
}

// TestMemoryReplayConcurrent: goroutines adding the same keys at once:
// each key is recorded by exactly one of them.
func TestMemoryReplayConcurrent(t *testing.T) {
	clock := &replayClock{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := newMemoryReplay(clock.now, time.Minute, 1000, 64<<20)
	const keys, workers = 2000, 8
	var added [keys]atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range keys {
				k := (i + w*keys/workers) % keys
				ok, err := m.Add(context.Background(), strconv.Itoa(k%7)+"."+strconv.Itoa(k), clock.t.Add(time.Minute))
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					added[k].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for k := range added {
		if n := added[k].Load(); n != 1 {
			t.Fatalf("key %d recorded %d times", k, n)
		}
	}
}

// TestMemoryReplayFull: full of unexpired entries (its byte bound), the
// store refuses new keys with errReplayFull and a Retry-After, still
// refuses every key it holds as a replay (it never forgets one early), and
// accepts new keys again once entries expire.
func TestMemoryReplayFull(t *testing.T) {
	clock := &replayClock{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	const maxBytes = 256 << 10
	m := newMemoryReplay(clock.now, time.Minute, 1<<20, maxBytes) // no key limit in the way
	until := clock.t.Add(time.Minute)
	var keys []string
	for i := 0; ; i++ {
		if i > maxBytes/8 { // an entry takes at least 8 bytes
			t.Fatalf("%d keys added within a %d-byte bound", i, maxBytes)
		}
		key := "key" + strconv.Itoa(i%7) + "." + strconv.Itoa(i)
		ok, err := m.Add(ctx, key, until)
		if err != nil {
			if !errors.Is(err, errReplayFull) {
				t.Fatalf("add %d: %v, want errReplayFull", i, err)
			}
			if r := replayRetry(err); r <= 0 || r > m.slotEnd(m.slotOf(clock.t)).Sub(clock.t) {
				t.Fatalf("Retry-After %v", r)
			}
			break
		}
		if !ok {
			t.Fatalf("new key %d refused as a replay", i)
		}
		keys = append(keys, key)
	}
	if b := m.bytes.Load(); b > maxBytes {
		t.Fatalf("store holds %d bytes, bound %d", b, maxBytes)
	}
	// Entries cost 8 bytes in a table at most three quarters full, twice
	// as big after growing: at least maxBytes/4 of entries fit here,
	// where one slot of each shard holds them all.
	if len(keys) < maxBytes/8/4 {
		t.Fatalf("only %d entries in %d bytes", len(keys), maxBytes)
	}
	for _, k := range keys {
		if ok, err := m.Add(ctx, k, until); ok || err != nil {
			t.Fatalf("full store, replay of %s: %v %v; want false, nil", k, ok, err)
		}
	}
	clock.t = until
	if ok, err := m.Add(ctx, "key0.fresh", clock.t.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("after expiry: %v %v", ok, err)
	}
}

// TestMemoryReplayKeyLimit: one DPoP key (the part of the store key before
// ".") can hold at most its share of the store: beyond it its new proofs
// are refused with ErrReplayKeyLimit and a Retry-After that ends when its
// first entries expire, while other keys are still recorded; its recorded
// proofs are still replays, and once they expire the key is served again.
func TestMemoryReplayKeyLimit(t *testing.T) {
	clock := &replayClock{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	m := newMemoryReplay(clock.now, time.Minute, 1000, 64<<20)
	if want := 1000 * int(time.Minute+time.Duration(m.span)) / int(time.Second) / replayKeyShare; m.perKey != want {
		t.Fatalf("per-key share %d, want %d", m.perKey, want)
	}
	first := clock.t.Add(time.Minute)
	n := 0
	for ; n < 2*m.perKey; n++ {
		if n == m.perKey/2 {
			clock.t = clock.t.Add(10 * time.Second) // the rest in later slots
		}
		ok, err := m.Add(ctx, "flood."+strconv.Itoa(n), clock.t.Add(time.Minute))
		if errors.Is(err, ErrReplayKeyLimit) {
			if r, want := replayRetry(err), m.slotEnd(m.slotOf(first)).Sub(clock.t); r != want {
				t.Fatalf("Retry-After %v, want %v (the end of the key's first slot)", r, want)
			}
			break
		}
		if !ok || err != nil {
			t.Fatalf("flood %d: %v %v", n, ok, err)
		}
	}
	if n != m.perKey {
		t.Fatalf("the flooding key was refused after %d proofs, want %d", n, m.perKey)
	}
	// Other keys in the flooder's shard, which holds its share.
	shard := maphash.String(m.seed, "flood") & (replayShards - 1)
	var others []string
	for i := 0; len(others) < 3; i++ {
		if k := "other" + strconv.Itoa(i); maphash.String(m.seed, k)&(replayShards-1) == shard {
			others = append(others, k)
		}
	}
	for i := range m.perKey {
		if ok, err := m.Add(ctx, others[i%3]+"."+strconv.Itoa(i), clock.t.Add(time.Minute)); !ok || err != nil {
			t.Fatalf("another key's proof %d while one floods: %v %v", i, ok, err)
		}
	}
	if ok, err := m.Add(ctx, "flood.0", first); ok || err != nil {
		t.Fatalf("the flooder's recorded proof: %v %v, want a replay", ok, err)
	}
	clock.t = m.slotEnd(m.slotOf(first))
	if ok, err := m.Add(ctx, "flood.new", clock.t.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("the flooder once its first proofs expired: %v %v", ok, err)
	}
}

// TestMemoryReplayAccounting: the store's byte count is what its tables
// take from the heap. Filled to its bound with a DPoP key per proof (the
// most expensive case, two tables), the heap grows by the bound at most,
// plus a fixed overhead.
func TestMemoryReplayAccounting(t *testing.T) {
	clock := &replayClock{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	const maxBytes = 16 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := newMemoryReplay(clock.now, 2*time.Minute, 1<<20, maxBytes)
	n := 0
	for ; ; n++ {
		if n > maxBytes/8 { // an entry takes at least 8 bytes
			t.Fatalf("%d keys added within a %d-byte bound", n, maxBytes)
		}
		key := strconv.Itoa(n) + ".j"
		// Spread over the window: every slot holds entries.
		until := clock.t.Add(time.Second + time.Duration(n%120)*time.Second)
		if ok, err := m.Add(ctx, key, until); err != nil {
			break
		} else if !ok {
			t.Fatalf("new key %d refused as a replay", n)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	const overhead = 256 << 10 // the store's fixed part, and the test's
	if b := m.bytes.Load(); b > maxBytes || held > b+overhead {
		t.Fatalf("store counts %d bytes, heap grew by %d; bound %d", b, held, maxBytes)
	}
	t.Logf("%d entries of distinct DPoP keys in %d bytes (%.1f bytes each), heap +%d", n, m.bytes.Load(), float64(m.bytes.Load())/float64(n), held)
	runtime.KeepAlive(m)
}

// TestDefaultReplaySustainsRate: with the default configuration, the
// in-memory store sustains DefaultReplayRate proofs per second, each
// remembered for the whole window (until now + the replay window: an iat
// a leeway ahead), for longer than the window, within
// DefaultReplayBytes: half the proofs from 4096 clients, half each from a
// DPoP key of its own (the most expensive case: a key count per proof).
func TestDefaultReplaySustainsRate(t *testing.T) {
	window := replayWindow(&Config{})
	if want := DefaultDPoPProofLifetime + 2*DefaultLeeway; window != want {
		t.Fatalf("default replay window %v, want %v", window, want)
	}
	ctx := context.Background()
	clock := &replayClock{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := newMemoryReplay(clock.now, window, DefaultReplayRate, DefaultReplayBytes)
	tick := time.Second / DefaultReplayRate
	total := int((window + 2*time.Duration(m.span)) / tick)
	var peak int64
	for i := range total {
		key := strconv.Itoa(i)
		if i%2 == 0 {
			key = strconv.Itoa(i%4096) + "." + key
		}
		if ok, err := m.Add(ctx, key, clock.t.Add(window)); !ok || err != nil {
			t.Fatalf("proof %d of %d at %d/s refused: %v %v", i, total, DefaultReplayRate, ok, err)
		}
		peak = max(peak, m.bytes.Load())
		clock.t = clock.t.Add(tick)
	}
	t.Logf("%d proofs at %d/s over %v: peak %d bytes (%.1f MiB) of %d", total, DefaultReplayRate, clock.t.Sub(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)), peak, float64(peak)/(1<<20), DefaultReplayBytes)
	if peak > DefaultReplayBytes {
		t.Fatalf("peak %d bytes over the bound", peak)
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
