package middleware

import (
	"context"
	"errors"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file is the default DPoP.ReplayStore: proof identifiers remembered
// in memory, by one process, until they expire. It is sized for
// DefaultReplayRate proofs per second over the whole window in which a
// proof is accepted, and bounded in bytes (DefaultReplayBytes); when it
// cannot remember one more identifier it refuses to add (503), since
// forgetting an identifier early would let its proof be replayed.
//
// An entry is 8 bytes: a hash of the store key keyed with a per-process
// random seed (hash/maphash), never the key itself. Entries live in 64
// shards chosen by the DPoP key (the key thumbprint, the part of the store
// key before "."), each with its own lock, and in each shard in a ring of
// time slots: an entry goes to the slot in which it expires, and a slot is
// dropped whole once its time has passed, so nothing is sorted and expiry
// costs nothing per entry. A slot holds two open-addressing tables of
// uint64: the entries, and per DPoP key the number of its entries, so that
// one key can hold at most a sixteenth of the store's nominal capacity.
//
// Two different keys with the same 63-bit hash in a shard read as a
// replay: with the store full at its nominal capacity this happens to fewer
// than one proof in 10^14, and it refuses an honest proof (the client makes a
// new one); it can never accept a replay, since one key always hashes the
// same. The seed is random per process, so a client cannot aim at it.

const (
	replayShards   = 64 // power of two
	replaySlots    = 16 // time slots in each shard's ring
	replayKeyShare = 16 // a DPoP key holds at most 1/replayKeyShare of the nominal capacity
	replayMinTable = 64 // slots of a new table
	replayCountBit = 24 // low bits of a key-count slot holding the count
)

// Causes of ErrReplayStoreFailed from the in-memory store.
var (
	// errReplayFull: the store holds DefaultReplayBytes of unexpired
	// entries.
	errReplayFull = errors.New("in-memory DPoP replay store full")
	// errReplayTooLong: an identifier is to be remembered longer than the
	// store's ring of time slots reaches (a caller passing an until beyond
	// the proof window it was sized for).
	errReplayTooLong = errors.New("proof identifier outlives the in-memory replay store's window")
)

// replayRefusal is an error of the in-memory store carrying when the
// refused client may try again.
type replayRefusal struct {
	err   error
	retry time.Duration
}

func (e *replayRefusal) Error() string             { return e.err.Error() }
func (e *replayRefusal) Unwrap() error             { return e.err }
func (e *replayRefusal) RetryAfter() time.Duration { return e.retry }

// replayRetry returns the Retry-After of a request refused because the
// replay store returned err: that of an error in its chain with a method
// RetryAfter() time.Duration (ReplayStore), else one second.
func replayRetry(err error) time.Duration {
	var r interface{ RetryAfter() time.Duration }
	if errors.As(err, &r) {
		return r.RetryAfter()
	}
	return time.Second
}

// replayWindow returns how long after it is accepted a proof's identifier
// may have to be remembered: iat may be up to the leeway ahead, and the
// proof is accepted until iat + ProofLifetime + leeway; with server nonces,
// no longer than its nonce is accepted (nonce.go, proofUntil).
func replayWindow(c *Config) time.Duration {
	leeway := c.leeway()
	w := c.proofLifetime() + 2*leeway
	if len(c.DPoP.NonceSecrets) > 0 {
		w = min(w, 2*DPoPNonceStep+2*leeway)
	}
	return w
}

// memoryReplay is the in-memory ReplayStore.
type memoryReplay struct {
	now      func() time.Time
	span     int64 // of a time slot, in nanoseconds
	perKey   int   // entries one DPoP key may hold
	maxBytes int64
	seed     maphash.Seed

	bytes  atomic.Int64  // held by the tables of all shards
	sweep  atomic.Uint32 // the next shard swept by an Add of another
	shards [replayShards]replayShard
}

type replayShard struct {
	mu    sync.Mutex
	slots [replaySlots]replaySlot
}

// replaySlot holds a shard's entries expiring in one time slot.
type replaySlot struct {
	tag    int64    // the slot: Unix time / span
	proofs u64table // hashes of store keys, low bit set
	keys   u64table // per DPoP key: hash in the high 40 bits, count in the low 24
}

// newMemoryReplay returns a store sized for rate proofs per second over
// window, in at most maxBytes of tables.
func newMemoryReplay(now func() time.Time, window time.Duration, rate int, maxBytes int64) *memoryReplay {
	span := max(int64(window)/(replaySlots-2)+1, int64(time.Second))
	nominal := int64(rate) * (int64(window) + span) / int64(time.Second)
	perKey := min(max(nominal/replayKeyShare, 1), 1<<replayCountBit-1)
	return &memoryReplay{now: now, span: span, perKey: int(perKey), maxBytes: maxBytes, seed: maphash.MakeSeed()}
}

// slotOf returns the slot of t.
func (m *memoryReplay) slotOf(t time.Time) int64 {
	n := t.UnixNano()
	s := n / m.span
	if n%m.span < 0 {
		s--
	}
	return s
}

// slotEnd returns the time slot s ends.
func (m *memoryReplay) slotEnd(s int64) time.Time { return time.Unix(0, (s+1)*m.span) }

// Add implements ReplayStore. It reports true without recording a key
// not recorded whose until has passed: nothing could replay it.
func (m *memoryReplay) Add(_ context.Context, key string, until time.Time) (bool, error) {
	dpopKey := key
	if i := strings.IndexByte(key, '.'); i >= 0 {
		dpopKey = key[:i]
	}
	kh := maphash.String(m.seed, dpopKey)
	ph := maphash.String(m.seed, key) | 1
	m.sweepOne()

	s := &m.shards[kh&(replayShards-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	// The clock is read under the lock, so that the adds of a shard see
	// time move forward: one that read the clock earlier never finds its
	// entries dropped by one that read it later.
	now := m.now()
	cur := m.slotOf(now)
	live := 0
	for i := range s.slots {
		sl := &s.slots[i]
		if sl.tag < cur {
			m.release(sl)
			continue
		}
		if sl.proofs.has(ph, ^uint64(0)) {
			return false, nil
		}
		live += sl.proofs.n
	}
	if !now.Before(until) {
		return true, nil
	}
	if !until.Before(m.slotEnd(cur + replaySlots - 1)) {
		return false, errReplayTooLong
	}
	t := m.slotOf(until)
	// A key can only be over its share in a shard holding that many.
	if live >= m.perKey {
		if n, first := s.count(kh, cur); n >= m.perKey {
			return false, &replayRefusal{ErrReplayKeyLimit, m.slotEnd(first).Sub(now)}
		}
	}
	sl := &s.slots[floorMod(t, replaySlots)]
	if sl.tag < t { // released above: live slots are cur..cur+replaySlots-1
		m.release(sl)
		sl.tag = t
	}
	// Else it holds t, or a later slot if the clock went back: the entry
	// is then kept longer than needed, never shorter.
	if !m.reserve(&sl.proofs) || !m.reserve(&sl.keys) {
		return false, &replayRefusal{errReplayFull, m.slotEnd(cur).Sub(now)}
	}
	sl.proofs.put(ph)
	sl.keys.increment(kh &^ (1<<replayCountBit - 1))
	return true, nil
}

// count returns the number of entries of the DPoP key hashed kh in s, and
// the earliest live slot holding one.
func (s *replayShard) count(kh uint64, cur int64) (n int, first int64) {
	k := kh &^ (1<<replayCountBit - 1)
	first = cur + replaySlots
	for i := range s.slots {
		sl := &s.slots[i]
		if sl.tag < cur {
			continue
		}
		if c := sl.keys.get(k); c > 0 {
			n += c
			first = min(first, sl.tag)
		}
	}
	return n, first
}

// sweepOne releases the expired slots of one shard, in turn, so that the
// memory of shards no longer used is freed too.
func (m *memoryReplay) sweepOne() {
	s := &m.shards[m.sweep.Add(1)&(replayShards-1)]
	if !s.mu.TryLock() {
		return
	}
	cur := m.slotOf(m.now())
	for i := range s.slots {
		if s.slots[i].tag < cur {
			m.release(&s.slots[i])
		}
	}
	s.mu.Unlock()
}

// release frees the tables of sl.
func (m *memoryReplay) release(sl *replaySlot) {
	if n := len(sl.proofs.s) + len(sl.keys.s); n > 0 {
		m.bytes.Add(-8 * int64(n))
		sl.proofs, sl.keys = u64table{}, u64table{}
	}
}

// reserve makes room for one more value in t, growing it within the
// store's byte bound; it reports false if it cannot.
func (m *memoryReplay) reserve(t *u64table) bool {
	if 4*(t.n+1) <= 3*len(t.s) {
		return true
	}
	size := max(2*len(t.s), replayMinTable)
	grow := 8 * int64(size-len(t.s))
	if m.bytes.Add(grow) > m.maxBytes {
		m.bytes.Add(-grow)
		return false
	}
	t.resize(size)
	return true
}

// floorMod returns a mod n in [0, n).
func floorMod(a int64, n int64) int {
	r := a % n
	if r < 0 {
		r += n
	}
	return int(r)
}

// u64table is an open-addressing hash table of nonzero uint64 values with
// linear probing, indexed by the bits above the count bits. It is never
// more than three quarters full (memoryReplay.reserve) and has no
// deletion: a table is dropped whole when its time slot ends.
type u64table struct {
	s []uint64
	n int
}

// find returns where the value whose bits under mask equal v's is, or the
// empty slot where it would go.
func (t *u64table) find(v, mask uint64) (int, bool) {
	if len(t.s) == 0 {
		return -1, false
	}
	m := len(t.s) - 1
	for i := int(v>>replayCountBit) & m; ; i = (i + 1) & m {
		switch x := t.s[i]; {
		case x == 0:
			return i, false
		case x&mask == v&mask:
			return i, true
		}
	}
}

func (t *u64table) has(v, mask uint64) bool {
	_, ok := t.find(v, mask)
	return ok
}

// put adds v, known absent; t has room (reserve).
func (t *u64table) put(v uint64) {
	i, _ := t.find(v, ^uint64(0))
	t.s[i] = v
	t.n++
}

// get returns the count held for the key k (low bits zero).
func (t *u64table) get(k uint64) int {
	i, ok := t.find(k, ^uint64(1<<replayCountBit-1))
	if !ok {
		return 0
	}
	return int(t.s[i] & (1<<replayCountBit - 1))
}

// increment adds one to the count of the key k (low bits zero); t has room
// (reserve). Counts never reach the count bits' limit: a key is refused at
// memoryReplay.perKey, below it.
func (t *u64table) increment(k uint64) {
	i, ok := t.find(k, ^uint64(1<<replayCountBit-1))
	if ok {
		t.s[i]++
		return
	}
	t.s[i] = k | 1
	t.n++
}

// resize moves t's values into a table of size slots, a power of two.
func (t *u64table) resize(size int) {
	old := t.s
	t.s = make([]uint64, size)
	m := size - 1
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := int(v>>replayCountBit) & m
		for t.s[i] != 0 {
			i = (i + 1) & m
		}
		t.s[i] = v
	}
}
