package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

func TestNewConfigErrors(t *testing.T) {
	const iss = "https://issuer.example.test/"
	aud := []string{hgAudience}
	for _, tc := range []struct {
		name string
		cfg  middleware.Config
	}{
		{"missing issuer", middleware.Config{Audiences: aud}},
		{"missing audience", middleware.Config{Issuer: iss}},
		{"empty audiences", middleware.Config{Issuer: iss, Audiences: []string{}}},
		{"empty audience value", middleware.Config{Issuer: iss, Audiences: []string{""}}},
		{"empty client id", middleware.Config{Issuer: iss, ClientIDs: []string{""}}},
		{"issuer not a URL", middleware.Config{Issuer: "issuer.example.test", Audiences: aud}},
		{"issuer relative", middleware.Config{Issuer: "/issuer", Audiences: aud}},
		{"issuer with fragment", middleware.Config{Issuer: "https://issuer.example.test/#x", Audiences: aud}},
		{"issuer with user info", middleware.Config{Issuer: "https://user:pw@issuer.example.test/", Audiences: aud}},
		{"issuer ftp", middleware.Config{Issuer: "ftp://issuer.example.test/", Audiences: aud}},
		{"http issuer not loopback", middleware.Config{Issuer: "http://issuer.example.test/", Audiences: aud}},
		{"http issuer on a private address", middleware.Config{Issuer: "http://10.0.0.1/", Audiences: aud}},
		{"http JWKS URL not loopback", middleware.Config{Issuer: iss, JWKSURL: "http://issuer.example.test/jwks", Audiences: aud}},
		{"http extra issuer not loopback", middleware.Config{Issuer: iss, ExtraIssuers: []middleware.Issuer{{Issuer: "http://other.example.test"}}, Audiences: aud}},
		{"extra issuer with bad JWKS URL", middleware.Config{Issuer: iss, ExtraIssuers: []middleware.Issuer{{Issuer: "https://other.example.test", JWKSURL: "jwks"}}, Audiences: aud}},
		{"HS256 in Algorithms", middleware.Config{Issuer: iss, Audiences: aud, Algorithms: []string{"RS256", "HS256"}}},
		{"HS512 in Algorithms", middleware.Config{Issuer: iss, Audiences: aud, Algorithms: []string{"HS512"}}},
		{"none in Algorithms", middleware.Config{Issuer: iss, Audiences: aud, Algorithms: []string{"none"}}},
		{"unknown algorithm", middleware.Config{Issuer: iss, Audiences: aud, Algorithms: []string{"RS1"}}},
		{"lower-case algorithm", middleware.Config{Issuer: iss, Audiences: aud, Algorithms: []string{"rs256"}}},
		{"Leeway above MaxLeeway", middleware.Config{Issuer: iss, Audiences: aud, Leeway: middleware.MaxLeeway + time.Second}},
		{"duplicate issuer", middleware.Config{Issuer: iss, Audiences: aud, ExtraIssuers: []middleware.Issuer{{Issuer: iss}}}},
		{"duplicate extra issuers", middleware.Config{Issuer: iss, Audiences: aud, ExtraIssuers: []middleware.Issuer{{Issuer: "https://a.example.test"}, {Issuer: "https://a.example.test"}}}},
		{"empty scope claim", middleware.Config{Issuer: iss, Audiences: aud, ScopeClaims: []string{"scope", ""}}},
		{"Resource not an audience", middleware.Config{Issuer: iss, Audiences: aud, Resource: "https://other.example.test"}},
		{"Resource without Audiences", middleware.Config{Issuer: iss, ClientIDs: []string{"c"}, Resource: hgAudience}},
		{"Resource http not loopback", middleware.Config{Issuer: iss, Audiences: []string{"http://api.example.test"}, Resource: "http://api.example.test"}},
		{"Resource not absolute", middleware.Config{Issuer: iss, Audiences: []string{"api"}, Resource: "api"}},
		{"Resource with fragment", middleware.Config{Issuer: iss, Audiences: []string{hgAudience + "#x"}, Resource: hgAudience + "#x"}},
		{"ResourceMetadata without Resource", middleware.Config{Issuer: iss, Audiences: aud, ResourceMetadata: middleware.ResourceMetadata{ResourceName: "API"}}},
		{"invalid supported scope", middleware.Config{Issuer: iss, Audiences: aud, Resource: hgAudience, ResourceMetadata: middleware.ResourceMetadata{ScopesSupported: []string{`a"b`}}}},
		{"relative documentation URL", middleware.Config{Issuer: iss, Audiences: aud, Resource: hgAudience, ResourceMetadata: middleware.ResourceMetadata{ResourceDocumentation: "/docs"}}},
		{"javascript policy URL", middleware.Config{Issuer: iss, Audiences: aud, Resource: hgAudience, ResourceMetadata: middleware.ResourceMetadata{ResourcePolicyURI: "javascript:alert(1)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			v, err := middleware.New(ctx, tc.cfg)
			if err == nil || v != nil {
				t.Fatalf("New = %v, %v; want an error", v, err)
			}
			// Config errors are not request errors.
			var e *middleware.Error
			if errors.As(err, &e) {
				t.Errorf("config error is a *middleware.Error: %v", err)
			}
		})
	}
}

func TestNewConfigAccepted(t *testing.T) {
	kit := hgKit(t)
	for _, tc := range []struct {
		name string
		cfg  middleware.Config
	}{
		{"minimal", middleware.Config{}},
		{"https issuer", middleware.Config{Issuer: "https://issuer.example.test/", JWKSURL: kit.JWKSURL()}},
		{"localhost issuer", middleware.Config{Issuer: "http://localhost:1/", JWKSURL: kit.JWKSURL()}},
		{"IPv6 loopback issuer", middleware.Config{Issuer: "http://[::1]:1/", JWKSURL: kit.JWKSURL()}},
		{"http issuer with InsecureAllowHTTPIssuer", middleware.Config{Issuer: "http://issuer.example.test/", JWKSURL: kit.JWKSURL(), InsecureAllowHTTPIssuer: true}},
		{"http JWKS URL with InsecureAllowHTTPIssuer", middleware.Config{Issuer: "https://issuer.example.test/", JWKSURL: "http://keys.example.test/jwks", InsecureAllowHTTPIssuer: true, HTTPClient: hgOffline}},
		{"ClientIDs instead of Audiences", middleware.Config{ClientIDs: []string{"test-client"}}},
		{"asymmetric subset", middleware.Config{Algorithms: []string{"ES256", "EdDSA", "ES256"}}},
		{"Leeway at MaxLeeway", middleware.Config{Leeway: middleware.MaxLeeway}},
		{"negative Leeway", middleware.Config{Leeway: -time.Second}},
		{"extra issuers", middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: "https://a.example.test", JWKSURL: kit.JWKSURL()}}}},
		{"issuer differing only by trailing slash", middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: kit.URL + "/"}}}},
		{"custom client", middleware.Config{HTTPClient: &http.Client{Timeout: time.Second}}},
		{"Resource among Audiences", middleware.Config{Resource: "https://api.example.test/mcp", Audiences: []string{hgAudience, "https://api.example.test/mcp"}}},
		{"loopback http Resource", middleware.Config{Resource: "http://localhost:8080", Audiences: []string{"http://localhost:8080"}}},
		{"ACRClaim", middleware.Config{ACRClaim: "acrs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hgNew(t, kit, tc.cfg)
		})
	}
}

// TestNewDoesNotBlock: New returns at once even when the issuer does not
// answer, and the validator is not ready until it does.
func TestNewDoesNotBlock(t *testing.T) {
	kit := hgKit(t)
	kit.SetDelay(time.Hour) // released by kit.Close at the end of the test
	v := hgNew(t, kit, middleware.Config{KeyWait: time.Millisecond})
	if err := v.Ready(); !errors.Is(err, middleware.ErrKeysUnavailable) {
		t.Fatalf("Ready() = %v, want ErrKeysUnavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := v.WaitReady(ctx); !errors.Is(err, middleware.ErrKeysUnavailable) {
		t.Fatalf("WaitReady(cancelled) = %v, want ErrKeysUnavailable", err)
	}
	_, err := v.ValidateToken(context.Background(), hgToken(kit, middlewaretest.Spec{}))
	hgWant(t, err, middleware.ErrKeysUnavailable)

	// The same with an unreachable explicit JWKS URL.
	v2 := hgNew(t, kit, middleware.Config{JWKSURL: kit.JWKSURL(), KeyWait: time.Millisecond})
	if err := v2.Ready(); !errors.Is(err, middleware.ErrKeysUnavailable) {
		t.Fatalf("Ready() = %v, want ErrKeysUnavailable", err)
	}
}

// hgOffline is an HTTP client that never reaches the network.
var hgOffline = &http.Client{Transport: hgRoundTripper(func(*http.Request) (*http.Response, error) {
	return nil, errors.New("offline")
})}

type hgRoundTripper func(*http.Request) (*http.Response, error)

func (f hgRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
