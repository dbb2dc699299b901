package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/bearerguard/bearerguard/middleware"
)

// impl is one implementation under comparison. build returns the handler
// that serves a GET / carrying a valid token for alg with 200 and the
// token's subject in the body.
type impl struct {
	name  string
	build func(e *env, alg string) (http.Handler, error)
}

// impls are compared in this order; files for optional peers (adapters,
// auth0 versions) append to it in init.
var impls = []impl{
	{"harness", func(e *env, alg string) (http.Handler, error) { return NoAuth, nil }},
	{"golang-jwt-handwritten", func(e *env, alg string) (http.Handler, error) {
		return HandWritten(e.keyfunc.Keyfunc, e.f.Issuer.URL, []string{alg}, Scope)(HandWrittenHello), nil
	}},
	{"bearerguard-uncached", func(e *env, alg string) (http.Handler, error) {
		return e.uncached.RequireScope(Scope)(Hello), nil
	}},
	{"bearerguard-cached", func(e *env, alg string) (http.Handler, error) {
		return e.cached.RequireScope(Scope)(Hello), nil
	}},
}

// implOrder is the order of the rows; implementations not listed follow.
var implOrder = []string{
	"harness", "golang-jwt-handwritten", "auth0-v2", "auth0-v3",
	"bearerguard-uncached", "bearerguard-cached",
	"echo-harness", "echo-bearerguard-uncached", "echo-bearerguard-cached",
	"gin-harness", "gin-bearerguard-uncached", "gin-bearerguard-cached",
}

func sortImpls() {
	rank := func(name string) int {
		if i := slices.Index(implOrder, name); i >= 0 {
			return i
		}
		return len(implOrder)
	}
	slices.SortStableFunc(impls, func(a, b impl) int { return rank(a.name) - rank(b.name) })
}

// env is shared by every benchmark: one issuer, warm key sets.
type env struct {
	f        *Fixture
	keyfunc  keyfunc.Keyfunc
	uncached *middleware.Validator
	cached   *middleware.Validator
}

var (
	envOnce sync.Once
	theEnv  *env
	envErr  error
)

func getEnv(b *testing.B) *env {
	envOnce.Do(func() {
		ctx := context.Background() // lives as long as the test binary
		e := &env{f: NewFixture()}
		e.keyfunc, envErr = keyfunc.NewDefaultCtx(ctx, []string{e.f.Issuer.JWKSURL()})
		if envErr != nil {
			return
		}
		if e.uncached, envErr = e.f.Bearerguard(ctx, -1); envErr != nil {
			return
		}
		if e.cached, envErr = e.f.Bearerguard(ctx, 0); envErr != nil {
			return
		}
		theEnv = e
	})
	if envErr != nil {
		b.Fatal(envErr)
	}
	return theEnv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if theEnv != nil {
		theEnv.f.Close()
	}
	os.Exit(code)
}

// BenchmarkVerify serves one request with a valid token per iteration
// through each implementation, after a warm-up request (keys fetched, cache
// filled). impl=bare is the signature check alone; impl=harness is the
// handler and recorder without any authentication.
func BenchmarkVerify(b *testing.B) {
	e := getEnv(b)
	sortImpls()
	for _, alg := range Algs {
		token := e.f.Tokens[alg]
		b.Run("alg="+alg+"/impl=bare", func(b *testing.B) {
			bare, err := NewBare(alg, token, e.f.Issuer.PublicKey(alg))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if !bare.Verify() {
					b.Fatal("signature does not verify")
				}
			}
		})
		for _, im := range impls {
			b.Run("alg="+alg+"/impl="+im.name, func(b *testing.B) {
				h, err := im.build(e, alg)
				if err != nil {
					b.Fatal(err)
				}
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Authorization", "Bearer "+token)
				serveOK(b, h, r)
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		}
	}
}

// BenchmarkVerifyParallel is BenchmarkVerify for bearerguard and the
// hand-written middleware with GOMAXPROCS goroutines, RS256: the cache's
// read lock under contention.
func BenchmarkVerifyParallel(b *testing.B) {
	e := getEnv(b)
	alg := "RS256"
	token := e.f.Tokens[alg]
	for _, im := range impls {
		switch im.name {
		case "golang-jwt-handwritten", "bearerguard-uncached", "bearerguard-cached":
		default:
			continue
		}
		b.Run("alg="+alg+"/impl="+im.name, func(b *testing.B) {
			h, err := im.build(e, alg)
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+token)
			serveOK(b, h, r)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Errorf("status %d", w.Code)
						return
					}
				}
			})
		})
	}
}

// serveOK serves r once and fails b unless the answer is 200 with a body.
func serveOK(b *testing.B, h http.Handler, r *http.Request) {
	b.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Body.Len() == 0 {
		b.Fatalf("warm-up: status %d: %s", w.Code, w.Body)
	}
}

// BenchmarkPaired measures each implementation and the bare signature check
// of the same algorithm in the same time window: every iteration serves one
// request, then checks one signature bare, each timed. It reports
// req-ns/op, bare-ns/op and their ratio, x-bare, and the ratio of the
// medians of the per-iteration times, x-bare-med. On a machine shared with
// other work, load that comes and goes slows both alike, so x-bare is far
// steadier than the ratio of two BenchmarkVerify results taken seconds
// apart; x-bare-med also leaves out the iterations in which the process
// was descheduled, which on a busy machine add milliseconds to one side.
// (Allocations are those of both; see BenchmarkVerify for each.)
func BenchmarkPaired(b *testing.B) {
	e := getEnv(b)
	sortImpls()
	for _, alg := range Algs {
		token := e.f.Tokens[alg]
		bare, err := NewBare(alg, token, e.f.Issuer.PublicKey(alg))
		if err != nil {
			b.Fatal(err)
		}
		for _, im := range impls {
			if strings.HasSuffix(im.name, "harness") {
				continue
			}
			b.Run("alg="+alg+"/impl="+im.name, func(b *testing.B) {
				h, err := im.build(e, alg)
				if err != nil {
					b.Fatal(err)
				}
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Authorization", "Bearer "+token)
				serveOK(b, h, r)
				var reqNS, bareNS time.Duration
				var reqs, bares []time.Duration
				for b.Loop() {
					t0 := time.Now()
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					t1 := time.Now()
					ok := bare.Verify()
					t2 := time.Now()
					if w.Code != http.StatusOK || !ok {
						b.Fatalf("status %d, bare check %v", w.Code, ok)
					}
					reqNS += t1.Sub(t0)
					bareNS += t2.Sub(t1)
					reqs, bares = append(reqs, t1.Sub(t0)), append(bares, t2.Sub(t1))
				}
				b.ReportMetric(float64(reqNS)/float64(b.N), "req-ns/op")
				b.ReportMetric(float64(bareNS)/float64(b.N), "bare-ns/op")
				b.ReportMetric(float64(reqNS)/float64(bareNS), "x-bare")
				b.ReportMetric(float64(medianDuration(reqs))/float64(medianDuration(bares)), "x-bare-med")
			})
		}
	}
}

// medianDuration returns the median of d, which it sorts.
func medianDuration(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}
