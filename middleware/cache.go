package middleware

import (
	"hash/maphash"
	"sync"
	"time"
)

// MaxTokenCacheBytes bounds the memory held by the token cache: the token
// strings, their payloads, the claims decoded from them and a fixed
// overhead per entry.
const MaxTokenCacheBytes = 16 << 20

// cacheEntryOverhead approximates the bytes an entry costs besides the
// token and twice its payload: the cache's map and ring slots (about 125
// bytes), the claims struct and its slice headers, rounded up to
// allocation size classes. BenchmarkTokenCacheEntryMemory measures 450 to
// 590 bytes for tokens up to 2.5 kB; for 8 kB tokens whose claims copy most
// of the payload, the rounding of large allocations adds about 660 more
// (3% of such an entry).
const cacheEntryOverhead = 640

// entrySize is what an entry counts against MaxTokenCacheBytes: the token,
// the payload twice, and the overhead. (The cached claims hold the payload
// once, their strings sharing it; the second time is room for claim
// strings that need a copy of their own, such as those with escapes.)
func entrySize(token string, payloadLen int) int {
	return len(token) + 2*payloadLen + cacheEntryOverhead
}

// cacheMaxShards is the most shards a tokenCache is split into; the
// per-entry limit of maxBytes/64 keeps room for at least four of the
// largest entries in each shard's byte budget.
const cacheMaxShards = 16

// cacheMinShardEntries is the fewest entries a shard holds: small caches
// have fewer shards rather than shards too small to be of use.
const cacheMinShardEntries = 64

// tokenCache remembers values for token strings, such as the claims of a
// verified token. Only the identical token hits; the map is keyed by the
// whole token, because hashing it with SHA-256 would cost several times a
// whole cache hit. An entry is never returned at or after its expiry time.
//
// The cache holds at most maxEntries entries whose sizes add up to at most
// maxBytes. It is split into shards, each with its own lock, entry count
// and byte budget; the shard of a token is chosen from its last bytes
// (for a JWS, its signature). A shard evicts in first-in first-out order
// from a ring of slots, so put and get take constant time: a put evicts
// the oldest entries of its shard until the new one fits, one when entries
// are alike, and every entry is evicted at most once.
//
// A tokenCache is safe for concurrent use.
type tokenCache[V any] struct {
	shards   []cacheShard[V]
	mask     uint64 // len(shards)-1, a power of two minus one
	seed     maphash.Seed
	maxEntry int // the largest size cached: maxBytes/64
}

// cacheShard is one lock's worth of a tokenCache: an index from token to
// slot, and a ring of slots in the order they were filled. Ring positions
// from tail to head are in use; a position whose entry was replaced or
// found expired is a hole until eviction reaches it.
type cacheShard[V any] struct {
	mu    sync.Mutex
	index map[string]int32
	// slots grows up to cap entries and is then used as a ring.
	slots    []cacheSlot[V]
	cap      int
	tail     int // oldest position in use
	used     int // positions in use, entries and holes
	bytes    int // sum of the sizes of the entries
	maxBytes int
	// touched counts the ring positions eviction has freed, so that a
	// test can check that a put frees a bounded number.
	touched int
	_       [64]byte // keeps shards' locks on separate cache lines
}

// cacheSlot is one position of a shard's ring.
type cacheSlot[V any] struct {
	token   string
	v       V
	expires time.Time
	size    int
	live    bool // false for a hole
}

// newTokenCache returns a cache of at most maxEntries entries and
// maxBytes bytes. A cache with maxEntries or maxBytes below one keeps
// nothing.
func newTokenCache[V any](maxEntries, maxBytes int) *tokenCache[V] {
	if maxEntries < 1 || maxBytes < 1 {
		maxEntries, maxBytes = 0, 0
	}
	n := 1
	for n < cacheMaxShards && 2*n*cacheMinShardEntries <= maxEntries {
		n *= 2
	}
	c := &tokenCache[V]{
		shards:   make([]cacheShard[V], n),
		mask:     uint64(n - 1),
		seed:     maphash.MakeSeed(),
		maxEntry: maxBytes / 64,
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.cap = maxEntries / n
		if i < maxEntries%n {
			s.cap++
		}
		s.maxBytes = maxBytes / n
		s.index = make(map[string]int32)
	}
	return c
}

// shard returns the shard of token, chosen by a seeded hash of its length
// and last 32 bytes: cheap for long tokens, and for a JWS the signature,
// which the holder of a token cannot choose.
func (c *tokenCache[V]) shard(token string) *cacheShard[V] {
	if c.mask == 0 {
		return &c.shards[0]
	}
	h := maphash.String(c.seed, token[max(len(token)-32, 0):]) ^ uint64(len(token))
	return &c.shards[h&c.mask]
}

// get returns the value cached for token if its entry has not expired at
// now.
func (c *tokenCache[V]) get(token string, now time.Time) (V, bool) {
	s := c.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[token]
	if !ok {
		var zero V
		return zero, false
	}
	e := &s.slots[i]
	if !now.Before(e.expires) {
		s.removeLocked(token, int(i)) // free its value now
		var zero V
		return zero, false
	}
	return e.v, true
}

// put caches v for token until expires; size is what the entry counts
// against maxBytes (the caller computes it). An entry larger than
// maxBytes/64 is not cached. An entry already expired at now is not
// cached. Putting a token again replaces its entry, or removes it if the
// new one is not cached.
func (c *tokenCache[V]) put(token string, v V, size int, expires, now time.Time) {
	size = max(size, 0)
	s := c.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.index[token]; ok {
		s.removeLocked(token, int(i))
	}
	if size > c.maxEntry || !now.Before(expires) || s.cap == 0 {
		return
	}
	for s.used > 0 && (s.used == s.cap || s.bytes+size > s.maxBytes) {
		s.evictLocked()
	}
	if s.bytes+size > s.maxBytes {
		return // cannot happen: size <= maxBytes/64 <= s.maxBytes
	}
	head := (s.tail + s.used) % s.cap
	e := cacheSlot[V]{token: token, v: v, expires: expires, size: size, live: true}
	if head == len(s.slots) {
		// The ring is still filling: head wraps to 0 only once
		// len(s.slots) == s.cap.
		s.growLocked()
		s.slots = append(s.slots, e)
	} else {
		s.slots[head] = e
	}
	s.index[token] = int32(head)
	s.used++
	s.bytes += size
}

// growLocked makes room in s.slots for one more slot, doubling its
// capacity but never beyond s.cap.
func (s *cacheShard[V]) growLocked() {
	if len(s.slots) < cap(s.slots) {
		return
	}
	grown := make([]cacheSlot[V], len(s.slots), min(max(2*len(s.slots), 8), s.cap))
	copy(grown, s.slots)
	s.slots = grown
}

// removeLocked turns the entry of token at slot i into a hole.
func (s *cacheShard[V]) removeLocked(token string, i int) {
	delete(s.index, token)
	s.bytes -= s.slots[i].size
	s.slots[i] = cacheSlot[V]{}
}

// evictLocked frees the oldest ring position, an entry or a hole.
func (s *cacheShard[V]) evictLocked() {
	e := &s.slots[s.tail]
	if e.live {
		s.removeLocked(e.token, s.tail)
	}
	s.tail = (s.tail + 1) % s.cap
	s.used--
	s.touched++
}

// len returns the number of entries cached, expired ones included until
// they are found or evicted.
func (c *tokenCache[V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.index)
		s.mu.Unlock()
	}
	return n
}
