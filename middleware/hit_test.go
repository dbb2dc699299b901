package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestCacheHitSyntax: a token the token cache holds is not scanned for the
// token68 syntax again (the scan is most of what a hit costs). That holds
// only because the cache holds nothing but verified compact JWSs, whose
// syntax is stricter: an opaque token the application's store accepted,
// however odd its bytes, is never cached, so in a header it is still
// scanned and refused.
func TestCacheHitSyntax(t *testing.T) {
	t.Parallel()
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const odd = "odd token\twith=padding=inside" // not token68
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    iss.URL,
		Audiences: []string{"https://api.example.test"},
		LookupToken: func(ctx context.Context, token string) (*claims.Claims, error) {
			return &claims.Claims{Subject: "anyone", Audience: []string{"https://api.example.test"}, ExpiresAt: time.Now().Add(time.Hour)}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.ValidateToken(ctx, odd); err != nil {
		t.Fatalf("ValidateToken of the store's token: %v", err)
	}
	jwt := iss.Token(middlewaretest.Spec{Audience: []string{"https://api.example.test"}})
	if _, err := v.ValidateToken(ctx, jwt); err != nil {
		t.Fatalf("ValidateToken of a JWT: %v", err)
	}

	h := v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tc := range []struct {
		name, header string
		status       int
		want         error
	}{
		{"cached JWT", "Bearer " + jwt, http.StatusOK, nil},
		{"cached JWT again", "bearer   " + jwt, http.StatusOK, nil},
		{"cached JWT with a byte more", "Bearer " + jwt + "!", http.StatusBadRequest, middleware.ErrMalformedHeader},
		{"cached JWT and another", "Bearer " + jwt + " " + jwt, http.StatusBadRequest, middleware.ErrMalformedHeader},
		{"the store's odd token", "Bearer " + odd, http.StatusBadRequest, middleware.ErrMalformedHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", tc.header)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if tc.want == nil {
				return
			}
			_, err := v.Check(r, middleware.Policy{})
			if !errors.Is(err, tc.want) {
				t.Errorf("Check: %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzCacheHitSyntax: for any Authorization header, a validator with the
// token cache decides as one without it, whatever tokens were validated
// before: the same refusal (status and sentinels) or the same acceptance.
// Both have a store (LookupToken) that accepts any opaque token, and each
// input is first validated on its own, header and token part alike, so
// that whatever the cache may come to hold meets the headers the fuzzer
// makes of it. It holds the shortcut of TestCacheHitSyntax (a cached token
// is not scanned for token68 again) to the rule that only the validator's
// verified compact JWSs skip the scan. Outcomes that depend on a key fetch
// (an unknown kid, 503) are not compared: the two validators fetch on
// their own schedules.
func FuzzCacheHitSyntax(f *testing.F) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const aud = "https://api.example.test"
	store := func(ctx context.Context, token string) (*claims.Claims, error) {
		return &claims.Claims{Subject: "anyone", Audience: []string{aud}, ExpiresAt: time.Now().Add(time.Hour)}, nil
	}
	newValidator := func(cacheSize int) *middleware.Validator {
		v, err := middleware.New(ctx, middleware.Config{Issuer: iss.URL, Audiences: []string{aud},
			TokenCacheSize: cacheSize, MinRefreshInterval: time.Hour, LookupToken: store})
		if err != nil {
			f.Fatal(err)
		}
		if err := v.WaitReady(ctx); err != nil {
			f.Fatal(err)
		}
		return v
	}
	cached, uncached := newValidator(0), newValidator(-1)
	tok := iss.Token(middlewaretest.Spec{Audience: []string{aud}})
	for _, s := range []string{"Bearer " + tok, "bearer   " + tok, "Bearer " + tok + "=", "Bearer " + tok + "!",
		"Bearer " + tok[:len(tok)-1], "Bearer " + tok + " " + tok, "Bearer  " + tok + " ", "DPoP " + tok,
		"Bearer\t" + tok, "Bearer " + tok + "\x00", "Basic " + tok, "Bearer odd token", "Bearer a\"b", "Bearer", ""} {
		f.Add(s)
	}
	sentinels := []error{middleware.ErrNoToken, middleware.ErrInvalidRequest, middleware.ErrInvalidToken,
		middleware.ErrMalformedHeader, middleware.ErrMalformedToken, middleware.ErrTokenTooLarge,
		middleware.ErrInvalidSignature, middleware.ErrUnsupportedAlgorithm, middleware.ErrNotAccessToken}
	outcome := func(v *middleware.Validator, header string) (status int, is []bool, fetch bool) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{header}
		_, err := v.Check(r, middleware.Policy{})
		if err == nil {
			return http.StatusOK, nil, false
		}
		var e *middleware.Error
		if !errors.As(err, &e) {
			return -1, nil, false
		}
		for _, s := range sentinels {
			is = append(is, errors.Is(err, s))
		}
		return e.Status, is, e.Status == http.StatusServiceUnavailable || errors.Is(err, middleware.ErrUnknownKey)
	}
	f.Fuzz(func(t *testing.T, header string) {
		_, rest, _ := strings.Cut(header, " ")
		for _, v := range []*middleware.Validator{cached, uncached} {
			_, _ = v.ValidateToken(ctx, header)
			_, _ = v.ValidateToken(ctx, strings.TrimLeft(rest, " "))
		}
		cs, cis, cf := outcome(cached, header)
		us, uis, uf := outcome(uncached, header)
		if cf || uf {
			return // decided by a key fetch
		}
		if cs != us || !slices.Equal(cis, uis) {
			t.Fatalf("header %q: cached %d %v, uncached %d %v", header, cs, cis, us, uis)
		}
	})
}
