package middleware

import (
	"sync"
	"time"

	"github.com/bearerguard/bearerguard/claims"
)

// MaxTokenCacheBytes bounds the memory held by the token cache: the token
// strings, their payloads, the claims decoded from them and a fixed
// overhead per entry.
const MaxTokenCacheBytes = 16 << 20

// cacheEntryOverhead approximates the bytes an entry costs besides the
// token and the text of its claims: map slot, entry, claims struct and
// slice headers, rounded up to allocation size classes (about 600 bytes
// measured by BenchmarkTokenCacheMemory).
const cacheEntryOverhead = 640

// entrySize is what an entry counts against MaxTokenCacheBytes: the token,
// the payload, as much again for the claim strings copied out of it, and
// the overhead.
func entrySize(token string, cl *claims.Claims) int {
	return len(token) + 2*len(cl.Payload) + cacheEntryOverhead
}

// tokenCache remembers verified tokens. It is keyed by the whole token
// string, so only the identical token hits. An entry never outlives the
// token's exp or MaxTokenCacheTTL, and entries signed by a key that left
// the issuer's JWKS are dropped.
type tokenCache struct {
	max int
	// valid, if set, reports whether the key that verified an entry is
	// still published; entries of other keys are misses.
	valid func(issuer, kid string) bool

	mu      sync.RWMutex
	entries map[string]*cacheEntry
	bytes   int
}

type cacheEntry struct {
	claims  *claims.Claims
	issuer  string
	kid     string
	expires time.Time
	size    int
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, entries: make(map[string]*cacheEntry)}
}

// get returns the claims of a cached token. now is the validator's clock.
func (c *tokenCache) get(token string, now time.Time) (*claims.Claims, bool) {
	c.mu.RLock()
	e, ok := c.entries[token]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	if c.valid != nil && !c.valid(e.issuer, e.kid) {
		return nil, false
	}
	return e.claims, true
}

func (c *tokenCache) put(token, issuer, kid string, cl *claims.Claims, now time.Time) {
	expires := min64(cl.ExpiresAt, now.Add(MaxTokenCacheTTL))
	if !now.Before(expires) {
		return
	}
	size := entrySize(token, cl)
	if size > MaxTokenCacheBytes/64 {
		return // one huge token may not crowd out the others
	}
	e := &cacheEntry{claims: cl, issuer: issuer, kid: kid, expires: expires, size: size}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[token]; ok {
		c.bytes -= old.size
		delete(c.entries, token)
	}
	for len(c.entries) >= c.max || c.bytes+size > MaxTokenCacheBytes {
		c.evictLocked(now)
	}
	c.entries[token] = e
	c.bytes += size
}

// evictLocked drops expired entries it meets, and at least one entry. Map
// iteration order is unspecified, so the victim is arbitrary.
func (c *tokenCache) evictLocked(now time.Time) {
	n := 0
	for k, e := range c.entries {
		if n > 0 && now.Before(e.expires) {
			if n >= 16 {
				return
			}
			continue
		}
		delete(c.entries, k)
		c.bytes -= e.size
		n++
		if n >= 16 {
			return
		}
	}
}

// dropKey removes the entries verified with the given key.
func (c *tokenCache) dropKey(issuer, kid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.issuer == issuer && e.kid == kid {
			delete(c.entries, k)
			c.bytes -= e.size
		}
	}
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

func min64(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
