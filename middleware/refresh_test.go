package middleware_test

// When the validator fetches an issuer's keys, and what a request is
// answered while it cannot: issuers are fetched independently of one
// another; fetches caused by requests follow MinRefreshInterval, with no
// back-off while they fail (the back-off while they find nothing new is in
// kidbudget_test.go); a request never waits longer than
// KeyWait; a kid that cannot be looked up because the keys cannot be
// fetched is a 503, not a 401; a stopped validator says so.

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestRefreshIssuersIndependent: an issuer whose JWKS never answers does
// not hold up another's. A's tokens are accepted from the start (a request
// may wait for A's first fetch, within KeyWait), the validator is Ready
// once A's keys are held, and A's rotated key is fetched and used while B's
// fetch still hangs. Both orders of the issuers in the Config.
func TestRefreshIssuersIndependent(t *testing.T) {
	t.Parallel()
	for _, hangingFirst := range []bool{false, true} {
		name := "hanging issuer second"
		if hangingFirst {
			name = "hanging issuer first"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := middlewaretest.NewIssuer()
			defer a.Close()
			b := rfHanging(t)
			cfg := middleware.Config{
				Issuer:             a.URL,
				ExtraIssuers:       []middleware.Issuer{{Issuer: b.URL, JWKSURL: b.URL + "/jwks"}},
				MinRefreshInterval: 100 * time.Millisecond,
			}
			if hangingFirst {
				cfg.Issuer, cfg.JWKSURL = b.URL, b.URL+"/jwks"
				cfg.ExtraIssuers = []middleware.Issuer{{Issuer: a.URL}}
			}
			h := hgNewHarness(t, a, cfg)

			h.accept(t, a.Token(middlewaretest.Spec{}))
			if err := h.v.Ready(); err != nil {
				t.Errorf("Ready() = %v with A's keys held", err)
			}

			// B's tokens: 503 once the request's own context ends.
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			_, err := h.v.ValidateToken(ctx, hgTokenFor(b.URL))
			cancel()
			hgWant(t, err, middleware.ErrKeysUnavailable)

			a.RotateKey("RS256")
			h.accept(t, a.Token(middlewaretest.Spec{}))
			if n := b.n.Load(); n == 0 {
				t.Error("B's JWKS was never requested: the test did not exercise a hanging fetch")
			}
		})
	}
}

// TestRefreshOutageRate: while the JWKS answers 500, tokens with unknown
// kids cause fetches at the pace MinRefreshInterval allows, not slower
// (no back-off) and not faster; each such token is answered 503
// ErrKeysUnavailable, since its kid could not be looked up. When the JWKS
// is back, a rotated key is used at once.
func TestRefreshOutageRate(t *testing.T) {
	t.Parallel()
	const (
		minRefresh = 100 * time.Millisecond
		window     = 1500 * time.Millisecond
	)
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	// The JWKS URL is configured: no discovery between the fetches counted.
	h := hgNewHarness(t, kit, middleware.Config{JWKSURL: kit.JWKSURL(), MinRefreshInterval: minRefresh, KeyWait: 300 * time.Millisecond})
	h.waitReady(t)
	h.accept(t, kit.Token(middlewaretest.Spec{}))

	kit.SetStatus(http.StatusInternalServerError)
	before := kit.JWKSRequests()
	start := time.Now()
	var sent, unavailable int
	var wrong []error
	for i := 0; time.Since(start) < window && i < 10000; i++ {
		sent++
		_, err := h.v.ValidateToken(context.Background(), kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": "forged-" + rand.Text()}}))
		var e *middleware.Error
		if errors.Is(err, middleware.ErrKeysUnavailable) && errors.As(err, &e) && e.RetryAfter > 0 && e.Status == http.StatusServiceUnavailable {
			unavailable++
		} else if len(wrong) < 5 {
			wrong = append(wrong, err)
		}
	}
	elapsed := time.Since(start)
	fetches := kit.JWKSRequests() - before
	t.Logf("outage: %d requests in %v, %d answered 503, %d JWKS requests", sent, elapsed, unavailable, fetches)
	if unavailable != sent {
		t.Errorf("%d of %d tokens with unknown kids during the outage not answered 503 ErrKeysUnavailable with Retry-After; first answers: %v", sent-unavailable, sent, wrong)
	}
	if fetches < 8 {
		t.Errorf("%d JWKS requests in %v with MinRefreshInterval %v: fetches stalled (back-off?)", fetches, elapsed, minRefresh)
	}
	if limit := int64(elapsed/minRefresh) + 2; fetches > limit {
		t.Errorf("%d JWKS requests in %v, more than MinRefreshInterval %v allows (%d)", fetches, elapsed, minRefresh, limit)
	}

	kit.SetStatus(0)
	kit.RotateKey("RS256")
	tok := kit.Token(middlewaretest.Spec{})
	var last error
	if !hgPoll(2500*time.Millisecond, func() bool {
		_, last = h.v.ValidateToken(context.Background(), tok)
		return last == nil
	}) {
		t.Fatalf("a rotated key is not used within 2.5 s of the outage's end: %v", last)
	}
	h.accept(t, tok)
}

// TestRefreshBudgetSpent: with the fetch budget spent (MinRefreshInterval
// not yet passed since the last fetch a request caused), a token whose kid
// is unknown cannot be looked up within KeyWait. It is answered 503 with
// Retry-After, not 401: it may well be a valid token of a key published
// since. A token whose kid was looked for by a fetch started after it
// arrived is answered 401.
func TestRefreshBudgetSpent(t *testing.T) {
	t.Parallel()
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	h := hgNewHarness(t, kit, middleware.Config{MinRefreshInterval: time.Hour, KeyWait: 200 * time.Millisecond})
	h.waitReady(t)
	h.accept(t, kit.Token(middlewaretest.Spec{}))

	before := kit.JWKSRequests()
	_, err := h.v.ValidateToken(context.Background(), kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": "forged"}}))
	hgWant(t, err, middleware.ErrUnknownKey)
	if n := kit.JWKSRequests() - before; n != 1 {
		t.Fatalf("%d JWKS requests for an unknown kid after start-up, want 1", n)
	}

	kit.RotateKey("RS256")
	e := h.refuse(t, kit.Token(middlewaretest.Spec{}), middleware.ErrKeysUnavailable)
	if e.RetryAfter <= 0 {
		t.Errorf("RetryAfter = %v, want > 0", e.RetryAfter)
	}
	if n := kit.JWKSRequests() - before; n != 1 {
		t.Errorf("%d JWKS requests, want 1: the budget allows no further fetch", n)
	}
	// The keys held still serve.
	h.accept(t, kit.Token(middlewaretest.Spec{Alg: "ES256"}))
}

// TestRefreshStopped: once the context given to New ends, no fetch will
// happen again. Ready says so with ErrStopped; the keys held keep
// verifying; a token of a key not held is answered 503 matching both
// ErrKeysUnavailable and ErrStopped, not 401; the logger gets one warning
// about it, however many requests come.
func TestRefreshStopped(t *testing.T) {
	t.Parallel()
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	rec := &rfRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := hgStartHarness(t, ctx, kit, middleware.Config{Logger: slog.New(rec), MinRefreshInterval: 50 * time.Millisecond, KeyWait: time.Second})
	h.waitReady(t)
	held := kit.Token(middlewaretest.Spec{})
	h.accept(t, held)
	warnings := rec.warnings()

	cancel()
	if !hgPoll(5*time.Second, func() bool { return errors.Is(h.v.Ready(), middleware.ErrStopped) }) {
		t.Errorf("Ready() = %v after the validator's context ended, want ErrStopped", h.v.Ready())
	}
	h.accept(t, held)

	kit.RotateKey("RS256")
	rotated := kit.Token(middlewaretest.Spec{})
	e := h.refuse(t, rotated, middleware.ErrKeysUnavailable)
	if !errors.Is(e, middleware.ErrStopped) {
		t.Errorf("error %v does not match ErrStopped", e)
	}
	hgConcurrently(20, func(int) {
		_, err := h.v.ValidateToken(context.Background(), kit.Token(middlewaretest.Spec{Header: map[string]any{"kid": "forged-" + rand.Text()}}))
		if !errors.Is(err, middleware.ErrKeysUnavailable) || !errors.Is(err, middleware.ErrStopped) {
			t.Errorf("unknown kid after stop: %v, want ErrKeysUnavailable and ErrStopped", err)
		}
		if _, err := h.v.ValidateToken(context.Background(), held); err != nil {
			t.Errorf("held key after stop: %v", err)
		}
	})
	if n := rec.warnings() - warnings; n != 1 {
		t.Errorf("%d warnings logged after the stop, want 1", n)
	}
}

// rfHangingServer is a JWKS endpoint that never answers: each request is
// held until the client gives up or the test ends.
type rfHangingServer struct {
	*httptest.Server
	n atomic.Int64
}

func rfHanging(t *testing.T) *rfHangingServer {
	t.Helper()
	s := &rfHangingServer{}
	stop := make(chan struct{})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.n.Add(1)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() {
		close(stop)
		s.Close()
	})
	return s
}

// rfRecorder is a slog.Handler counting records at level Warn and above.
type rfRecorder struct {
	mu sync.Mutex
	n  int
}

func (r *rfRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *rfRecorder) Handle(_ context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelWarn {
		r.mu.Lock()
		r.n++
		r.mu.Unlock()
	}
	return nil
}

func (r *rfRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }

func (r *rfRecorder) WithGroup(string) slog.Handler { return r }

func (r *rfRecorder) warnings() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// TestHardeningIssuerOutage: once keys were obtained, they keep serving
// through an issuer outage, including after failed refreshes.
func TestHardeningIssuerOutage(t *testing.T) {
	t.Parallel()
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	h := hgNewHarness(t, kit, middleware.Config{MinRefreshInterval: 20 * time.Millisecond, KeyWait: time.Second})
	h.waitReady(t)
	tok := kit.Token(middlewaretest.Spec{})
	h.accept(t, tok)
	for _, outage := range []func(){
		func() { kit.SetStatus(http.StatusInternalServerError) },
		func() { kit.SetStatus(0); kit.SetJWKS([]byte(`<html>maintenance</html>`)) },
		func() { kit.SetJWKS([]byte(`{"error":"maintenance"}`)) },
	} {
		outage()
		before := kit.JWKSRequests() + kit.DiscoveryRequests()
		// Unknown kids ask for refreshes, which fail: 503, since the kid
		// may be a key just published.
		if !hgPoll(5*time.Second, func() bool {
			h.refuse(t, kit.Sign(map[string]any{"kid": "new-kid", "typ": "at+jwt"}, hgValidClaims(kit.URL)), middleware.ErrKeysUnavailable)
			return kit.JWKSRequests()+kit.DiscoveryRequests() > before
		}) {
			t.Fatal("no refresh attempted during the outage")
		}
		h.accept(t, tok)
		h.accept(t, kit.Token(middlewaretest.Spec{Alg: "ES256"}))
		if err := h.v.Ready(); err != nil {
			t.Errorf("Ready() = %v during an outage after keys were obtained", err)
		}
	}
}
