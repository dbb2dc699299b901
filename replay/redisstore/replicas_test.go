// Two bearerguard validators, playing two replicas of one API, share one
// Redis as their DPoP replay store.

package redisstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

const apiURL = "https://api.example.test"

// proofKey is a client's DPoP key.
type proofKey struct {
	priv       *ecdsa.PrivateKey
	jwk        map[string]any
	thumbprint string
}

func newProofKey(t *testing.T) *proofKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := priv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := b64(pub[1:33]), b64(pub[33:])
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return &proofKey{priv: priv, jwk: map[string]any{"kty": "EC", "crv": "P-256", "x": x, "y": y}, thumbprint: b64(sum[:])}
}

// proof is a fresh DPoP proof (RFC 9449) by k for GET path bound to token.
func (k *proofKey) proof(t *testing.T, path, token string) string {
	t.Helper()
	ath := sha256.Sum256([]byte(token))
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"htm": http.MethodGet,
		"htu": apiURL + path,
		"iat": time.Now().Unix(),
		"jti": rand.Text(),
		"ath": base64.RawURLEncoding.EncodeToString(ath[:]),
	})
	tok.Header["typ"] = "dpop+jwt"
	tok.Header["jwk"] = k.jwk
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// replica is one instance of the API: its own Redis client, Store and
// validator.
func replica(t *testing.T, iss *middlewaretest.Issuer, redisAddr string) http.Handler {
	t.Helper()
	return replicaWith(t, iss, redisAddr, Options{Timeout: 300 * time.Millisecond})
}

// replicaWith is replica with the store's options.
func replicaWith(t *testing.T, iss *middlewaretest.Issuer, redisAddr string, opts Options) http.Handler {
	t.Helper()
	store := New(newClient(t, redisAddr), opts)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:     iss.URL,
		Audiences:  []string{apiURL},
		HTTPClient: iss.Client(),
		DPoP: middleware.DPoP{
			Mode:          middleware.DPoPRequired,
			ReplayStore:   store,
			PublicBaseURL: apiURL,
		},
	})
	if err != nil {
		t.Fatalf("middleware.New: %v", err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := v.WaitReady(wctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
}

func call(t *testing.T, h http.Handler, token, proof string) int {
	t.Helper()
	return callRecorded(t, h, token, proof).Code
}

// callRecorded is call with the whole answer.
func callRecorded(t *testing.T, h http.Handler, token, proof string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/me", nil)
	req.Header.Set("Authorization", "DPoP "+token)
	req.Header.Set("DPoP", proof)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestReplicasShareRedis: a proof accepted by one replica is refused by the
// other; with Redis stopped every DPoP request is refused 503 (fail closed),
// and once Redis is back on its port requests are accepted again.
func TestReplicasShareRedis(t *testing.T) {
	r := startRedis(t)
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	key := newProofKey(t)
	token := iss.Token(middlewaretest.Spec{
		Alg: "ES256", Machine: true,
		Claims: map[string]any{"cnf": map[string]any{"jkt": key.thumbprint}},
	})
	one, two := replica(t, iss, r.Addr()), replica(t, iss, r.Addr())

	p := key.proof(t, "/me", token)
	if code := call(t, one, token, p); code != http.StatusNoContent {
		t.Fatalf("replica one, fresh proof: %d, want 204", code)
	}
	if code := call(t, two, token, p); code != http.StatusUnauthorized {
		t.Fatalf("replica two, proof replayed from one: %d, want 401", code)
	}
	if code := call(t, one, token, p); code != http.StatusUnauthorized {
		t.Fatalf("replica one, proof replayed: %d, want 401", code)
	}
	p2 := key.proof(t, "/me", token)
	if code := call(t, two, token, p2); code != http.StatusNoContent {
		t.Fatalf("replica two, fresh proof: %d, want 204", code)
	}
	if code := call(t, one, token, p2); code != http.StatusUnauthorized {
		t.Fatalf("replica one, proof replayed from two: %d, want 401", code)
	}

	r.Stop()
	for name, h := range map[string]http.Handler{"one": one, "two": two} {
		start := time.Now()
		if code := call(t, h, token, key.proof(t, "/me", token)); code != http.StatusServiceUnavailable {
			t.Fatalf("replica %s, Redis down: %d, want 503", name, code)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("replica %s, Redis down: answered after %v", name, took)
		}
	}

	r.Start()
	p3 := key.proof(t, "/me", token)
	if code := call(t, one, token, p3); code != http.StatusNoContent {
		t.Fatalf("replica one, Redis back: %d, want 204", code)
	}
	if code := call(t, two, token, p3); code != http.StatusUnauthorized {
		t.Fatalf("replica two, Redis back, replay: %d, want 401", code)
	}
}

// TestReplicasKeyLimit: replicas sharing a store with MaxProofsPerKey share
// the bound. A client whose DPoP key holds that many proofs gets 503 with a
// Retry-After from either replica (not 401: its token and proof are good),
// while another client is served; its replays are still 401.
func TestReplicasKeyLimit(t *testing.T) {
	r := startRedis(t)
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	opts := Options{Timeout: 300 * time.Millisecond, MaxProofsPerKey: 2}
	one, two := replicaWith(t, iss, r.Addr(), opts), replicaWith(t, iss, r.Addr(), opts)
	flood, honest := newProofKey(t), newProofKey(t)
	tokenFor := func(k *proofKey) string {
		return iss.Token(middlewaretest.Spec{
			Alg: "ES256", Machine: true,
			Claims: map[string]any{"cnf": map[string]any{"jkt": k.thumbprint}},
		})
	}
	ft, ht := tokenFor(flood), tokenFor(honest)

	p1 := flood.proof(t, "/me", ft)
	if code := call(t, one, ft, p1); code != http.StatusNoContent {
		t.Fatalf("first proof: %d, want 204", code)
	}
	if code := call(t, two, ft, flood.proof(t, "/me", ft)); code != http.StatusNoContent {
		t.Fatalf("second proof: %d, want 204", code)
	}
	for name, h := range map[string]http.Handler{"one": one, "two": two} {
		rec := callRecorded(t, h, ft, flood.proof(t, "/me", ft))
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("replica %s, proof over the bound: %d, want 503", name, rec.Code)
		}
		secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
		if err != nil || secs < 30 || secs > 180 { // until its first proof expires, about ProofLifetime and the leeway away
			t.Fatalf("replica %s: Retry-After %q, want 30 to 180 seconds", name, rec.Header().Get("Retry-After"))
		}
	}
	if code := call(t, two, ft, p1); code != http.StatusUnauthorized {
		t.Fatalf("replayed proof over the bound: %d, want 401", code)
	}
	if code := call(t, two, ht, honest.proof(t, "/me", ht)); code != http.StatusNoContent {
		t.Fatalf("another client: %d, want 204", code)
	}
}
