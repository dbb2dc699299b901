package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestHardeningOversizedToken: tokens above Config.MaxTokenSize are refused
// before any parsing or key lookup: no JWKS fetch, no wait for keys.
func TestHardeningOversizedToken(t *testing.T) {
	t.Parallel()
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	// Every unknown kid may cause a fetch, so a fetch would show that an
	// oversized token reached the key lookup.
	h := hgNewHarness(t, kit, middleware.Config{MinRefreshInterval: time.Millisecond})
	h.waitReady(t)
	base := kit.JWKSRequests()

	pad := func(n int) string {
		tok := kit.Sign(map[string]any{"kid": "unknown-kid", "typ": "at+jwt"}, hgWith(hgValidClaims(kit.URL), "pad", strings.Repeat("p", n)))
		return tok
	}
	small := pad(0)
	over := pad(middleware.DefaultMaxTokenSize)
	if len(over) <= middleware.DefaultMaxTokenSize {
		t.Fatalf("token of %d bytes is not oversized", len(over))
	}
	for name, tok := range map[string]string{
		"unknown kid, padded":   over,
		"limit + 1 of garbage":  strings.Repeat("a", middleware.DefaultMaxTokenSize+1),
		"1 MiB of dots":         strings.Repeat(".", 1<<20),
		"8 MiB token68":         strings.Repeat("A", 8<<20),
		"JWE-shaped, oversized": strings.Repeat("a.", 5) + strings.Repeat("a", middleware.DefaultMaxTokenSize),
	} {
		t.Run(name, func(t *testing.T) {
			h.refuse(t, tok, middleware.ErrTokenTooLarge)
		})
	}
	// At the limit exactly, the size check passes and the shape check
	// refuses.
	h.refuse(t, strings.Repeat("a", middleware.DefaultMaxTokenSize), middleware.ErrMalformedToken)
	if n := kit.JWKSRequests(); n != base {
		t.Errorf("oversized tokens caused %d JWKS fetches", n-base)
	}
	// Control: the same token under the limit does reach the key lookup.
	h.refuse(t, small, middleware.ErrUnknownKey)
	if !hgPoll(5*time.Second, func() bool { return kit.JWKSRequests() > base }) {
		t.Errorf("control: an unknown kid caused no JWKS fetch; the assertion above is vacuous")
	}

	// Before any key was obtained, an oversized token is still 401, at
	// once, not 503 after waiting for keys.
	dead := hgNewCountingServer(t, http.StatusInternalServerError, "text/plain", nil)
	cold := hgNewHarness(t, nil, middleware.Config{Issuer: "https://issuer.invalid", JWKSURL: dead.URL, KeyWait: 10 * time.Second})
	start := time.Now()
	cold.refuse(t, over, middleware.ErrTokenTooLarge)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("oversized token waited %v for keys", d)
	}
	// A lower configured cap applies too.
	low := hgNewHarness(t, kit, middleware.Config{MaxTokenSize: 512})
	low.refuse(t, small, middleware.ErrTokenTooLarge)
}

// TestHardeningOversizedMemory: refusing an oversized token, directly or
// in an Authorization header, allocates a small constant amount: the token
// is neither copied nor decoded. Not parallel: it reads the process's
// allocation counters.
func TestHardeningOversizedMemory(t *testing.T) {
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	h := hgNewHarness(t, kit, middleware.Config{})
	h.waitReady(t)
	tok := strings.Repeat("A", 1<<20) + "." + strings.Repeat("B", 1<<20) + "." + strings.Repeat("C", 1<<20)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	handler := h.v.Authenticate(h.next)
	ctx := context.Background()
	const runs = 20
	measure := func(f func()) uint64 {
		f() // warm up
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range runs {
			f()
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / runs
	}
	direct := measure(func() {
		if _, err := h.v.ValidateToken(ctx, tok); err == nil {
			t.Fatal("accepted")
		}
	})
	overHTTP := measure(func() {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("status %d", w.Code)
		}
	})
	const bound = 64 << 10 // the token is 3 MiB
	if direct > bound || overHTTP > bound {
		t.Errorf("bytes allocated per refusal of a 3 MiB token: ValidateToken %d, HTTP %d; want < %d", direct, overHTTP, bound)
	}
}

// TestHardeningRequestShape: RFC 6750 §2 extraction rules for hostile
// requests. A token sent twice or a malformed header is 400
// invalid_request; another scheme is no bearer token (401 with a bare
// challenge).
func TestHardeningRequestShape(t *testing.T) {
	t.Parallel()
	f := hgShared()
	tok := f.kit.Token(middlewaretest.Spec{})
	other := f.kit.Token(middlewaretest.Spec{Subject: "other"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opt := hgStartHarness(t, ctx, f.kit, middleware.Config{AllowQueryToken: true, AllowFormToken: true})

	type req struct {
		name   string
		h      *hgHarness
		method string
		target string
		header []string // Authorization values
		body   string
		want   error // nil: accepted
	}
	form := "application/x-www-form-urlencoded"
	cases := []req{
		{"two Authorization headers", f.h, "GET", "/", []string{"Bearer " + tok, "Bearer " + other}, "", middleware.ErrMultipleHeaders},
		{"same header twice", f.h, "GET", "/", []string{"Bearer " + tok, "Bearer " + tok}, "", middleware.ErrMultipleHeaders},
		{"Bearer and Basic", f.h, "GET", "/", []string{"Bearer " + tok, "Basic dXNlcjpwYXNz"}, "", middleware.ErrMultipleHeaders},
		{"header and query (opt-in)", opt, "GET", "/?access_token=" + other, []string{"Bearer " + tok}, "", middleware.ErrMultipleTokens},
		{"header and same query (opt-in)", opt, "GET", "/?access_token=" + tok, []string{"Bearer " + tok}, "", middleware.ErrMultipleTokens},
		{"query twice (opt-in)", opt, "GET", "/?access_token=" + tok + "&access_token=" + tok, nil, "", middleware.ErrMultipleTokens},
		{"header and form, body not read (opt-in)", opt, "POST", "/", []string{"Bearer " + tok}, "access_token=" + other, nil},
		{"query and form (opt-in)", opt, "POST", "/?access_token=" + tok, nil, "access_token=" + tok, middleware.ErrMultipleTokens},
		{"query only (opt-in)", opt, "GET", "/?access_token=" + tok, nil, "", nil},
		{"form only (opt-in)", opt, "POST", "/", nil, "access_token=" + tok, nil},
		{"query ignored by default", f.h, "GET", "/?access_token=" + tok, nil, "", middleware.ErrNoToken},
		{"form ignored by default", f.h, "POST", "/", nil, "access_token=" + tok, middleware.ErrNoToken},
		{"header used, query ignored by default", f.h, "GET", "/?access_token=garbage", []string{"Bearer " + tok}, "", nil},
		{"empty bearer", f.h, "GET", "/", []string{"Bearer"}, "", middleware.ErrMalformedHeader},
		{"empty bearer, space", f.h, "GET", "/", []string{"Bearer "}, "", middleware.ErrMalformedHeader},
		{"empty bearer, spaces", f.h, "GET", "/", []string{"Bearer      "}, "", middleware.ErrMalformedHeader},
		{"only padding", f.h, "GET", "/", []string{"Bearer ==="}, "", middleware.ErrMalformedHeader},
		{"empty header", f.h, "GET", "/", []string{""}, "", middleware.ErrMalformedHeader},
		{"two tokens in one header", f.h, "GET", "/", []string{"Bearer " + tok + " " + other}, "", middleware.ErrMalformedHeader},
		{"comma-joined tokens", f.h, "GET", "/", []string{"Bearer " + tok + ", Bearer " + other}, "", middleware.ErrMalformedHeader},
		{"tab after scheme", f.h, "GET", "/", []string{"Bearer\t" + tok}, "", middleware.ErrMalformedHeader},
		{"colon after scheme", f.h, "GET", "/", []string{"Bearer:" + tok}, "", middleware.ErrMalformedHeader},
		{"quoted token", f.h, "GET", "/", []string{`Bearer "` + tok + `"`}, "", middleware.ErrMalformedHeader},
		{"line break in token", f.h, "GET", "/", []string{"Bearer " + tok[:20] + "\r\n " + tok[20:]}, "", middleware.ErrMalformedHeader},
		{"1 MiB of spaces", f.h, "GET", "/", []string{"Bearer " + strings.Repeat(" ", 1<<20) + "x y"}, "", middleware.ErrMalformedHeader},
		{"1 MiB token68", f.h, "GET", "/", []string{"Bearer " + strings.Repeat("a", 1<<20)}, "", middleware.ErrTokenTooLarge},
		{"Basic", f.h, "GET", "/", []string{"Basic dXNlcjpwYXNz"}, "", middleware.ErrNoToken},
		{"DPoP scheme with a bearer token", f.h, "GET", "/", []string{"DPoP " + tok}, "", middleware.ErrNoToken},
		{"Token scheme", f.h, "GET", "/", []string{"Token " + tok}, "", middleware.ErrNoToken},
		{"Bearerx scheme", f.h, "GET", "/", []string{"Bearerx " + tok}, "", middleware.ErrNoToken},
		{"scheme case-insensitive", f.h, "GET", "/", []string{"bEaReR " + tok}, "", nil},
		{"several spaces", f.h, "GET", "/", []string{"Bearer    " + tok}, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r *http.Request
			if c.body != "" {
				r = httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
				r.Header.Set("Content-Type", form)
			} else {
				r = httptest.NewRequest(c.method, c.target, nil)
			}
			if c.header != nil {
				r.Header["Authorization"] = c.header
			}
			w := c.h.serve(t, c.h.v.Authenticate, r, c.want)
			if c.want == middleware.ErrNoToken {
				// RFC 6750 §3.1: no error attribute without a token.
				if a := hgChallengeAttrs(t, w.Header().Get("WWW-Authenticate")); a["error"] != "" {
					t.Errorf("bare challenge expected, got %v", a)
				}
			}
		})
	}
	// An optional route still refuses every malformed request: only the
	// absence of a bearer token is tolerated.
	for _, c := range cases {
		if c.want == nil || c.want == middleware.ErrNoToken {
			continue
		}
		t.Run("optional/"+c.name, func(t *testing.T) {
			var r *http.Request
			if c.body != "" {
				r = httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
				r.Header.Set("Content-Type", form)
			} else {
				r = httptest.NewRequest(c.method, c.target, nil)
			}
			r.Header["Authorization"] = c.header
			c.h.serve(t, c.h.v.AuthenticateOptional, r, c.want)
		})
	}
}
