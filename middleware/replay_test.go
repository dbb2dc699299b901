package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestReplayKeyLimit: through the default in-memory replay store, one DPoP
// key flooding with fresh proofs is refused on its own once it holds its
// share of the store (a sixteenth of DefaultReplayRate over the proof
// window): 503 with Retry-After, ErrReplayStoreFailed and
// ErrReplayKeyLimit; meanwhile another key's proofs are accepted, and the
// flooder's recorded proofs are still refused as replays.
func TestReplayKeyLimit(t *testing.T) {
	kit := hgKit(t)
	// No leeway and a one-second lifetime: the window is one second, the
	// store's time slots one second, its nominal capacity
	// DefaultReplayRate over two seconds and a key's share a sixteenth.
	h := hgNewHarness(t, kit, hgWithNow(middleware.Config{
		Leeway: -1,
		DPoP:   middleware.DPoP{Mode: middleware.DPoPRequired, ProofLifetime: time.Second},
	}))
	h.waitReady(t)
	share := middleware.DefaultReplayRate * 2 / 16
	flooder, other := middlewaretest.NewDPoPKey("ES256"), middlewaretest.NewDPoPKey("ES256")
	floodToken := hgToken(kit, middlewaretest.Spec{JKT: flooder.Thumbprint()})
	otherToken := hgToken(kit, middlewaretest.Spec{JKT: other.Thumbprint()})
	proof := func(key *middlewaretest.DPoPKey, token, jti string) *http.Request {
		return hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{JTI: jti}))
	}

	first := proof(flooder, floodToken, "flood-0")
	if _, err := h.v.Check(first, middleware.Policy{}); err != nil {
		t.Fatalf("first proof: %v", err)
	}
	for i := 1; i < share; i++ {
		if _, err := h.v.Check(proof(flooder, floodToken, "flood-"+strconv.Itoa(i)), middleware.Policy{}); err != nil {
			t.Fatalf("flooding proof %d of a share of %d: %v", i, share, err)
		}
	}
	w := h.serve(t, h.v.Authenticate, proof(flooder, floodToken, "flood-over"), middleware.ErrReplayKeyLimit)
	// The first proofs, until hgNow+1s, are held to the end of their one
	// second time slot.
	if got := w.Header().Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2 (when the flooder's first proofs are dropped)", got)
	}
	_, err := h.v.Check(proof(flooder, floodToken, "flood-over"), middleware.Policy{})
	hgWant(t, err, middleware.ErrReplayStoreFailed, middleware.ErrReplayKeyLimit)
	for i := range 3 {
		h.serve(t, h.v.Authenticate, proof(other, otherToken, "other-"+strconv.Itoa(i)), nil)
	}
	_, err = h.v.Check(first, middleware.Policy{})
	hgWant(t, err, middleware.ErrInvalidDPoPProof)
}

// TestReplayUntil: what the validator asks the replay store to remember,
// and for how long. Without server nonces, until iat + ProofLifetime +
// leeway; with them, until the proof's nonce stops being accepted when that
// comes first (the start of the step after the next, plus the leeway): a
// proof with that nonce is accepted a second before and refused at it, so
// the store remembers exactly as long as the proof could be replayed.
func TestReplayUntil(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	token := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	var mu sync.Mutex
	var until time.Time
	store := hgReplayFunc(func(_ context.Context, _ string, u time.Time) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		until = u
		return true, nil
	})
	var skew atomic.Int64
	now := func() time.Time { return hgNow.Add(time.Duration(skew.Load())) }
	lifetime := 5 * time.Minute
	last := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return until
	}

	plain := hgReady(t, kit, middleware.Config{Now: now, DPoP: middleware.DPoP{
		Mode: middleware.DPoPRequired, ProofLifetime: lifetime, ReplayStore: store,
	}})
	if _, err := plain.Check(hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{})), middleware.Policy{}); err != nil {
		t.Fatal(err)
	}
	if want := hgNow.Add(lifetime + middleware.DefaultLeeway); !last().Equal(want) {
		t.Fatalf("without nonces: until %v, want %v", last(), want)
	}

	v := hgReady(t, kit, middleware.Config{Now: now, DPoP: middleware.DPoP{
		Mode: middleware.DPoPRequired, ProofLifetime: lifetime, ReplayStore: store,
		NonceSecrets: [][]byte{hgNonceSecret},
	}})
	w := hgServe(v.Authenticate(hgOK), hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{})))
	nonce := hgWantUseNonce(t, w.Result(), w.Body.String())
	check := func() error {
		p := hgProof(key, token, middlewaretest.Proof{Nonce: nonce, IssuedAt: now()})
		_, err := v.Check(hgDPoPRequest(token, p), middleware.Policy{})
		return err
	}
	if err := check(); err != nil {
		t.Fatal(err)
	}
	// hgNow is at the start of a nonce step.
	end := hgNow.Add(2*middleware.DPoPNonceStep + middleware.DefaultLeeway)
	if !last().Equal(end) {
		t.Fatalf("with nonces: until %v, want %v, the end of the nonce", last(), end)
	}
	skew.Store(int64(end.Sub(hgNow) - time.Second))
	if err := check(); err != nil {
		t.Fatalf("a second before the nonce's end: %v", err)
	}
	skew.Store(int64(end.Sub(hgNow)))
	if err := check(); !errors.Is(err, middleware.ErrUseDPoPNonce) {
		t.Fatalf("at the nonce's end: %v, want ErrUseDPoPNonce", err)
	}
}

// TestReplayStoreKeyLimit: a DPoP.ReplayStore of the application that
// returns an error matching ErrReplayKeyLimit gets the same answer as the
// in-memory store's: 503 with Retry-After, matching ErrReplayStoreFailed
// and ErrReplayKeyLimit.
func TestReplayStoreKeyLimit(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	token := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	h := hgNewHarness(t, kit, hgWithNow(middleware.Config{DPoP: middleware.DPoP{
		Mode: middleware.DPoPAllowed,
		ReplayStore: hgReplayFunc(func(context.Context, string, time.Time) (bool, error) {
			return false, fmt.Errorf("client over its quota: %w", middleware.ErrReplayKeyLimit)
		}),
	}}))
	h.waitReady(t)
	r := hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{}))
	h.serve(t, h.v.Authenticate, r, middleware.ErrReplayKeyLimit)
	_, err := h.v.Check(r, middleware.Policy{})
	hgWant(t, err, middleware.ErrReplayStoreFailed, middleware.ErrReplayKeyLimit)
}

// retryAfterError is a ReplayStore error that says when to try again, as
// replay/redisstore's key-limit error does.
type retryAfterError struct{ retry time.Duration }

func (e retryAfterError) Error() string             { return "store busy" }
func (e retryAfterError) Unwrap() error             { return middleware.ErrReplayKeyLimit }
func (e retryAfterError) RetryAfter() time.Duration { return e.retry }

// TestReplayStoreRetryAfter: an error of a DPoP.ReplayStore with a method
// RetryAfter() time.Duration, even wrapped, sets Retry-After, rounded up to
// whole seconds and at least one; any other error gets one second.
func TestReplayStoreRetryAfter(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	token := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	for _, tc := range []struct {
		err  error
		want string
	}{
		{retryAfterError{2500 * time.Millisecond}, "3"},
		{fmt.Errorf("wrapped: %w", retryAfterError{40 * time.Second}), "40"},
		{retryAfterError{10 * time.Millisecond}, "1"},
		{retryAfterError{-time.Second}, "1"},
		{errors.New("store down"), "1"},
	} {
		h := hgNewHarness(t, kit, hgWithNow(middleware.Config{DPoP: middleware.DPoP{
			Mode: middleware.DPoPAllowed,
			ReplayStore: hgReplayFunc(func(context.Context, string, time.Time) (bool, error) {
				return false, tc.err
			}),
		}}))
		h.waitReady(t)
		r := hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{}))
		w := h.serve(t, h.v.Authenticate, r, middleware.ErrReplayStoreFailed)
		if got := w.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("store error %v: Retry-After %q, want %q", tc.err, got, tc.want)
		}
	}
}
