package interop

// Issuer outages: oidc-provider goes down after bearerguard has its keys, or
// is down when bearerguard starts.

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
)

func TestBearerguardIssuerDownAfterWarmup(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	targets := newTargets(t, middleware.Config{
		Issuer:    s.Issuer,
		Audiences: []string{ResourceRS256, ResourceES256},
		// Refresh often, so that refreshes fail during the outage.
		RefreshInterval:    200 * time.Millisecond,
		MinRefreshInterval: 100 * time.Millisecond,
	})
	waitReady(t, targets)

	seen := s.ClientCredentialsToken(t, s.BasicClient, Basic, allScopes, resource(ResourceRS256))
	unseenRS := s.ClientCredentialsToken(t, s.PostClient, Post, []string{ScopeRead}, resource(ResourceRS256))
	unseenES := s.ClientCredentialsToken(t, s.PostClient, Post, []string{ScopeWrite}, resource(ResourceES256))
	all := machineView(s.BasicClient, ScopeRead, ScopeWrite)
	for _, tg := range targets {
		wantAccepted(t, tg, seen, all)
	}

	s.Stop()
	// Wait until every validator has failed to refresh at least twice.
	for _, tg := range targets {
		if !eventually(10*time.Second, func() bool { return tg.log.failed() >= 2 }) {
			t.Fatalf("%s: no failed refresh within 10s of the outage", tg.name)
		}
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			if err := tg.v.Ready(); err != nil {
				t.Errorf("Ready during outage: %v", err)
			}
			// A token seen before, and tokens never seen, signed with the
			// keys obtained before the outage.
			wantAccepted(t, tg, seen, all)
			wantAccepted(t, tg, unseenRS, machineView(s.PostClient, ScopeRead))
			wantAccepted(t, tg, unseenES, machineView(s.PostClient, ScopeWrite))
			// An unknown kid may be a key published during the outage:
			// "cannot verify now", 503, never a 401 that would make the
			// client throw a good token away.
			forged := forgedToken(t, s.Issuer, ResourceRS256)
			if _, err := validate(tg.v, forged); !errors.Is(err, middleware.ErrKeysUnavailable) {
				t.Errorf("%s: ValidateToken error %v for an unknown kid during the outage, want ErrKeysUnavailable", tg.name, err)
			}
			for _, rt := range routes {
				wantUnavailable(t, tg.name+" "+rt.method+" "+rt.path, serve(t, tg.h, rt.method, rt.path, forged))
			}
		})
	}
}

func TestBearerguardIssuerDownFromStart(t *testing.T) {
	t.Parallel()
	s := NewOIDCProviderStopped(t)
	targets := newTargets(t, middleware.Config{
		Issuer:             s.Issuer,
		Audiences:          []string{ResourceRS256},
		MinRefreshInterval: 100 * time.Millisecond,
		KeyWait:            200 * time.Millisecond,
	})

	// No token can be checked yet: any well-formed one is answered 503.
	early := forgedToken(t, s.Issuer, ResourceRS256)
	for _, tg := range targets {
		if err := tg.v.Ready(); !errors.Is(err, middleware.ErrKeysUnavailable) {
			t.Errorf("%s: Ready %v, want ErrKeysUnavailable", tg.name, err)
		}
		if _, err := validate(tg.v, early); !errors.Is(err, middleware.ErrKeysUnavailable) {
			t.Errorf("%s: ValidateToken error %v, want ErrKeysUnavailable", tg.name, err)
		}
		for _, rt := range routes {
			wantUnavailable(t, tg.name+" "+rt.method+" "+rt.path, serve(t, tg.h, rt.method, rt.path, early))
		}
		// A request without a token needs no keys to be refused.
		if resp := serve(t, tg.h, http.MethodGet, "/me", ""); resp.StatusCode != http.StatusUnauthorized ||
			resp.Header.Get("WWW-Authenticate") != `Bearer realm="`+realm+`"` {
			t.Errorf("%s: no token: status %d, WWW-Authenticate %q", tg.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}

	// The issuer comes up: the same validators recover on their own.
	s.Start()
	token := s.ClientCredentialsToken(t, s.BasicClient, Basic, []string{ScopeRead}, resource(ResourceRS256))
	for _, tg := range targets {
		var last *http.Response
		ok := eventually(10*time.Second, func() bool {
			last = serve(t, tg.h, http.MethodGet, "/users", token)
			if last.StatusCode != http.StatusOK {
				wantUnavailable(t, tg.name+" while recovering", last)
			}
			return last.StatusCode == http.StatusOK
		})
		if !ok {
			t.Fatalf("%s: still %d 10s after the issuer came up", tg.name, last.StatusCode)
		}
		last.Body.Close()
		if err := tg.v.Ready(); err != nil {
			t.Errorf("%s: Ready after recovery: %v", tg.name, err)
		}
		wantAccepted(t, tg, token, machineView(s.BasicClient, ScopeRead))
	}
}
