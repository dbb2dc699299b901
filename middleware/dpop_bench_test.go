package middleware

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkDPoP compares a whole DPoP request (Check: extraction, the
// token's checks, the proof's checks, the in-memory replay store) with its
// floor in the same run: the bare signature check of the token plus the
// bare signature check of the proof (golang-jwt's Verify, nothing else).
// RS256 token, ES256 proof; the token cache off ("uncached") or on.
func BenchmarkDPoP(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	key := middlewaretest.NewDPoPKey("ES256")
	token := iss.Token(middlewaretest.Spec{JKT: key.Thumbprint(), Audience: []string{benchAudience}})
	const url = "https://api.example.test/resource"
	proofs := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = key.Proof(middlewaretest.Proof{URL: url, AccessToken: token})
		}
		return out
	}

	for _, cache := range []struct {
		name string
		size int
	}{{"uncached", -1}, {"cached", 0}} {
		ctx, cancel := context.WithCancel(context.Background())
		v, err := New(ctx, Config{Issuer: iss.URL, Audiences: []string{benchAudience}, TokenCacheSize: cache.size,
			DPoP: DPoP{Mode: DPoPAllowed}})
		if err != nil {
			b.Fatal(err)
		}
		if err := v.WaitReady(ctx); err != nil {
			b.Fatal(err)
		}
		b.Run("request/token="+cache.name, func(b *testing.B) {
			ps := proofs(b.N)
			reqs := make([]*http.Request, b.N)
			for i := range reqs {
				r := httptest.NewRequest(http.MethodGet, url, nil)
				r.Header.Set("Authorization", "DPoP "+token)
				r.Header.Set("DPoP", ps[i])
				reqs[i] = r
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := v.Check(reqs[i], Policy{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		cancel()
	}

	tokenKey := iss.PublicKey("RS256")
	proof := proofs(1)[0]
	var p dpopProof
	if err := parseProof(proof, &p); err != nil {
		b.Fatal(err)
	}
	proofKey, err := proofKey(p.jwk, p.alg)
	if err != nil {
		b.Fatal(err)
	}
	i := strings.LastIndexByte(token, '.')
	tokenInput, tokenSig := token[:i], mustDecode(b, token[i+1:])
	bareToken := func() error { return jwt.SigningMethodRS256.Verify(tokenInput, tokenSig, tokenKey) }
	bareProof := func() error { return jwt.SigningMethodES256.Verify(p.signingInput, p.signature, proofKey) }
	for name, f := range map[string]func() error{
		"bare/token":       bareToken,
		"bare/proof":       bareProof,
		"bare/token+proof": func() error { _ = bareToken(); return bareProof() },
	} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func mustDecode(b *testing.B, seg string) []byte {
	out, err := b64.DecodeString(seg)
	if err != nil {
		b.Fatal(err)
	}
	return out
}
