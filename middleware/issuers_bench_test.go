package middleware

// Benchmarks of trust per issuer: routing a token to its issuer's rules
// stays O(1) with 10 000 configured or resolved issuers, and an idle
// configured issuer (LazyKeys, keys not fetched) costs a few KiB and no
// goroutine. Figures in bench/README.md.

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// benchIssuers returns n issuers with LazyKeys, none of which is ever
// fetched.
func benchIssuers(n int) []Issuer {
	out := make([]Issuer, n)
	for i := range out {
		out[i] = Issuer{Issuer: "https://tenant-" + strconv.Itoa(i) + ".example.test/", LazyKeys: true}
	}
	return out
}

// benchRoutingValidator returns a validator trusting kit and, with
// resolved, n issuers held as if ResolveIssuer had returned them, else n
// configured ones.
func benchRoutingValidator(b *testing.B, kit *middlewaretest.Issuer, n int, resolved bool) *Validator {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	cfg := Config{Issuer: kit.URL, Audiences: []string{benchAudience}, TokenCacheSize: -1}
	if resolved {
		cfg.ResolveIssuer = func(context.Context, string) (*Issuer, error) { return nil, nil }
		cfg.MaxResolvedIssuers = n
	} else {
		cfg.ExtraIssuers = benchIssuers(n)
	}
	v, err := New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	if resolved {
		r := v.resolver
		for _, is := range benchIssuers(n) {
			ti := newTrust(&v.cfg, &is, v.client)
			ti.keys = newIssuerKeys(&v.cfg, v.client, is) // never run: no goroutine
			r.live[is.Issuer] = r.lru.PushFront(ti)
		}
	}
	return v
}

// BenchmarkIssuerRouting compares, in one loop, the whole uncached
// validation of one token on a validator with one issuer and on one with
// 10 000 more issuers (configured, or held by the resolver); "ratio" is
// the second's time over the first's. The token names one of the 10 000
// in the resolved case, so that the resolver's table is what routes it.
func BenchmarkIssuerRouting(b *testing.B) {
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	for _, tc := range []struct {
		name     string
		resolved bool
	}{{"configured", false}, {"resolved", true}} {
		for _, alg := range []string{"EdDSA", "RS256"} {
			b.Run(fmt.Sprintf("issuers=10000/%s/alg=%s", tc.name, alg), func(b *testing.B) {
				one := benchRoutingValidator(b, kit, 0, false)
				many := benchRoutingValidator(b, kit, 10000, tc.resolved)
				base := benchToken(kit, alg)
				token := base
				if tc.resolved {
					// A token of a resolved issuer whose keys are the kit's,
					// against the kit's own token on the same validator.
					iss := "https://tenant-5000.example.test/"
					many.resolver.live[iss].Value.(*trust).keys = many.trusts[kit.URL].keys
					token = kit.Token(middlewaretest.Spec{Alg: alg, Machine: true, ClientID: "billing-service",
						Scopes: []string{"read:users", "write:users"}, Audience: []string{benchAudience}, Claims: map[string]any{"iss": iss}})
					one = many
				}
				ctx := context.Background()
				for _, c := range []struct {
					v   *Validator
					tok string
				}{{one, base}, {many, token}} {
					if _, err := c.v.ValidateToken(ctx, c.tok); err != nil {
						b.Fatal(err)
					}
				}
				var t1, t2 []time.Duration
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					s := time.Now()
					one.ValidateToken(ctx, base)
					m := time.Now()
					many.ValidateToken(ctx, token)
					t1 = append(t1, m.Sub(s))
					t2 = append(t2, time.Since(m))
				}
				// The ratio of the medians: one slow iteration (another
				// program's load, a GC) moves it little.
				b.ReportMetric(float64(median(t2))/float64(median(t1)), "ratio")
			})
		}
	}
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkTrustFor is the routing step alone: the rules of a token's
// issuer among 1 or 10 001 configured issuers, and among 10 000 resolved.
func BenchmarkTrustFor(b *testing.B) {
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	for _, tc := range []struct {
		name     string
		n        int
		resolved bool
		iss      string
	}{
		{"configured=1", 0, false, kit.URL},
		{"configured=10000", 10000, false, kit.URL}, // the others are never started: no fetch
		{"resolved=10000", 10000, true, "https://tenant-5000.example.test/"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			v := benchRoutingValidator(b, kit, tc.n, tc.resolved)
			var t jwsToken
			t.claims.Iss = tc.iss
			ctx := context.Background()
			if ti, err := v.trustFor(ctx, &t); err != nil || ti == nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				v.trustFor(ctx, &t)
			}
		})
	}
}

// TestIdleIssuersCost measures 10 000 idle configured issuers (LazyKeys,
// keys not fetched): the heap they add and their goroutines. It holds the
// documented bounds (a few KiB each, no goroutine of their own) and logs
// the figures (go test -run TestIdleIssuersCost -v).
func TestIdleIssuersCost(t *testing.T) {
	const n = 10000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	issuers := benchIssuers(n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	v, err := New(ctx, Config{Audiences: []string{benchAudience}, ExtraIssuers: issuers})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%d idle issuers: %.0f bytes each, %d goroutines more", n, per, g1-g0)
	if per > 4<<10 {
		t.Errorf("%.0f bytes per idle issuer, want at most 4 KiB", per)
	}
	if g1 != g0 {
		t.Errorf("%d goroutines more, want none", g1-g0)
	}
	runtime.KeepAlive(v)
}
