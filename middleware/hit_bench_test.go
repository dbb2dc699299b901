package middleware

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// BenchmarkCacheHitRequest takes a token cache hit through the net/http
// middleware apart, without an HTTP answer (no ResponseRecorder): what the
// middleware adds to a request whose token it has seen, the part of the
// loopback ratio to no authentication (bench/README.md) that is ours.
//   - part=check: Validator.Check alone;
//   - part=middleware: RequireScope around a handler that reads the claims;
//   - part=floor: less than any middleware handing claims to the handler
//     pays: a shallow copy of cached claims (lists and payload shared) put
//     in the request's context;
//   - part=minimal: the least a caching middleware can do (bench/cmd/probe
//     -mode=minimal): the header read, one map lookup under a mutex, exp
//     and the scope checked, the claims copied into the context with their
//     own payload and scopes (the audience list shared).
//
// Each part reads the token from its own copy of the header string, as a
// server's requests do, so the cache compares the whole token.
func BenchmarkCacheHitRequest(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	v := benchValidator(b, iss, 0)
	token := benchToken(iss, "RS256")
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", strings.Clone("Bearer "+token))
	p := Policy{Scopes: []string{"read:users"}}
	c, err := v.Check(r, p)
	if err != nil {
		b.Fatal(err)
	}
	var sink *claims.Claims
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sink, _ = claims.FromContext(r.Context())
	})
	w := discardWriter{h: http.Header{}}
	b.Run("part=check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if sink, err = v.Check(r, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	h := v.Require(p)(next)
	b.Run("part=middleware", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
		if sink == nil {
			b.Fatal("no claims")
		}
	})
	var mu sync.Mutex
	cache := map[string]*claims.Claims{token: c}
	minimal := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header["Authorization"]
		if len(h) != 1 || len(h[0]) < 7 || !strings.EqualFold(h[0][:7], "Bearer ") {
			b.Fatal("no token")
		}
		mu.Lock()
		cc, ok := cache[h[0][7:]]
		mu.Unlock()
		if !ok || !time.Now().Before(cc.ExpiresAt) || !slices.Contains(cc.Scopes, "read:users") {
			b.Fatal("refused")
		}
		own := *cc
		own.Payload = slices.Clone(cc.Payload)
		own.Scopes = slices.Clone(cc.Scopes)
		next.ServeHTTP(w, r.WithContext(claims.NewContext(r.Context(), &own)))
	})
	b.Run("part=minimal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			minimal.ServeHTTP(w, r)
		}
	})
	b.Run("part=floor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cp := *c
			next.ServeHTTP(w, r.WithContext(claims.NewContext(r.Context(), &cp)))
		}
	})
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w discardWriter) WriteHeader(int)             {}
