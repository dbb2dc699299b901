package middleware

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkIntrospectionCacheHit is ValidateToken for an opaque token
// whose introspection answer is cached, beside a bare RS256 signature
// check of a JWT (golang-jwt's Verify with the public key at hand): the
// goal is a hit at most a tenth of the signature check.
func BenchmarkIntrospectionCacheHit(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	iss.AddClient(middlewaretest.Client{ID: "rs", Secret: "s"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := New(ctx, Config{
		Issuer: iss.URL, Audiences: []string{benchAudience}, HTTPClient: iss.Client(),
		Introspection: &Introspection{ClientID: "rs", ClientSecret: "s", Endpoint: iss.IntrospectionURL(), CacheTTL: time.Minute},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("impl=introspection-cache-hit", func(b *testing.B) {
		token := iss.OpaqueToken(middlewaretest.Spec{Machine: true, ClientID: "billing-service", Scopes: []string{"read:users", "write:users"}})
		if _, err := v.ValidateToken(ctx, token); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.ValidateToken(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
		if n := iss.IntrospectionRequests(); n != 1 {
			b.Fatalf("%d introspection calls, want 1", n)
		}
	})
	b.Run("impl=bare-RS256-verify", func(b *testing.B) {
		token := benchToken(iss, "RS256")
		i := strings.LastIndexByte(token, '.')
		sig, err := b64.DecodeString(token[i+1:])
		if err != nil {
			b.Fatal(err)
		}
		pub := iss.PublicKey("RS256")
		b.ReportAllocs()
		for b.Loop() {
			if err := jwt.SigningMethodRS256.Verify(token[:i], sig, pub); err != nil {
				b.Fatal(err)
			}
		}
	})
}
