package interop

// Key rotation at oidc-provider while bearerguard serves through net/http,
// Echo and Gin.

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
)

func TestBearerguardKeyRotation(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)

	const minRefresh = 100 * time.Millisecond
	cfg := middleware.Config{
		Issuer:             s.Issuer,
		Audiences:          []string{ResourceRS256, ResourceES256},
		MinRefreshInterval: minRefresh,
		// No periodic refresh during the test: every fetch after the first
		// is caused by an unknown kid.
	}
	// Each framework twice: with the default token cache, whose entries of a
	// key that left the JWKS are dropped on refresh, and without it.
	targets := newTargets(t, cfg)
	for i := range targets {
		targets[i].name += " cached"
	}
	cfg.TokenCacheSize = -1
	for _, tg := range newTargets(t, cfg) {
		tg.name += " uncached"
		targets = append(targets, tg)
	}
	waitReady(t, targets)

	token := func(res string) (string, string) {
		t.Helper()
		tok := s.ClientCredentialsToken(t, s.BasicClient, Basic, []string{ScopeRead}, resource(res))
		header, _ := DecodeUnverified(t, tok)
		kid, _ := header["kid"].(string)
		return tok, kid
	}
	read := machineView(s.BasicClient, ScopeRead)

	oldRS, oldRSKid := token(ResourceRS256)
	oldES, oldESKid := token(ResourceES256)
	for _, tg := range targets {
		wantAccepted(t, tg, oldRS, read)
		wantAccepted(t, tg, oldES, read)
	}
	fetchesBefore := make([]int, len(targets))
	for i, tg := range targets {
		fetchesBefore[i] = tg.log.fetched(s.JWKSURL)
	}

	// A key added after start-up signs the next tokens. Their kid is unknown
	// to every validator; once the rate limit allows a fetch, the first
	// request with it must succeed.
	published := s.RotateKey(t)
	newRS, newRSKid := token(ResourceRS256)
	newES, newESKid := token(ResourceES256)
	if newRSKid == oldRSKid || newESKid == oldESKid || !slices.Contains(published, newRSKid) || !slices.Contains(published, newESKid) {
		t.Fatalf("after rotation kids RS %s ES %s (before %s %s), published %v", newRSKid, newESKid, oldRSKid, oldESKid, published)
	}
	waitQuiet(t, targets, 2*minRefresh)
	for i, tg := range targets {
		t.Run("new key first sight/"+tg.name, func(t *testing.T) {
			wantAccepted(t, tg, newRS, read)
			wantAccepted(t, tg, newES, read)
			// The old keys are still published.
			wantAccepted(t, tg, oldRS, read)
			wantAccepted(t, tg, oldES, read)
			if got := tg.log.fetched(s.JWKSURL); got != fetchesBefore[i]+1 {
				t.Errorf("JWKS fetched %d times since warm-up, want 1", got-fetchesBefore[i])
			}
		})
	}

	// The old keys leave the JWKS. A refresh, here caused by a token with an
	// unknown kid, makes every validator forget them; cached tokens signed
	// with them are dropped from the cache.
	if kept := s.DropOldKeys(t); !slices.Equal(kept, []string{newRSKid, newESKid}) && !slices.Equal(kept, []string{newESKid, newRSKid}) {
		t.Fatalf("after drop JWKS %v, want %s and %s", kept, newRSKid, newESKid)
	}
	waitQuiet(t, targets, 2*minRefresh)
	forged := forgedToken(t, s.Issuer, ResourceRS256)
	for i, tg := range targets {
		fetchesBefore[i] = tg.log.fetched(s.JWKSURL)
		wantRefused(t, tg, forged, middleware.ErrUnknownKey)
		if tg.log.fetched(s.JWKSURL) == fetchesBefore[i] {
			t.Fatalf("%s: an unknown kid caused no JWKS fetch", tg.name)
		}
	}
	for _, tg := range targets {
		t.Run("old key dropped/"+tg.name, func(t *testing.T) {
			for _, old := range []string{oldRS, oldES} {
				// The refresh goroutine empties the cache of the dropped
				// keys' tokens just after the fetch is marked complete, so
				// allow it a moment.
				var err error
				attempts := 0
				refused := eventually(2*time.Second, func() bool {
					attempts++
					_, err = validate(tg.v, old)
					return err != nil
				})
				if attempts > 1 {
					t.Logf("token of a dropped key accepted %d times after the refresh", attempts-1)
				}
				if !refused || !errors.Is(err, middleware.ErrInvalidToken) || !errors.Is(err, middleware.ErrUnknownKey) {
					t.Fatalf("token of a dropped key: ValidateToken error %v, want ErrUnknownKey", err)
				}
				for _, rt := range routes {
					wantInvalidToken(t, tg.name+" "+rt.method+" "+rt.path, serve(t, tg.h, rt.method, rt.path, old))
				}
			}
			wantAccepted(t, tg, newRS, read)
			wantAccepted(t, tg, newES, read)
			if resp := serve(t, tg.h, http.MethodGet, "/me", ""); resp.StatusCode != http.StatusUnauthorized ||
				resp.Header.Get("WWW-Authenticate") != `Bearer realm="`+realm+`"` {
				t.Errorf("no token: status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}
