package middleware

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// benchTokenCache is the API of tokenCache, so that the benchmarks can
// compare it with other implementations wrapped to the same API.
type benchTokenCache interface {
	get(token string, now time.Time) (int, bool)
	put(token string, v, size int, expires, now time.Time)
}

// benchCacheImpls are the implementations the benchmarks compare. A
// benchmark file of its own may add candidates in an init function.
var benchCacheImpls = []struct {
	name string
	new  func(maxEntries, maxBytes int) benchTokenCache
}{
	{"sharded", func(maxEntries, maxBytes int) benchTokenCache {
		return newTokenCache[int](maxEntries, maxBytes)
	}},
}

// benchCacheTokens returns n distinct tokens of about 800 bytes, a
// typical access token, differing at both ends.
func benchCacheTokens(prefix string, n int) []string {
	pad := strings.Repeat("p", 800)
	tokens := make([]string, n)
	for i := range tokens {
		id := prefix + strconv.Itoa(i)
		tokens[i] = id + pad[len(id):len(pad)-len(id)] + id
	}
	return tokens
}

// benchCacheSize is what an entry of benchCacheTokens counts, as the
// validator would account it with a 500-byte payload.
func benchCacheSize(token string) int { return entrySize(token, 500) }

// BenchmarkTokenCache measures a get that hits, a get that misses, a put
// of a new token into a full cache, and (parallel) a mix of nine hits for
// one put, in caches of 4096 (the default) and 10 000 entries filled to
// their count limit, for each implementation in benchCacheImpls.
func BenchmarkTokenCache(b *testing.B) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := t0.Add(time.Hour)
	for _, n := range []int{4096, 10000} {
		held := benchCacheTokens("held", n)
		fresh := benchCacheTokens("fresh", 1<<16)
		for _, impl := range benchCacheImpls {
			fill := func() benchTokenCache {
				c := impl.new(n, MaxTokenCacheBytes)
				for i, tok := range held {
					c.put(tok, i, benchCacheSize(tok), exp, t0)
				}
				return c
			}
			// The held tokens a shard's count limit has not evicted.
			hits := func(c benchTokenCache) []string {
				var hits []string
				for _, tok := range held {
					if _, ok := c.get(tok, t0); ok {
						hits = append(hits, tok)
					}
				}
				return hits
			}
			name := func(op string) string { return fmt.Sprintf("op=%s/entries=%d/impl=%s", op, n, impl.name) }
			b.Run(name("hit"), func(b *testing.B) {
				c := fill()
				hits := hits(c)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, ok := c.get(hits[i%len(hits)], t0); !ok {
						b.Fatal("miss")
					}
					i++
				}
			})
			b.Run(name("miss"), func(b *testing.B) {
				c := fill()
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, ok := c.get(fresh[i%len(fresh)], t0); ok {
						b.Fatal("hit")
					}
					i++
				}
			})
			b.Run(name("put"), func(b *testing.B) {
				c := fill()
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					tok := fresh[i%len(fresh)]
					c.put(tok, i, benchCacheSize(tok), exp, t0)
					i++
				}
			})
			b.Run(name("parallel-9hit1put"), func(b *testing.B) {
				c := fill()
				hits := hits(c)
				var next atomic.Int64
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					// Each goroutine puts its own tokens, and hits
					// tokens that the puts do not evict.
					g := int(next.Add(1))
					i := 0
					for pb.Next() {
						if i%10 == 9 {
							tok := fresh[(g*7919+i)%len(fresh)]
							c.put(tok, i, benchCacheSize(tok), exp, t0)
						} else {
							c.get(hits[(g*31+i)%len(hits)], t0)
						}
						i++
					}
				})
			})
		}
	}
}

// benchCachedToken is like the value the validator caches: the claims and
// the key that verified them.
type benchCachedToken struct {
	claims *claims.Claims
	key    *struct{ issuer, kid string }
}

// BenchmarkTokenCacheEntryMemory fills a tokenCache with
// DefaultTokenCacheSize distinct tokens of about the given size (padded in
// a custom claim, or in "sub", which the claims hold a second copy of),
// their claims as the validator decodes them, and reports the heap the
// cache retains per entry (B/entry, runtime.MemStats around the filling,
// the token string and the claims included), the bytes entrySize accounts
// per entry (accounted-B/entry) and the heap per entry besides the token
// and twice the payload (overhead-B/entry), which cacheEntryOverhead
// should cover, and the entries held.
func BenchmarkTokenCacheEntryMemory(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The validator's own cache is off: each ValidateToken decodes fresh
	// claims, which only the tokenCache under test keeps.
	v, err := New(ctx, Config{Issuer: iss.URL, Audiences: []string{benchAudience}, TokenCacheSize: -1})
	if err != nil {
		b.Fatal(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	key := &struct{ issuer, kid string }{iss.URL, "k"}
	for _, pad := range []string{"custom", "sub"} {
		for _, size := range []int{800, 2500, 8000} {
			tokens := make([]string, DefaultTokenCacheSize)
			for i := range tokens {
				tokens[i] = paddedToken(iss, i, size, pad)
			}
			b.Run(fmt.Sprintf("token=%dB/pad=%s", size, pad), func(b *testing.B) {
				var perEntry, accounted, overhead, entries float64
				for b.Loop() {
					// No byte limit: the count limit, as in the validator.
					c := newTokenCache[benchCachedToken](DefaultTokenCacheSize, math.MaxInt)
					now := time.Now()
					before := heapAfterGC()
					for _, tok := range tokens {
						// A fresh string, as read from a request.
						tok = strings.Clone(tok)
						cl, err := v.ValidateToken(ctx, tok)
						if err != nil {
							b.Fatal(err)
						}
						c.put(tok, benchCachedToken{cl, key}, entrySize(tok, len(cl.Payload)), now.Add(time.Hour), now)
					}
					after := heapAfterGC()
					// The shards' count limits evict some tokens before
					// the cache holds DefaultTokenCacheSize.
					var held, textBytes int
					for _, tok := range tokens {
						if e, ok := c.get(tok, now); ok {
							held++
							textBytes += len(tok) + 2*len(e.claims.Payload)
						}
					}
					st := c.stats(b)
					entries = float64(held)
					perEntry = float64(after-before) / entries
					accounted = float64(st.bytes) / entries
					overhead = float64(int(after-before)-textBytes) / entries
					runtime.KeepAlive(c)
				}
				b.ReportMetric(perEntry, "B/entry")
				b.ReportMetric(accounted, "accounted-B/entry")
				b.ReportMetric(overhead, "overhead-B/entry")
				b.ReportMetric(entries, "entries")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
