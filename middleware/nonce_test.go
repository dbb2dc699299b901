package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

var (
	hgNonceSecret  = []byte("0123456789abcdef0123456789abcdef")
	hgNonceSecret2 = []byte("fedcba9876543210fedcba9876543210")
)

// hgNonceValidator returns a validator with server nonces minted with
// secrets[0], whose clock is hgNow plus the offset *skew.
func hgNonceValidator(t *testing.T, kit *middlewaretest.Issuer, skew *atomic.Int64, secrets ...[]byte) *middleware.Validator {
	t.Helper()
	return hgReady(t, kit, middleware.Config{
		Now:  func() time.Time { return hgNow.Add(time.Duration(skew.Load())) },
		DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed, NonceSecrets: secrets},
	})
}

// hgWantUseNonce checks that w is the answer asking for a nonce (RFC 9449
// §9): 401, error use_dpop_nonce in the DPoP challenge and the body, and a
// fresh DPoP-Nonce, which it returns.
func hgWantUseNonce(t *testing.T, w *http.Response, body string) string {
	t.Helper()
	if w.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401; body %s", w.StatusCode, body)
	}
	if !strings.Contains(w.Header.Get("WWW-Authenticate"), `DPoP error="use_dpop_nonce", `) {
		t.Errorf("WWW-Authenticate %q, want error use_dpop_nonce", w.Header.Get("WWW-Authenticate"))
	}
	if !strings.Contains(body, `"error":"use_dpop_nonce"`) {
		t.Errorf("body %s, want error use_dpop_nonce", body)
	}
	n := w.Header.Get("DPoP-Nonce")
	if n == "" {
		t.Fatal("no DPoP-Nonce header")
	}
	return n
}

// TestDPoPNonce: with DPoP.NonceSecrets, a proof must carry a nonce minted
// by one of the secrets within the current or the previous step (RFC 9449
// §9); otherwise 401 use_dpop_nonce with a fresh DPoP-Nonce. A nonce of the
// previous step is accepted and the answer carries a fresh one.
func TestDPoPNonce(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	token := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	var skew atomic.Int64
	v := hgNonceValidator(t, kit, &skew, hgNonceSecret)
	h := v.Authenticate(hgOK)
	serve := func(nonce string) (*http.Response, string) {
		p := hgProof(key, token, middlewaretest.Proof{Nonce: nonce, IssuedAt: hgNow.Add(time.Duration(skew.Load()))})
		w := hgServe(h, hgDPoPRequest(token, p))
		return w.Result(), w.Body.String()
	}

	res, body := serve("")
	nonce := hgWantUseNonce(t, res, body)

	t.Run("Check error", func(t *testing.T) {
		p := hgProof(key, token, middlewaretest.Proof{})
		_, err := v.Check(hgDPoPRequest(token, p), middleware.Policy{})
		var e *middleware.Error
		if !errors.As(err, &e) || !errors.Is(err, middleware.ErrUseDPoPNonce) || !errors.Is(err, middleware.ErrInvalidDPoPProof) ||
			e.Status != 401 || e.Code != middleware.CodeUseDPoPNonce {
			t.Fatalf("Check: %v, want 401 use_dpop_nonce matching ErrUseDPoPNonce and ErrInvalidDPoPProof", err)
		}
		if hgCategoryCount(err) != 1 {
			t.Errorf("error matches %d categories", hgCategoryCount(err))
		}
	})
	t.Run("valid nonce", func(t *testing.T) {
		res, body := serve(nonce)
		if res.StatusCode != 200 || res.Header.Get("DPoP-Nonce") != "" {
			t.Fatalf("status %d, DPoP-Nonce %q; want 200 without a new nonce; body %s", res.StatusCode, res.Header.Get("DPoP-Nonce"), body)
		}
	})
	for name, bad := range map[string]string{
		"forged":         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"not base64":     "!!!!",
		"altered":        nonce[:len(nonce)-2] + map[bool]string{true: "AA", false: "AB"}[nonce[len(nonce)-2:] != "AA"],
		"another secret": hgNonceOf(t, kit, key, token, hgNonceSecret2),
	} {
		t.Run(name, func(t *testing.T) {
			res, body := serve(bad)
			if n := hgWantUseNonce(t, res, body); n == bad {
				t.Errorf("DPoP-Nonce is the refused nonce")
			}
		})
	}
	t.Run("previous step", func(t *testing.T) {
		skew.Store(int64(middleware.DPoPNonceStep + middleware.DefaultLeeway + time.Second))
		defer skew.Store(0)
		res, body := serve(nonce)
		fresh := res.Header.Get("DPoP-Nonce")
		if res.StatusCode != 200 || fresh == "" || fresh == nonce {
			t.Fatalf("status %d, DPoP-Nonce %q; want 200 with a fresh nonce; body %s", res.StatusCode, fresh, body)
		}
		if res, body := serve(fresh); res.StatusCode != 200 || res.Header.Get("DPoP-Nonce") != "" {
			t.Errorf("fresh nonce: status %d, DPoP-Nonce %q; want 200 without a new one; body %s", res.StatusCode, res.Header.Get("DPoP-Nonce"), body)
		}
	})
	t.Run("expired step", func(t *testing.T) {
		skew.Store(int64(2*middleware.DPoPNonceStep + middleware.DefaultLeeway + time.Second))
		defer skew.Store(0)
		res, body := serve(nonce)
		hgWantUseNonce(t, res, body)
	})
	t.Run("future step", func(t *testing.T) {
		skew.Store(int64(-middleware.DPoPNonceStep - middleware.DefaultLeeway - time.Second))
		defer skew.Store(0)
		res, body := serve(nonce)
		hgWantUseNonce(t, res, body)
	})
	t.Run("bearer route unaffected", func(t *testing.T) {
		unbound := hgToken(kit, middlewaretest.Spec{})
		if w := hgServe(h, hgRequest(unbound)); w.Code != 200 || w.Header().Get("DPoP-Nonce") != "" {
			t.Errorf("Bearer: status %d, DPoP-Nonce %q; want 200 without", w.Code, w.Header().Get("DPoP-Nonce"))
		}
	})
}

// hgNonceOf returns a nonce minted now by a validator whose first secret
// is secret.
func hgNonceOf(t *testing.T, kit *middlewaretest.Issuer, key *middlewaretest.DPoPKey, token string, secret []byte) string {
	t.Helper()
	var skew atomic.Int64
	v := hgNonceValidator(t, kit, &skew, secret)
	w := hgServe(v.Authenticate(hgOK), hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{})))
	return hgWantUseNonce(t, w.Result(), w.Body.String())
}

// TestDPoPNonceRotation: every secret of DPoP.NonceSecrets is accepted, the
// first mints: a replica that put a new secret first still accepts the
// nonces of one that has not yet.
func TestDPoPNonceRotation(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	token := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	old := hgNonceOf(t, kit, key, token, hgNonceSecret)
	var skew atomic.Int64
	v := hgNonceValidator(t, kit, &skew, hgNonceSecret2, hgNonceSecret)
	p := hgProof(key, token, middlewaretest.Proof{Nonce: old})
	if _, err := v.Check(hgDPoPRequest(token, p), middleware.Policy{}); err != nil {
		t.Fatalf("nonce of the second secret refused: %v", err)
	}
	if n := hgNonceOf(t, kit, key, token, hgNonceSecret2); n == old {
		t.Error("the new secret mints the old secret's nonce")
	}
}

// TestDPoPNonceConfig: New refuses nonce secrets too short to key
// HMAC-SHA256, or not random (every byte the same).
func TestDPoPNonceConfig(t *testing.T) {
	for name, s := range map[string][][]byte{
		"empty":         {{}},
		"short":         {[]byte("0123456789abcdef")},
		"short rotated": {hgNonceSecret, []byte("short")},
		"never filled":  {make([]byte, 32)},
		"all one byte":  {[]byte(strings.Repeat("a", 40))},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := middleware.New(context.Background(), middleware.Config{
				Issuer: "https://issuer.example.test", Audiences: []string{hgAudience},
				DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed, NonceSecrets: s},
			})
			if !errors.Is(err, middleware.ErrInvalidConfig) {
				t.Errorf("New: %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// TestDPoPNonces: DPoP.Nonces turns server nonces on with a secret of the
// process's own, no secret by hand: a proof without a nonce is asked for
// one, the nonce given is accepted, and another process (another
// validator) does not accept it. NonceSecrets, when set, are used.
func TestDPoPNonces(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	token := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	cfg := middleware.Config{Now: func() time.Time { return hgNow }, DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed, Nonces: true}}
	a, b := hgReady(t, kit, cfg), hgReady(t, kit, cfg)
	w := hgServe(a.Authenticate(hgOK), hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{})))
	nonce := hgWantUseNonce(t, w.Result(), w.Body.String())
	if _, err := a.Check(hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{Nonce: nonce})), middleware.Policy{}); err != nil {
		t.Errorf("the process's own nonce refused: %v", err)
	}
	_, err := b.Check(hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{Nonce: nonce})), middleware.Policy{})
	if !errors.Is(err, middleware.ErrUseDPoPNonce) {
		t.Errorf("another process's nonce: %v, want ErrUseDPoPNonce", err)
	}

	cfg.DPoP.NonceSecrets = [][]byte{hgNonceSecret}
	shared := hgReady(t, kit, cfg)
	n := hgNonceOf(t, kit, key, token, hgNonceSecret)
	if _, err := shared.Check(hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{Nonce: n})), middleware.Policy{}); err != nil {
		t.Errorf("Nonces with NonceSecrets: a nonce of the shared secret refused: %v", err)
	}
}
