package middleware_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestNoGoroutineLeft: once the validator's context is cancelled, its
// refresh goroutine and everything it started end, whatever state the key
// fetching was in.
func TestNoGoroutineLeft(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(a, b *middlewaretest.Issuer)
		cfg   middleware.Config
		ready bool
	}{
		{name: "ready", ready: true},
		{name: "refreshing often", cfg: middleware.Config{RefreshInterval: time.Millisecond, MinRefreshInterval: time.Nanosecond}, ready: true},
		{name: "issuer down", setup: func(a, b *middlewaretest.Issuer) { a.SetStatus(http.StatusInternalServerError) }},
		{name: "fetch hanging", setup: func(a, b *middlewaretest.Issuer) { b.SetDelay(time.Hour) }, cfg: middleware.Config{KeyWait: time.Millisecond}},
		{name: "no token cache", cfg: middleware.Config{TokenCacheSize: -1}, ready: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

			a, b := middlewaretest.NewIssuer(), middlewaretest.NewIssuer()
			if tc.setup != nil {
				tc.setup(a, b)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cfg := tc.cfg
			cfg.Issuer = a.URL
			cfg.ExtraIssuers = []middleware.Issuer{{Issuer: b.URL}}
			cfg.Audiences = []string{hgAudience}
			if cfg.KeyWait == 0 {
				cfg.KeyWait = 100 * time.Millisecond
			}
			v, err := middleware.New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ready {
				wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
				if err := v.WaitReady(wctx); err != nil {
					t.Fatal(err)
				}
				wcancel()
			}
			// Requests of every kind, including unknown kids that ask
			// for a refresh.
			h := v.RequireScope("read")(hgOK)
			for _, tok := range []string{
				a.Token(middlewaretest.Spec{Scopes: []string{"read"}}),
				b.Token(middlewaretest.Spec{Alg: "ES256"}),
				a.Token(middlewaretest.Spec{Header: map[string]any{"kid": "unknown"}}),
				"garbage",
			} {
				hgServe(h, hgRequest(tok))
			}

			cancel()
			// Requests after the end are answered, and start nothing.
			hgServe(h, hgRequest(a.Token(middlewaretest.Spec{Header: map[string]any{"kid": "unknown-2"}})))
			a.Close()
			b.Close()
		})
	}
}
