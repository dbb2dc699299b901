package middleware

// Benchmarks of the goals of issue 20, each request timed next to its
// floor in the same iterations: the bare signature checks it cannot do
// without (golang-jwt's Verify of the signing input with the key at hand,
// as verifySignature calls it). See bench/README.md for how to run them.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/golang-jwt/jwt/v5"
)

// benchPaired runs b.N iterations, each timing req(i) and then floor(),
// and reports req-ns/op, floor-ns/op, the ratio of their sums (x-floor)
// and of their medians (x-floor-med; it leaves out the iterations in
// which a busy machine descheduled the process). Allocations reported are
// those of both.
func benchPaired(b *testing.B, req func(i int) error, floor func() error) {
	b.Helper()
	reqs := make([]time.Duration, b.N)
	floors := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		err := req(i)
		t1 := time.Now()
		ferr := floor()
		t2 := time.Now()
		if err != nil || ferr != nil {
			b.Fatalf("request: %v; floor: %v", err, ferr)
		}
		reqs[i], floors[i] = t1.Sub(t0), t2.Sub(t1)
	}
	b.StopTimer()
	var rs, fs time.Duration
	for i := range b.N {
		rs += reqs[i]
		fs += floors[i]
	}
	slices.Sort(reqs)
	slices.Sort(floors)
	b.ReportMetric(float64(rs)/float64(b.N), "req-ns/op")
	b.ReportMetric(float64(fs)/float64(b.N), "floor-ns/op")
	b.ReportMetric(float64(rs)/float64(fs), "x-floor")
	b.ReportMetric(float64(reqs[b.N/2])/float64(floors[b.N/2]), "x-floor-med")
	b.ReportMetric(0, "ns/op")
}

// bareVerify returns golang-jwt's signature check of token with key: the
// floor of a JWT's check.
func bareVerify(b *testing.B, token string, key any) func() error {
	i := strings.LastIndexByte(token, '.')
	sig := mustDecode(b, token[i+1:])
	var alg struct {
		Alg string `json:"alg"`
	}
	hdr, err := b64.DecodeString(token[:strings.IndexByte(token, '.')])
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(hdr, &alg); err != nil {
		b.Fatal(err)
	}
	m := jwt.GetSigningMethod(alg.Alg)
	input := token[:i]
	f := func() error { return m.Verify(input, sig, key) }
	if err := f(); err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkPaired: one request through the net/http middleware
// (RequireScope, a response recorder, a handler that reads the subject)
// per iteration, next to its floor:
//   - kind=jwt-uncached: a JWT without the token cache, each algorithm,
//     against its bare signature check;
//   - kind=jwt-cached: a token cache hit, against the bare RS256 check;
//   - kind=introspection-cached: an opaque token whose introspection
//     answer is cached, against the bare RS256 check;
//   - kind=dpop-uncached (Validator.Check, no HTTP answer): an RS256 token
//     bound to an ES256 DPoP key with a fresh proof, the token cache off,
//     against the bare token and proof checks.
func BenchmarkPaired(b *testing.B) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	iss.AddClient(middlewaretest.Client{ID: "rs", Secret: "s"})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		w.Write([]byte(c.Subject))
	})
	serve := func(h http.Handler, r *http.Request) func(int) error {
		return func(int) error {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				return fmt.Errorf("status %d", w.Code)
			}
			return nil
		}
	}
	request := func(token string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	}
	bareRS256 := bareVerify(b, benchToken(iss, "RS256"), iss.PublicKey("RS256"))

	uncached := benchValidator(b, iss, -1).RequireScope("read:users")(next)
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		token := benchToken(iss, alg)
		floor := bareVerify(b, token, iss.PublicKey(alg))
		b.Run("kind=jwt-uncached/alg="+alg, func(b *testing.B) {
			benchPaired(b, serve(uncached, request(token)), floor)
		})
	}

	cached := benchValidator(b, iss, 0).RequireScope("read:users")(next)
	b.Run("kind=jwt-cached/alg=RS256", func(b *testing.B) {
		r := request(benchToken(iss, "RS256"))
		serve(cached, r)(0)
		benchPaired(b, serve(cached, r), bareRS256)
	})

	b.Run("kind=introspection-cached", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		v, err := New(ctx, Config{
			Issuer: iss.URL, Audiences: []string{benchAudience}, HTTPClient: iss.Client(),
			Introspection: &Introspection{ClientID: "rs", ClientSecret: "s", Endpoint: iss.IntrospectionURL(), CacheTTL: time.Minute},
		})
		if err != nil {
			b.Fatal(err)
		}
		token := iss.OpaqueToken(middlewaretest.Spec{Machine: true, ClientID: "billing-service",
			Scopes: []string{"read:users", "write:users"}, Audience: []string{benchAudience}})
		h := v.RequireScope("read:users")(next)
		r := request(token)
		if err := serve(h, r)(0); err != nil {
			b.Fatal(err)
		}
		benchPaired(b, serve(h, r), bareRS256)
	})

	b.Run("kind=dpop-uncached", func(b *testing.B) {
		key := middlewaretest.NewDPoPKey("ES256")
		token := iss.Token(middlewaretest.Spec{JKT: key.Thumbprint(), Audience: []string{benchAudience}})
		const url = "https://api.example.test/resource"
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		v, err := New(ctx, Config{Issuer: iss.URL, Audiences: []string{benchAudience}, TokenCacheSize: -1,
			DPoP: DPoP{Mode: DPoPAllowed}})
		if err != nil {
			b.Fatal(err)
		}
		if err := v.WaitReady(ctx); err != nil {
			b.Fatal(err)
		}
		reqs := make([]*http.Request, b.N)
		for i := range reqs {
			r := httptest.NewRequest(http.MethodGet, url, nil)
			r.Header.Set("Authorization", "DPoP "+token)
			r.Header.Set("DPoP", key.Proof(middlewaretest.Proof{URL: url, AccessToken: token}))
			reqs[i] = r
		}
		var p dpopProof
		if err := parseProof(reqs[0].Header.Get("DPoP"), &p); err != nil {
			b.Fatal(err)
		}
		pk, err := proofKey(p.jwk, p.alg)
		if err != nil {
			b.Fatal(err)
		}
		bareToken := bareVerify(b, token, iss.PublicKey("RS256"))
		floor := func() error {
			if err := bareToken(); err != nil {
				return err
			}
			return jwt.SigningMethodES256.Verify(p.signingInput, p.signature, pk)
		}
		benchPaired(b, func(i int) error { _, err := v.Check(reqs[i], Policy{}); return err }, floor)
	})
}
