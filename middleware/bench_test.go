package middleware

// Benchmarks of the validator alone. The comparison with other middlewares
// and the bare signature check is in the bench module (../bench).

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

const benchAudience = "https://api.example.test"

func benchValidator(b *testing.B, iss *middlewaretest.Issuer, cacheSize int) *Validator {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	v, err := New(ctx, Config{Issuer: iss.URL, Audiences: []string{benchAudience}, TokenCacheSize: cacheSize})
	if err != nil {
		b.Fatal(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	return v
}

func benchToken(iss *middlewaretest.Issuer, alg string) string {
	return iss.Token(middlewaretest.Spec{
		Alg:      alg,
		Machine:  true,
		ClientID: "billing-service",
		Scopes:   []string{"read:users", "write:users"},
		Audience: []string{benchAudience},
	})
}

// BenchmarkValidateToken is Validator.ValidateToken for a valid token,
// without the HTTP layer.
func BenchmarkValidateToken(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	for _, cache := range []struct {
		name string
		size int
	}{{"uncached", -1}, {"cached", 0}} {
		v := benchValidator(b, iss, cache.size)
		for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
			token := benchToken(iss, alg)
			b.Run("alg="+alg+"/impl="+cache.name, func(b *testing.B) {
				ctx := context.Background()
				if _, err := v.ValidateToken(ctx, token); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.ValidateToken(ctx, token); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRequireScope is one request through the net/http middleware,
// with a response recorder, as in the bench module.
func BenchmarkRequireScope(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		w.Write([]byte(c.Subject))
	})
	for _, cache := range []struct {
		name string
		size int
	}{{"uncached", -1}, {"cached", 0}} {
		h := benchValidator(b, iss, cache.size).RequireScope("read:users")(next)
		for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+benchToken(iss, alg))
			b.Run("alg="+alg+"/impl="+cache.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		}
	}
}

// BenchmarkTokenCacheMemory fills a validator's token cache with
// DefaultTokenCacheSize distinct tokens of about the given size (padded in
// a custom claim, or in "sub", which the claims hold a second copy of) and
// reports the heap retained per entry (B/entry, runtime.MemStats around the
// filling, the token string included), the bytes the cache accounts per
// entry against MaxTokenCacheBytes (accounted-B/entry), the entries held,
// and the heap the cache holds at its default limits with such tokens
// (ceiling-MiB): DefaultTokenCacheSize entries, or fewer when their
// accounted bytes reach MaxTokenCacheBytes first.
func BenchmarkTokenCacheMemory(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	for _, pad := range []string{"custom", "sub"} {
		for _, size := range []int{800, 2500, 8000} {
			tokens := make([]string, DefaultTokenCacheSize)
			for i := range tokens {
				tokens[i] = paddedToken(iss, i, size, pad)
			}
			b.Run(fmt.Sprintf("token=%dB/pad=%s", size, pad), func(b *testing.B) {
				var perEntry, accounted, entries float64
				for b.Loop() {
					v := benchValidator(b, iss, 0)
					ctx := context.Background()
					before := heapAfterGC()
					for _, tok := range tokens {
						// A fresh string, as read from a request.
						if _, err := v.ValidateToken(ctx, strings.Clone(tok)); err != nil {
							b.Fatal(err)
						}
					}
					after := heapAfterGC()
					st := v.cache.stats(b)
					entries = float64(st.entries)
					accounted = float64(st.bytes) / entries
					perEntry = float64(after-before) / entries
					runtime.KeepAlive(v)
				}
				b.ReportMetric(perEntry, "B/entry")
				b.ReportMetric(accounted, "accounted-B/entry")
				b.ReportMetric(entries, "entries")
				limit := min(float64(DefaultTokenCacheSize), float64(MaxTokenCacheBytes)/accounted)
				b.ReportMetric(limit*perEntry/(1<<20), "ceiling-MiB")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// paddedToken mints a distinct machine token of about size bytes, padded
// in a custom claim or in "sub".
func paddedToken(iss *middlewaretest.Issuer, i, size int, pad string) string {
	spec := middlewaretest.Spec{
		Alg:      "EdDSA",
		Machine:  true,
		ClientID: fmt.Sprintf("client-%d", i),
		Subject:  fmt.Sprintf("client-%d", i),
		Scopes:   []string{"read:users", "write:users"},
		Audience: []string{benchAudience},
		Claims:   map[string]any{},
	}
	base := len(iss.Token(spec))
	if n := (size - base) * 3 / 4; n > 0 {
		if pad == "sub" {
			spec.Subject += strings.Repeat("u", n)
		} else {
			spec.Claims["https://example.test/tenant"] = strings.Repeat("t", n)
		}
	}
	return iss.Token(spec)
}

func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
