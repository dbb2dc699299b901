package middleware

import (
	"context"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestEmptyKeySetKeepsKeys: a JWKS with no usable key (empty, or only
// symmetric keys) is treated as a failed fetch: the keys held keep serving.
func TestEmptyKeySetKeepsKeys(t *testing.T) {
	for _, body := range []string{`{"keys":[]}`, `{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}`} {
		t.Run(body, func(t *testing.T) {
			kit := ktKit(t)
			v := ktReady(t, kit, Config{RefreshInterval: 20 * time.Millisecond, MinRefreshInterval: 20 * time.Millisecond, TokenCacheSize: -1})
			tok := kit.Token(middlewaretest.Spec{})
			ktWant(t, ktValidate(v, tok))
			kit.SetJWKS([]byte(body))
			n := kit.JWKSRequests()
			deadline := time.Now().Add(10 * time.Second)
			for kit.JWKSRequests() < n+2 {
				if time.Now().After(deadline) {
					t.Fatal("no periodic refresh within 10 s")
				}
				time.Sleep(5 * time.Millisecond)
			}
			ktWant(t, ktValidate(v, tok))
		})
	}
}

// TestNoWaitOnceStopped: once the validator's context is done no fetch will
// happen, so a request that needs keys is answered at once rather than
// after KeyWait.
func TestNoWaitOnceStopped(t *testing.T) {
	kit := ktKit(t)
	kit.SetStatus(500) // never ready
	ctx, cancel := context.WithCancel(context.Background())
	v, err := New(ctx, Config{Issuer: kit.URL, Audiences: []string{ktAPI}, KeyWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-v.stopped
	done := make(chan error, 1)
	go func() { done <- ktValidate(v, kit.Token(middlewaretest.Spec{})) }()
	select {
	case err := <-done:
		ktWant(t, err, ErrKeysUnavailable)
	case <-time.After(30 * time.Second):
		t.Fatal("a request waited for keys after the validator stopped")
	}
}
