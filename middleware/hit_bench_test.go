package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// BenchmarkCacheHitRequest takes a token cache hit through the net/http
// middleware apart, without an HTTP answer (no ResponseRecorder): what the
// middleware adds to a request whose token it has seen, the part of the
// loopback ratio to no authentication (bench/README.md) that is ours.
//   - part=check: Validator.Check alone;
//   - part=middleware: RequireScope around a handler that reads the claims;
//   - part=floor: what any middleware handing claims to the handler must
//     do: a copy of cached claims put in the request's context.
func BenchmarkCacheHitRequest(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	v := benchValidator(b, iss, 0)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+benchToken(iss, "RS256"))
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
