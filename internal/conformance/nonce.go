package conformance

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// DPoP server nonces (RFC 9449 §9), for every front end: a proof without
// a valid nonce is refused with use_dpop_nonce and a DPoP-Nonce header, a
// nonce of the previous step is accepted with a fresh DPoP-Nonce.

// nonceSecret is the DPoP.NonceSecrets entry of the nonce validator.
var nonceSecret = []byte("conformance nonce secret, 32 B +")

var useNonce = refusal{status: 401, code: "use_dpop_nonce", desc: "the DPoP proof must carry the nonce the server provided"}

// nonceConfig is the Config of a validator of iss requiring nonces minted
// with secret, whose clock stands still at now.
func nonceConfig(iss *middlewaretest.Issuer, secret []byte, now time.Time) middleware.Config {
	cfg := suiteConfig(iss, 10*time.Second)
	cfg.Now = func() time.Time { return now }
	cfg.DPoP = middleware.DPoP{Mode: middleware.DPoPAllowed, PublicBaseURL: dpopBase, NonceSecrets: [][]byte{secret}}
	return cfg
}

// runDPoPNonce runs [DPoPNonceCases] against the app build makes for a
// validator requiring nonces, in process and over a socket. Its clock
// stands still, so that no case crosses a step.
func runDPoPNonce(t *testing.T, iss *middlewaretest.Issuer, build func(v *middleware.Validator) http.Handler) {
	t.Helper()
	now := time.Now()
	runWith(t, nonceConfig(iss, nonceSecret, now), build, func() []Case { return DPoPNonceCases(t, iss, now) })
}

// DPoPNonceCases returns the cases of server nonces for an app whose
// validator trusts iss with DPoP allowed (PublicBaseURL
// "https://api.example.test"), Config.Now fixed at now and
// DPoP.NonceSecrets the conformance suite's secret.
func DPoPNonceCases(t testing.TB, iss *middlewaretest.Issuer, now time.Time) []Case {
	key := middlewaretest.NewDPoPKey("ES256")
	bound := iss.Token(middlewaretest.Spec{JKT: key.Thumbprint()})
	dpop := func(nonce string) http.Header {
		h := authorization("DPoP " + bound)
		h.Set("DPoP", key.Proof(middlewaretest.Proof{Method: "GET", URL: dpopBase + "/me", AccessToken: bound, Nonce: nonce}))
		return h
	}
	// A nonce minted now, one of the previous step, one of another secret.
	current := mintNonce(t, iss, key, nonceSecret, now)
	previous := mintNonce(t, iss, key, nonceSecret, now.Add(-middleware.DPoPNonceStep))
	foreign := mintNonce(t, iss, key, []byte("another nonce secret, 32 bytes +"), now)

	want := func(c Case) Case { c.DPoPNonce = true; return c }
	return []Case{
		want(useNonce.onDPoP("nonce: none", "GET", "/me", dpop(""))),
		want(useNonce.onDPoP("nonce: forged", "GET", "/me", dpop("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))),
		want(useNonce.onDPoP("nonce: another secret", "GET", "/me", dpop(foreign))),
		ok("nonce: current", "GET", "/me", dpop(current), map[string]any{"sub": "user-123"}),
		want(ok("nonce: previous step, a fresh one sent", "GET", "/me", dpop(previous), map[string]any{"sub": "user-123"})),
		ok("nonce: Bearer request without", "GET", "/me", bearer(iss.Token(middlewaretest.Spec{})), me()),
	}
}

// mintNonce returns the nonce a validator of iss minting with secret, its
// clock at now, sends with its use_dpop_nonce refusal.
func mintNonce(t testing.TB, iss *middlewaretest.Issuer, key *middlewaretest.DPoPKey, secret []byte, now time.Time) string {
	t.Helper()
	token := iss.Token(middlewaretest.Spec{JKT: key.Thumbprint(), IssuedAt: now.Add(-5 * time.Minute)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := middleware.New(ctx, nonceConfig(iss, secret, now))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		t.Fatalf("keys of the test issuer not obtained: %v", err)
	}
	r := httptest.NewRequest("GET", dpopBase+"/me", nil)
	r.Header.Set("Authorization", "DPoP "+token)
	r.Header.Set("DPoP", key.Proof(middlewaretest.Proof{Method: "GET", URL: dpopBase + "/me", AccessToken: token, IssuedAt: now}))
	_, err = v.Check(r, middleware.Policy{})
	var e *middleware.Error
	if !errors.As(err, &e) || !errors.Is(err, middleware.ErrUseDPoPNonce) {
		t.Fatalf("proof without nonce: %v, want ErrUseDPoPNonce", err)
	}
	h := http.Header{}
	v.SetHeaders(h, e)
	return h.Get("DPoP-Nonce")
}
