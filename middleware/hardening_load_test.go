package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// hgForged returns a token of iss naming kid, with a filler signature: a
// forged kid is looked up before any signature is checked.
func hgForged(iss, kid string) string {
	return hgCraft(hgMustJSON(map[string]any{"alg": "RS256", "kid": kid, "typ": "at+jwt"}), hgMustJSON(hgValidClaims(iss)), make([]byte, 256))
}

// TestHardeningForgedKidFlood: 1000 concurrent tokens with distinct
// unknown kids cause at most one JWKS fetch per MinRefreshInterval, and no
// request waits longer than KeyWait for it. A kid no fetch may look for now
// is answered 503 at once: it may be a key just published.
func TestHardeningForgedKidFlood(t *testing.T) {
	t.Parallel()
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	const n = 1000
	const keyWait = 300 * time.Millisecond
	const bound = keyWait + time.Second // generous: 2 cores, -race

	flood := func(t *testing.T, h *hgHarness, want error) {
		t.Helper()
		var slowest atomic.Int64
		var wrong atomic.Int64
		hgConcurrently(n, func(i int) {
			start := time.Now()
			_, err := h.v.ValidateToken(context.Background(), hgForged(kit.URL, fmt.Sprintf("forged-%d", i)))
			d := time.Since(start)
			for {
				s := slowest.Load()
				if int64(d) <= s || slowest.CompareAndSwap(s, int64(d)) {
					break
				}
			}
			if !errors.Is(err, want) {
				wrong.Add(1)
			}
		})
		if w := wrong.Load(); w != 0 {
			t.Errorf("%d of %d forged kids not refused with %v", w, n, want)
		}
		if d := time.Duration(slowest.Load()); d > bound {
			t.Errorf("slowest request took %v, KeyWait is %v", d, keyWait)
		}
	}

	// Inside the rate window (opened by one forged kid, whose fetch
	// confirmed it unknown): no fetch at all, and no waiting: 503 at once.
	t.Run("window closed", func(t *testing.T) {
		h := hgNewHarness(t, kit, middleware.Config{JWKSURL: kit.JWKSURL(), MinRefreshInterval: time.Hour, KeyWait: keyWait})
		h.waitReady(t)
		h.refuse(t, hgForged(kit.URL, "spends-the-budget"), middleware.ErrUnknownKey)
		base := kit.JWKSRequests()
		flood(t, h, middleware.ErrKeysUnavailable)
		// And one after another, so that no fetch is in flight to share.
		for i := range 100 {
			h.refuse(t, hgForged(kit.URL, fmt.Sprintf("sequential-%d", i)), middleware.ErrKeysUnavailable)
		}
		if d := kit.JWKSRequests() - base; d > 1 {
			t.Errorf("%d JWKS fetches for the flood, want at most 1", d)
		}
		h.accept(t, kit.Token(middlewaretest.Spec{}))
	})

	// The window is open (1 ms) and the issuer is slow: the first forged
	// kid starts one fetch, which every other request shares; each gives
	// up after KeyWait with 503.
	t.Run("window open, slow issuer", func(t *testing.T) {
		h := hgNewHarness(t, kit, middleware.Config{JWKSURL: kit.JWKSURL(), MinRefreshInterval: time.Millisecond, KeyWait: keyWait})
		h.waitReady(t)
		kit.SetDelay(time.Minute) // released when the kit closes
		defer kit.SetDelay(0)
		base := kit.JWKSRequests()
		flood(t, h, middleware.ErrKeysUnavailable)
		if d := kit.JWKSRequests() - base; d > 1 {
			t.Errorf("%d JWKS fetches for the flood, want at most 1", d)
		}
		// Known keys keep working meanwhile, without waiting.
		start := time.Now()
		h.accept(t, kit.Token(middlewaretest.Spec{}))
		if d := time.Since(start); d > bound {
			t.Errorf("valid token waited %v during a refresh", d)
		}
	})
}

// TestHardeningForgedKidStorm: N concurrent tokens with unknown kids while
// the one fetch they may cause hangs. At most MaxKeyWaiters of them are
// held at once: the others are answered 503 with Retry-After at once,
// whatever N. With distinct kids (a forged-kid stream), only the requests
// that asked for the fetch before it started wait for it; kids seen again
// (as the tokens of a new key are) may wait for the fetch in flight, up to
// the cap. The storm makes one JWKS fetch (the budget's), and when it ends
// the held requests are refused, none accepted.
func TestHardeningForgedKidStorm(t *testing.T) {
	t.Parallel()
	const n = 4 * middleware.MaxKeyWaiters
	for _, tc := range []struct {
		name string
		kids int
	}{
		{"distinct kids", n},
		{"8 kids repeated", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kit := middlewaretest.NewIssuer()
			defer kit.Close()
			var hanging atomic.Bool
			release := make(chan struct{})
			var fetches atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hanging.Load() {
					fetches.Add(1)
					select {
					case <-release:
					case <-r.Context().Done():
						return
					}
				}
				resp, err := kit.Client().Get(kit.JWKSURL())
				if err != nil {
					http.Error(w, "upstream", http.StatusBadGateway)
					return
				}
				defer resp.Body.Close()
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.Copy(w, resp.Body)
			}))
			defer srv.Close()
			var once sync.Once
			unhang := func() { once.Do(func() { close(release) }) }
			defer unhang()
			h := hgNewHarness(t, kit, middleware.Config{JWKSURL: srv.URL, MinRefreshInterval: time.Hour, KeyWait: time.Minute})
			h.waitReady(t)
			hanging.Store(true)

			errs := make(chan error, n)
			for i := range n {
				go func() {
					_, err := h.v.ValidateToken(context.Background(), hgForged(kit.URL, fmt.Sprintf("storm-%d", i%tc.kids)))
					errs <- err
				}()
			}
			// While the fetch hangs, all but at most MaxKeyWaiters are
			// answered.
			answered := 0
			deadline := time.After(time.Minute)
			for answered < n-middleware.MaxKeyWaiters {
				select {
				case err := <-errs:
					answered++
					var e *middleware.Error
					if !errors.Is(err, middleware.ErrKeysUnavailable) || !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || e.RetryAfter <= 0 {
						t.Fatalf("a forged kid answered during the hanging fetch with %v, want 503 ErrKeysUnavailable with Retry-After", err)
					}
					// Not released by the fetch giving up (its own timeout).
					var ke *middleware.KeysError
					if errors.As(err, &ke) {
						t.Fatalf("%d of %d forged kids answered before the fetch gave up: more than MaxKeyWaiters (%d) held", answered-1, n, middleware.MaxKeyWaiters)
					}
				case <-deadline:
					t.Fatalf("%d of %d forged kids answered while the fetch hangs: more than MaxKeyWaiters (%d) held", answered, n, middleware.MaxKeyWaiters)
				}
			}
			if !hgPoll(time.Minute, func() bool { return fetches.Load() > 0 }) {
				t.Fatal("the storm caused no JWKS fetch")
			}
			unhang()
			for ; answered < n; answered++ {
				if err := <-errs; !errors.Is(err, middleware.ErrUnknownKey) && !errors.Is(err, middleware.ErrKeysUnavailable) {
					t.Errorf("a forged kid answered %v, want ErrUnknownKey or ErrKeysUnavailable", err)
				}
			}
			if f := fetches.Load(); f != 1 {
				t.Errorf("%d JWKS fetches for the storm, want 1: the budget allows no other", f)
			}
			h.accept(t, kit.Token(middlewaretest.Spec{}))
		})
	}
}

// TestHardeningColdStart: 1000 concurrent first requests share one
// discovery and one JWKS fetch, and are all answered from it.
func TestHardeningColdStart(t *testing.T) {
	t.Parallel()
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	kit.SetDelay(100 * time.Millisecond) // keep the first fetch in flight while requests pile up
	tok := kit.Token(middlewaretest.Spec{})
	h := hgNewHarness(t, kit, middleware.Config{KeyWait: 20 * time.Second})
	var refused atomic.Int64
	var first atomic.Value
	hgConcurrently(1000, func(int) {
		if _, err := h.v.ValidateToken(context.Background(), tok); err != nil {
			refused.Add(1)
			first.CompareAndSwap(nil, err)
		}
	})
	if r := refused.Load(); r != 0 {
		t.Errorf("%d of 1000 first requests refused, e.g. %v", r, first.Load())
	}
	if n := kit.JWKSRequests(); n != 1 {
		t.Errorf("%d JWKS fetches, want exactly 1", n)
	}
	if n := kit.DiscoveryRequests(); n != 1 {
		t.Errorf("%d discovery fetches, want exactly 1", n)
	}
}

// hgGate is a Config.Now that, once armed, stops the first caller until
// released: a way to hold a request between its key lookup and its token
// cache entry (golang-jwt reads the clock after verifying the signature).
type hgGate struct {
	armed   atomic.Bool
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func newHGGate() *hgGate {
	return &hgGate{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *hgGate) now() time.Time {
	if g.armed.Load() {
		stop := false
		g.once.Do(func() { stop = true })
		if stop {
			close(g.entered)
			<-g.release
		}
	}
	return time.Now()
}

// hgSwitchJWKS serves a JWK Set that the test replaces at will.
type hgSwitchJWKS struct {
	*httptest.Server
	body   atomic.Pointer[[]byte]
	served func(body []byte)
	n      atomic.Int64
}

func newHGSwitchJWKS(t *testing.T, body []byte) *hgSwitchJWKS {
	s := &hgSwitchJWKS{}
	s.body.Store(&body)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.n.Add(1)
		b := *s.body.Load()
		if s.served != nil {
			s.served(b)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestHardeningCacheKeyRemoved: a token verified while its key was
// published, and cached just after a refresh removed that key, is not
// served from the token cache afterwards. The request is held (through
// Config.Now) between its key lookup and its cache entry while the refresh
// completes.
func TestHardeningCacheKeyRemoved(t *testing.T) {
	t.Parallel()
	k := hgKeys()
	const iss = "https://issuer.example"
	setA := hgJwks(hgJwk(k.ec, "a", "ES256"))
	setAB := hgJwks(hgJwk(k.ec, "a", "ES256"), hgJwk(k.ec2, "b", "ES256"))
	srv := newHGSwitchJWKS(t, setA)
	gate := newHGGate()
	srv.served = func(b []byte) {
		if string(b) == string(setAB) {
			gate.armed.Store(true)
		}
	}
	h := hgNewHarness(t, nil, middleware.Config{
		Issuer: iss, JWKSURL: srv.URL, Now: gate.now,
		MinRefreshInterval: time.Nanosecond, KeyWait: 10 * time.Second,
	})
	h.waitReady(t)
	tokB := hgSignRaw(t, "ES256", k.ec2, `{"alg":"ES256","kid":"b","typ":"at+jwt"}`, hgMustJSON(hgValidClaims(iss)))

	// Key b is published; a request for a token of b fetches it, verifies,
	// and is held before caching. (Should the rate window still be
	// closed, the request ends at once without fetching: try again.)
	srv.body.Store(&setAB)
	done := make(chan error, 1)
	for attempt := 0; ; attempt++ {
		go func() {
			_, err := h.v.ValidateToken(context.Background(), tokB)
			done <- err
		}()
		select {
		case <-gate.entered:
		case err := <-done:
			if !gate.armed.Load() && errors.Is(err, middleware.ErrUnknownKey) && attempt < 100 {
				continue
			}
			t.Fatalf("request finished without reading the clock after its key lookup: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("request never reached the clock")
		}
		break
	}
	// Key b leaves the JWKS; a forged kid makes the validator refresh, and
	// the refresh completes before that request returns.
	srv.body.Store(&setA)
	before := srv.n.Load()
	if !hgPoll(5*time.Second, func() bool {
		_, err := h.v.ValidateToken(context.Background(), hgForged(iss, "unknown"))
		return errors.Is(err, middleware.ErrUnknownKey) && srv.n.Load() > before
	}) {
		t.Fatal("no refresh after key b was removed")
	}
	close(gate.release)
	if err := <-done; err != nil && !errors.Is(err, middleware.ErrUnknownKey) {
		t.Fatalf("held request: %v", err)
	}
	// Key b is gone: the token must not be served from the cache.
	h.refuse(t, tokB, middleware.ErrUnknownKey)
}

// TestHardeningRotationUnderLoad: keys rotate while 50 goroutines validate
// (run with -race). Tokens of a key removed from the JWKS are refused once
// a refresh after the removal has been observed, attacker tokens are always
// refused, and no goroutine is left after the validator's context ends.
// Not parallel: it checks for leaked goroutines.
func TestHardeningRotationUnderLoad(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	k := hgKeys()
	kit := middlewaretest.NewIssuer()
	ctx, cancel := context.WithCancel(context.Background())
	h := hgStartHarness(t, ctx, kit, middleware.Config{
		RefreshInterval:    20 * time.Millisecond,
		MinRefreshInterval: 2 * time.Millisecond,
		KeyWait:            2 * time.Second,
	})
	h.waitReady(t)

	const alg = "ES256"
	type state struct {
		current []string // tokens of the current key
		dead    []string // tokens of removed keys, after a refresh
		attack  []string
	}
	mint := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = kit.Token(middlewaretest.Spec{Alg: alg, Subject: fmt.Sprint("u", i)})
		}
		return out
	}
	attack := func() []string {
		c := hgValidClaims(kit.URL)
		return []string{
			kit.SignWith(k.ec2, map[string]any{"alg": alg, "kid": kit.KeyID(alg), "typ": "at+jwt"}, c),
			kit.SignWith(k.ec2, map[string]any{"alg": alg, "kid": "attacker", "typ": "at+jwt"}, c),
			kit.SignWith(k.ec2, map[string]any{"alg": alg, "typ": "at+jwt"}, c),
		}
	}
	var st atomic.Pointer[state]
	st.Store(&state{current: mint(20), attack: attack()})

	var wrong atomic.Int64
	var firstWrong atomic.Value
	report := func(format string, args ...any) {
		wrong.Add(1)
		firstWrong.CompareAndSwap(nil, fmt.Sprintf(format, args...))
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var validations atomic.Int64
	const workers, maxIter = 50, 2000
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < maxIter && !stop.Load(); i++ {
				s := st.Load()
				var tok string
				kind := i % 3
				switch kind {
				case 0:
					tok = s.current[rng.IntN(len(s.current))]
				case 1:
					if len(s.dead) == 0 {
						continue
					}
					tok = s.dead[rng.IntN(len(s.dead))]
				case 2:
					tok = s.attack[rng.IntN(len(s.attack))]
				}
				_, err := h.v.ValidateToken(context.Background(), tok)
				validations.Add(1)
				// A removed key's token is refused: 401 once a fetch
				// confirmed its kid is gone, or 503 if, on a starved
				// machine, no fetch completed within KeyWait. Never
				// accepted.
				gone := errors.Is(err, middleware.ErrUnknownKey) || errors.Is(err, middleware.ErrKeysUnavailable)
				switch {
				case kind == 0 && err != nil && !gone:
					report("current token: %v", err)
				case kind == 1 && !gone:
					report("token of a removed key: %v", err)
				case kind == 2 && !errors.Is(err, middleware.ErrInvalidSignature) && !gone:
					report("attacker token: %v", err)
				}
			}
		}()
	}

	const rounds = 6
	for round := range rounds {
		prev := st.Load()
		old := kit.KeyID(alg)
		// Remove first, then publish the new key: a JWKS that lists the
		// new key no longer lists the old one.
		kit.RemoveKey(old)
		kit.RotateKey(alg)
		fresh := mint(20)
		if !hgPoll(10*time.Second, func() bool {
			_, err := h.v.ValidateToken(context.Background(), fresh[0])
			return err == nil
		}) {
			t.Fatalf("round %d: the new key was never accepted", round)
		}
		dead := append(append([]string{}, prev.dead...), prev.current...)
		st.Store(&state{current: fresh, dead: dead, attack: attack()})
		for _, tok := range prev.current {
			if _, err := h.v.ValidateToken(context.Background(), tok); !errors.Is(err, middleware.ErrUnknownKey) && !errors.Is(err, middleware.ErrKeysUnavailable) {
				report("round %d: token of removed key %s: %v", round, old, err)
			}
		}
	}
	// Let the workers see the last state for a while, bounded.
	hgPoll(2*time.Second, func() bool { return validations.Load() > workers*50 })
	stop.Store(true)
	wg.Wait()
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d wrong answers, first: %v", n, firstWrong.Load())
	}
	t.Logf("%d validations across %d rotations", validations.Load(), rounds)

	cancel()
	kit.Close()
	goleak.VerifyNone(t, ignore)
}
