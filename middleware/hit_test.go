package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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
