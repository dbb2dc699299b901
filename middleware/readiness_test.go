package middleware_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
)

// hgKeysErrors returns every *KeysError in the tree of err, in order.
func hgKeysErrors(err error) []*middleware.KeysError {
	var out []*middleware.KeysError
	var walk func(error)
	walk = func(err error) {
		if ke, ok := err.(*middleware.KeysError); ok {
			out = append(out, ke)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// hgFetchFailed waits until every issuer of v has failed a fetch, and
// returns the per-issuer causes Ready reports.
func hgFetchFailed(t *testing.T, v *middleware.Validator, issuers int) []*middleware.KeysError {
	t.Helper()
	var kes []*middleware.KeysError
	ok := hgPoll(10*time.Second, func() bool {
		err := v.Ready()
		if !errors.Is(err, middleware.ErrKeysUnavailable) {
			return false
		}
		kes = hgKeysErrors(err)
		if len(kes) != issuers {
			return false
		}
		for _, ke := range kes {
			if errors.Is(ke, middleware.ErrKeysNotFetchedYet) {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("Ready() = %v: no failed fetch per issuer within 10s", v.Ready())
	}
	return kes
}

// TestReadyCauses: Ready says, per issuer, why its keys are missing, in
// sentinels and fields, not in words.
func TestReadyCauses(t *testing.T) {
	t.Parallel()
	mismatch := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":"https://other.example.test","jwks_uri":"https://other.example.test/jwks"}`))
	}))
	t.Cleanup(mismatch.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	jwks500 := hgNewCountingServer(t, http.StatusInternalServerError, "text/plain", []byte("oops"))

	tests := []struct {
		name       string
		setup      func(t *testing.T) middleware.Config
		want       []error
		wantStatus int
		wantURL    func(cfg middleware.Config) string
	}{
		{
			name: "discovery status",
			setup: func(t *testing.T) middleware.Config {
				kit := hgKit(t)
				kit.SetStatus(http.StatusInternalServerError)
				return middleware.Config{Issuer: kit.URL}
			},
			want:       []error{middleware.ErrDiscoveryFailed},
			wantStatus: http.StatusInternalServerError,
			wantURL:    func(cfg middleware.Config) string { return cfg.Issuer + "/.well-known/openid-configuration" },
		},
		{
			name: "discovery not found at either location",
			setup: func(t *testing.T) middleware.Config {
				kit := hgKit(t)
				kit.SetStatus(http.StatusNotFound)
				return middleware.Config{Issuer: kit.URL}
			},
			want:       []error{middleware.ErrDiscoveryFailed},
			wantStatus: http.StatusNotFound,
			wantURL:    func(cfg middleware.Config) string { return cfg.Issuer + "/.well-known/oauth-authorization-server" },
		},
		{
			name:  "issuer unreachable",
			setup: func(t *testing.T) middleware.Config { return middleware.Config{Issuer: down.URL} },
			want:  []error{middleware.ErrDiscoveryFailed},
		},
		{
			name:  "issuer mismatch",
			setup: func(t *testing.T) middleware.Config { return middleware.Config{Issuer: mismatch.URL} },
			want:  []error{middleware.ErrIssuerMismatch},
		},
		{
			name: "JWKS without usable keys",
			setup: func(t *testing.T) middleware.Config {
				kit := hgKit(t)
				kit.SetJWKS([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
				return middleware.Config{Issuer: kit.URL}
			},
			want:    []error{middleware.ErrJWKSUnusable},
			wantURL: func(cfg middleware.Config) string { return cfg.Issuer + "/jwks" },
		},
		{
			name: "JWKS not a JWK Set",
			setup: func(t *testing.T) middleware.Config {
				kit := hgKit(t)
				kit.SetJWKS([]byte(`{"error":"server_error"}`))
				return middleware.Config{Issuer: kit.URL}
			},
			want: []error{middleware.ErrJWKSUnusable},
		},
		{
			name: "JWKS status",
			setup: func(t *testing.T) middleware.Config {
				kit := hgKit(t)
				return middleware.Config{Issuer: kit.URL, JWKSURL: jwks500.URL}
			},
			want:       []error{middleware.ErrJWKSUnusable},
			wantStatus: http.StatusInternalServerError,
			wantURL:    func(middleware.Config) string { return jwks500.URL },
		},
		{
			name: "discovery timed out",
			setup: func(t *testing.T) middleware.Config {
				kit := hgKit(t)
				kit.SetDelay(time.Minute)
				return middleware.Config{Issuer: kit.URL, HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}}
			},
			want: []error{middleware.ErrFetchTimeout, middleware.ErrDiscoveryFailed},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.setup(t)
			v := hgNew(t, nil, cfg)
			kes := hgFetchFailed(t, v, 1)
			ke := kes[0]
			for _, w := range tc.want {
				if !errors.Is(ke, w) {
					t.Errorf("cause %v does not match %v", ke, w)
				}
			}
			if ke.Issuer != cfg.Issuer {
				t.Errorf("Issuer %q, want %q", ke.Issuer, cfg.Issuer)
			}
			if ke.Status != tc.wantStatus {
				t.Errorf("Status %d, want %d", ke.Status, tc.wantStatus)
			}
			if tc.wantURL != nil && ke.URL != tc.wantURL(cfg) {
				t.Errorf("URL %q, want %q", ke.URL, tc.wantURL(cfg))
			}
			for _, other := range []error{middleware.ErrDiscoveryFailed, middleware.ErrIssuerMismatch, middleware.ErrJWKSUnusable, middleware.ErrFetchTimeout} {
				wanted := false
				for _, w := range tc.want {
					wanted = wanted || w == other
				}
				if !wanted && errors.Is(ke, other) {
					t.Errorf("cause %v also matches %v", ke, other)
				}
			}
		})
	}
}

// TestReadyCausesPerIssuer: each issuer's cause is its own.
func TestReadyCausesPerIssuer(t *testing.T) {
	t.Parallel()
	a, b := hgKit(t), hgKit(t)
	a.SetStatus(http.StatusServiceUnavailable)
	b.SetJWKS([]byte(`{"keys":[]}`))
	v := hgNew(t, a, middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: b.URL}}})
	kes := hgFetchFailed(t, v, 2)
	if kes[0].Issuer != a.URL || !errors.Is(kes[0], middleware.ErrDiscoveryFailed) || kes[0].Status != http.StatusServiceUnavailable {
		t.Errorf("issuer A: %+v", kes[0])
	}
	if kes[1].Issuer != b.URL || !errors.Is(kes[1], middleware.ErrJWKSUnusable) {
		t.Errorf("issuer B: %+v", kes[1])
	}
}

// TestReadyNotFetchedYet: before the first fetch has ended, the cause
// says so.
func TestReadyNotFetchedYet(t *testing.T) {
	t.Parallel()
	kit := hgKit(t)
	kit.SetDelay(time.Minute)
	v := hgNew(t, kit, middleware.Config{})
	kes := hgKeysErrors(v.Ready())
	if len(kes) != 1 || !errors.Is(kes[0], middleware.ErrKeysNotFetchedYet) || kes[0].Issuer != kit.URL {
		t.Fatalf("Ready() = %v, want one KeysError matching ErrKeysNotFetchedYet", v.Ready())
	}
}
