package middleware

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"hash/maphash"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
)

// This file owns one issuer's keys: the key set it holds (one immutable
// snapshot, swapped atomically), the goroutine that fetches and refreshes
// it, its readiness, and the budget of fetches that requests may cause.
// It knows nothing of HTTP requests or tokens beyond a kid and an alg.

// Bounds on the work one key set, and one token, can cause. They are part of
// the documented behaviour (SECURITY.md).
const (
	// MaxJWKSKeys is the largest number of keys used from one JWK Set; the
	// keys after it are ignored.
	MaxJWKSKeys = 100
	// MaxRSAKeyBits is the largest RSA modulus accepted in a JWK Set; larger
	// keys are ignored. RSA verification costs grow with the square of the
	// modulus size.
	MaxRSAKeyBits = 8192
	// MaxCandidateKeys is the largest number of keys a token's signature is
	// tried against: the keys published under its kid, or for a token
	// without kid the first keys of the set that fit its algorithm.
	MaxCandidateKeys = 4
	// MaxKeyWaiters is the most requests of one issuer held at once waiting
	// for a JWKS fetch because their kid is not among the keys held. A
	// request beyond it is answered 503 with Retry-After at once, whatever
	// the rate of forged kids. (Before an issuer's first keys are obtained,
	// every request of it waits for them, within KeyWait: none could be
	// checked otherwise.)
	MaxKeyWaiters = 256
	// MaxKeyFetchBackoff bounds the spacing of JWKS fetches asked for by
	// unknown kids, as a multiple of MinRefreshInterval: while such fetches
	// keep finding no new key, each doubles the interval before the next,
	// up to this multiple. A fetch that finds a new key, or a kid seen
	// twice before a fetch could look for it (as the tokens of a key just
	// published are), brings the interval back to MinRefreshInterval.
	MaxKeyFetchBackoff = 1 << maxBackoffShift // 8
	// maxRetryInterval bounds the wait before a failed fetch is retried, so
	// that keys are picked up again soon after an issuer comes back.
	maxRetryInterval = 2 * time.Second
	// maxAbsentKids bounds the kids remembered as absent from the keys held.
	maxAbsentKids = 1024
	// minAbsentTTL is the least time a kid a fetch found absent is refused
	// at once (see knownAbsent); MinRefreshInterval if longer.
	minAbsentTTL = time.Second
	// maxPendingKids bounds the unknown kids remembered between two fetches
	// to tell a kid seen twice (see ask).
	maxPendingKids = 4096
)

// verifyKey is one public key of an issuer's JWK Set.
type verifyKey struct {
	kid string // "" for a JWK without kid
	alg string // the JWK "alg", "" if none
	pub crypto.PublicKey
	// issuer is the JWK's "issuer" member, "" if none: the issuer (or
	// template) the key signs for, as in Entra ID's key sets (issuers.go).
	issuer string
}

// fits reports whether k may verify a signature made with alg: the JWK's
// "alg", if any, is alg, and the key's type and size fit alg.
func (k *verifyKey) fits(alg string) bool {
	return (k.alg == "" || k.alg == alg) && keyFits(alg, k.pub)
}

// keySet is a snapshot of an issuer's usable keys. It is never changed once
// built: a refresh builds a new one.
type keySet struct {
	keys  []*verifyKey            // in JWK Set order
	byKid map[string][]*verifyKey // keys that share a kid stay together
}

// candidates is a short list of keys, returned without allocating.
type candidates struct {
	n    int
	keys [MaxCandidateKeys]*verifyKey
}

func (c *candidates) add(k *verifyKey) bool {
	if c.n == len(c.keys) {
		return false
	}
	c.keys[c.n] = k
	c.n++
	return true
}

// candidates returns the keys that may verify a token signed with alg. A
// token with a kid gets the keys published under it that fit alg (found is
// false when no key has that kid); a token without kid gets the first keys
// of the set that fit alg. Either list has at most MaxCandidateKeys keys.
func (s *keySet) candidates(kid string, hasKid bool, alg string) (c candidates, found bool) {
	list := s.keys
	if hasKid {
		var ok bool
		if list, ok = s.byKid[kid]; !ok {
			return c, false
		}
	}
	for _, k := range list {
		if k.fits(alg) && !c.add(k) {
			break
		}
	}
	return c, true
}

// holds reports whether k is still one of the keys of s. Keys that are
// unchanged across refreshes keep their identity (see newKeySet), so a
// replaced key under the same kid is not held.
func (s *keySet) holds(k *verifyKey) bool {
	for _, h := range s.byKid[k.kid] {
		if h == k {
			return true
		}
	}
	return false
}

// hasNewKey reports whether s holds a key that prev does not.
func (s *keySet) hasNewKey(prev *keySet) bool {
	if s == prev {
		return false
	}
	if prev == nil {
		return len(s.keys) > 0
	}
	for _, k := range s.keys {
		if !prev.holds(k) {
			return true
		}
	}
	return false
}

// newKeySet builds a key set of keys, reusing the keys of prev that are
// unchanged (same kid, alg and public key). When nothing changed, it
// returns prev itself.
func newKeySet(keys []*verifyKey, prev *keySet) *keySet {
	s := &keySet{keys: make([]*verifyKey, 0, len(keys)), byKid: make(map[string][]*verifyKey, len(keys))}
	same := prev != nil && len(prev.keys) == len(keys)
	for i, k := range keys {
		if prev != nil {
			for _, old := range prev.byKid[k.kid] {
				if old.alg == k.alg && old.issuer == k.issuer && samePublicKey(old.pub, k.pub) {
					k = old
					break
				}
			}
		}
		same = same && prev.keys[i] == k
		s.keys = append(s.keys, k)
		s.byKid[k.kid] = append(s.byKid[k.kid], k)
	}
	if same {
		return prev
	}
	return s
}

func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// fetchRound is one JWKS fetch that requests can wait for.
type fetchRound struct {
	done  chan struct{} // closed when the fetch has ended
	err   error         // why it failed, nil on success; set before done is closed
	asked bool          // asked for by requests with an unknown kid (spends the budget)
	start time.Time     // when the fetch started; zero until then
}

func newRound() *fetchRound { return &fetchRound{done: make(chan struct{})} }

// issuerKeys holds the keys of one trusted issuer and fetches them. Each
// issuer has its own refresh goroutine, so a stalled issuer holds up no
// other.
type issuerKeys struct {
	issuer     string
	resolved   bool   // of Config.ResolveIssuer: not named in KeyFetchEvents
	configured string // JWKS URL from the config, empty to discover
	cfg        *Config
	client     *http.Client
	set        atomic.Pointer[keySet] // nil until keys are first obtained
	onReady    func()                 // called when keys are first obtained
	onStop     func()                 // called when the refresh goroutine ends
	wake       chan struct{}          // tells the refresh goroutine a fetch is asked for

	mu          sync.Mutex
	stopped     bool
	jwksURL     string      // configured or discovered
	inflight    *fetchRound // the fetch running now, if any
	next        *fetchRound // the fetch requests wait for, if one is asked for
	nextAt      time.Time   // when next may start
	lastStart   time.Time   // start of the last fetch
	lastAsked   time.Time   // start of the last fetch asked for by requests
	nextRefresh time.Time   // when the next periodic fetch, or retry, is due
	failures    int
	lastErr     error // why the last fetch failed; nil after a success

	// Unknown kids. The keys are hashes of kids (seed), so that long kids
	// cost no memory.
	seed    maphash.Seed
	absent  map[uint64]absentKid // kids a fetch found absent
	pending map[uint64]struct{}  // kids asked for since the last fetch started
	looking map[uint64]struct{}  // kids asked for before the last fetch started: it looks for them
	idle    int                  // asked fetches in a row that found no new key (the backoff)
	waiters int                  // requests waiting for a fetch for an unknown kid (at most MaxKeyWaiters)
}

// absentKid is a kid a fetch found absent: refused at once while set is
// still the keys held, until until (zero: for as long).
type absentKid struct {
	set   *keySet
	until time.Time
}

func newIssuerKeys(cfg *Config, client *http.Client, is Issuer) *issuerKeys {
	return &issuerKeys{
		issuer:     is.Issuer,
		configured: is.JWKSURL,
		jwksURL:    is.JWKSURL, // empty: discover on the first fetch
		cfg:        cfg,
		client:     client,
		wake:       make(chan struct{}, 1),
		seed:       maphash.MakeSeed(),
	}
}

// run is the issuer's refresh goroutine: a fetch at once, then one when a
// periodic refresh or a retry is due or requests ask for one. It ends when
// ctx is done.
func (ik *issuerKeys) run(ctx context.Context) {
	defer ik.stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-ik.wake:
		}
		if wait := ik.due(time.Now()); wait > 0 {
			timer.Reset(wait)
			continue
		}
		ik.fetch(ctx)
		timer.Reset(ik.due(time.Now()))
	}
}

// due returns how long until the next fetch is due: the periodic refresh
// or retry, or a fetch asked for by requests (no sooner than the budget
// allows, see await), whichever comes first.
func (ik *issuerKeys) due(now time.Time) time.Duration {
	ik.mu.Lock()
	defer ik.mu.Unlock()
	if ik.lastStart.IsZero() {
		return 0
	}
	at := ik.nextRefresh
	if ik.next != nil && ik.nextAt.Before(at) {
		at = ik.nextAt
	}
	return at.Sub(now)
}

// fetch runs one discovery (if needed) and JWKS fetch, and makes its keys
// the issuer's keys if it found any usable.
func (ik *issuerKeys) fetch(ctx context.Context) {
	r, jwksURL := ik.begin(time.Now())
	start := time.Now()
	keys, err := ik.load(ctx, jwksURL)
	if err != nil && ctx.Err() == nil {
		// Logged before the waiting requests are released, so that the
		// log tells why they were refused by the time they are.
		ik.log(ctx, slog.LevelWarn, "bearerguard: fetching issuer keys failed", "error", err)
	}
	if ik.finish(r, keys, err, time.Now()) && ik.onReady != nil {
		ik.onReady()
	}
	ik.observeKeyFetch(ctx, start, err)
}

// begin starts a fetch at now: the one requests asked for, if any. It
// returns the round and the JWKS URL ("" to discover).
func (ik *issuerKeys) begin(now time.Time) (*fetchRound, string) {
	ik.mu.Lock()
	defer ik.mu.Unlock()
	r := ik.next
	if r == nil {
		r = newRound()
	} else if !ik.lastStart.IsZero() {
		ik.lastAsked = now // the start-up fetch spends no budget
		r.asked = true
	}
	ik.next = nil
	// This fetch looks for the kids asked for so far.
	ik.looking, ik.pending = ik.pending, nil
	ik.inflight = r
	ik.lastStart = now
	r.start = now
	return r, ik.jwksURL
}

// finish ends the fetch r at end with the keys it found, or why it failed,
// and releases the requests waiting for it. It reports whether these are
// the issuer's first keys.
//
// Fetches asked for by unknown kids that find no new key space out the
// next ones (askedInterval); one that finds a new key brings the interval
// back to MinRefreshInterval at once. A failed fetch changes neither: the
// issuer may come back any moment.
func (ik *issuerKeys) finish(r *fetchRound, keys []*verifyKey, err error, end time.Time) (first bool) {
	ik.mu.Lock()
	defer ik.mu.Unlock()
	prev := ik.set.Load()
	if err != nil {
		ik.failures++
		ik.lastErr = err
		ik.nextRefresh = end.Add(retryDelay(ik.failures, ik.cfg.minRefreshInterval()))
		ik.jwksURL = ik.configured // discover again next time
	} else {
		ik.failures = 0
		ik.lastErr = nil
		ik.nextRefresh = end.Add(ik.cfg.refreshInterval())
		set := newKeySet(keys, prev)
		ik.set.Store(set)
		ik.markRemoved(prev, set)
		switch {
		case set.hasNewKey(prev):
			ik.idle = 0
		case r.asked && ik.idle < maxBackoffShift:
			ik.idle++
		}
	}
	r.err = err
	close(r.done)
	ik.inflight = nil
	return err == nil && prev == nil
}

// stop releases the requests waiting for a fetch that will not happen.
func (ik *issuerKeys) stop() {
	ik.mu.Lock()
	ik.stopped = true
	if r := ik.next; r != nil {
		r.err = ErrStopped
		close(r.done)
		ik.next = nil
	}
	ik.mu.Unlock()
	if ik.onStop != nil {
		ik.onStop()
	}
}

// retryDelay is the wait before the next attempt after n failed fetches:
// MinRefreshInterval doubled per failure, at most maxRetryInterval (or
// MinRefreshInterval, if that is longer).
func retryDelay(failures int, minInterval time.Duration) time.Duration {
	ceiling := max(maxRetryInterval, minInterval)
	d := minInterval
	for i := 1; i < failures && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

var (
	errFetchWait      = errors.New("keys not fetched within KeyWait")
	errFetchBudget    = errors.New("no JWKS fetch allowed now (MinRefreshInterval)")
	errTooManyWaiters = errors.New("MaxKeyWaiters requests already wait for keys")
	errNotJWKSet      = errors.New(`JWKS document has no "keys" array`)
	errNoUsableKeys   = errors.New("JWKS has no usable signature key")
)

// candidatesFor returns the keys that may verify a token with the given kid
// and alg. When the issuer's keys are not held yet, it waits for them, at
// most KeyWait and as long as ctx allows. A kid that is not among the keys
// held is looked up (see lookup). When the keys cannot be obtained, or the
// kid cannot be looked for now, the answer is 503 (ErrKeysUnavailable) with
// Retry-After: never 401 for a token whose key may well exist.
func (ik *issuerKeys) candidatesFor(ctx context.Context, kid string, hasKid bool, alg string) (candidates, error) {
	set := ik.set.Load()
	if set == nil {
		var err error
		if set, err = ik.awaitFirst(ctx); err != nil {
			return candidates{}, err
		}
	}
	if c, found := set.candidates(kid, hasKid, alg); found {
		return c, nil
	}
	if set, err := ik.lookup(ctx, kid); err != nil {
		return candidates{}, err
	} else if c, found := set.candidates(kid, hasKid, alg); found {
		return c, nil
	}
	return candidates{}, invalidToken(ErrUnknownKey, nil)
}

// maxBackoffShift is log2(MaxKeyFetchBackoff).
const maxBackoffShift = 3

// askedInterval is the least time between the starts of two fetches asked
// for by unknown kids: MinRefreshInterval, doubled for each such fetch in a
// row that found no new key, up to MaxKeyFetchBackoff times.
func (ik *issuerKeys) askedInterval() time.Duration {
	return ik.cfg.minRefreshInterval() << min(ik.idle, maxBackoffShift)
}

// absentTTL is how long a kid a fetch found absent is refused at once.
func (ik *issuerKeys) absentTTL() time.Duration {
	return max(ik.cfg.minRefreshInterval(), minAbsentTTL)
}

// lookup looks for kid, which the keys held lack, and returns the keys held
// once a fetch that looked for it has ended. A forged kid must cost little
// and a key published a moment ago must be found soon, so:
//
//   - a kid that a fetch found absent is refused (401) at once for a
//     while (absentTTL), as long as the keys held stay the same;
//   - otherwise the request waits only for a fetch that starts now (the
//     budget allows one), or for the fetch in flight if that fetch looks
//     for the kid (it was seen before the fetch started) or the kid was
//     seen before (the tokens of a new key keep coming; a forged-kid
//     stream names a new kid each time); and only while fewer than
//     MaxKeyWaiters requests of the issuer wait; within KeyWait and its
//     context;
//   - else it is answered 503 at once, with Retry-After until a fetch is
//     allowed for it; the next fetch is asked for and will look for it.
//
// A kid not found by a fetch that started after the kid was first seen is
// absent: 401 (an issuer publishes a key before it signs with it). Not
// found by a fetch that started before, it may be a key published since:
// the request waits for the next fetch if that may start now, else 503.
func (ik *issuerKeys) lookup(ctx context.Context, kid string) (*keySet, error) {
	h := maphash.String(ik.seed, kid)
	came := time.Now()
	deadline := came.Add(ik.cfg.keyWait())
	ik.mu.Lock()
	defer ik.mu.Unlock()
	if ik.knownAbsent(h, came) {
		return ik.set.Load(), nil // the caller refuses it
	}
	again := false
	for {
		if ik.stopped {
			return nil, unavailable(ik.cfg.keyWait(), ErrStopped)
		}
		now := time.Now()
		_, looked := ik.looking[h]
		allowed, seen := ik.ask(h, now, again)
		again = true
		var r *fetchRound
		fresh := true // r looks for the kid
		switch {
		case allowed:
			r = ik.next
		case ik.inflight != nil && (looked || seen):
			r, fresh = ik.inflight, looked || !ik.inflight.start.Before(came)
		default:
			// Retry-After: when a fetch is allowed for this kid seen
			// again (a second sighting ends any backoff).
			retry := min(ik.nextAt.Sub(now), ik.lastAsked.Add(ik.cfg.minRefreshInterval()).Sub(now))
			return nil, unavailable(retry, errFetchBudget)
		}
		if ik.waiters >= MaxKeyWaiters {
			// The kid is looked for all the same, by r or the next fetch.
			return nil, unavailable(ik.cfg.minRefreshInterval(), errTooManyWaiters)
		}
		ik.waiters++
		ik.mu.Unlock()
		err := waitRound(ctx, r, deadline.Sub(now))
		ik.mu.Lock()
		ik.waiters--
		if err != nil {
			return nil, unavailable(ik.cfg.minRefreshInterval(), err)
		}
		set := ik.set.Load()
		if _, found := set.byKid[kid]; found {
			return set, nil
		}
		if fresh {
			ik.markAbsent(h, set, time.Now())
			return set, nil
		}
	}
}

// ask asks for a fetch that looks for the kid hashed h: the next fetch is
// asked for if it is not already, to start when the budget allows. It
// reports whether that fetch may start now, and whether the kid was asked
// for before since the last fetch started (by another request: again says
// this request asks a second time). The caller holds ik.mu.
//
// The budget: fetches asked for by requests start at least askedInterval
// apart. The start-up, periodic and retry fetches do not spend it, so a key
// published just after one of them is fetched for at first sight. A kid
// seen twice before a fetch could look for it is likely a key just
// published (its tokens keep coming, where a forged-kid stream names a new
// kid each time): the backoff ends. So it does when the kids cannot all be
// remembered (maxPendingKids).
func (ik *issuerKeys) ask(h uint64, now time.Time, again bool) (allowed, seen bool) {
	if !again {
		_, seen = ik.pending[h]
		switch {
		case seen || len(ik.pending) >= maxPendingKids:
			ik.idle = 0
		default:
			if ik.pending == nil {
				ik.pending = make(map[uint64]struct{})
			}
			ik.pending[h] = struct{}{}
		}
	}
	earliest := now
	if at := ik.lastAsked.Add(ik.askedInterval()); !ik.lastAsked.IsZero() && at.After(now) {
		earliest = at
	}
	switch {
	case ik.next == nil:
		ik.next = newRound()
		ik.nextAt = earliest
	case earliest.Before(ik.nextAt):
		ik.nextAt = earliest // the backoff ended
	default:
		return !now.Before(ik.nextAt), seen
	}
	select {
	case ik.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
	return !now.Before(ik.nextAt), seen
}

// knownAbsent reports whether the kid hashed h was found absent from the
// keys held, less than absentTTL before now. Called with ik.mu held.
func (ik *issuerKeys) knownAbsent(h uint64, now time.Time) bool {
	a, ok := ik.absent[h]
	return ok && a.set == ik.set.Load() && (a.until.IsZero() || now.Before(a.until))
}

// markRemoved remembers the kids of prev that set no longer has as absent
// for as long as set is the keys held: the issuer withdrew them, so their
// tokens are refused (401) at once, not after a fetch. Called with ik.mu
// held.
func (ik *issuerKeys) markRemoved(prev, set *keySet) {
	if prev == nil || prev == set {
		return
	}
	for kid := range prev.byKid {
		if _, kept := set.byKid[kid]; !kept {
			ik.remember(maphash.String(ik.seed, kid), absentKid{set: set})
		}
	}
}

// markAbsent remembers that a fetch that started after the kid hashed h was
// first seen found it absent from set: it is refused at once (401) for
// absentTTL while set is the keys held. Not longer: a key may be published
// under it later. Called with ik.mu held.
func (ik *issuerKeys) markAbsent(h uint64, set *keySet, now time.Time) {
	ik.remember(h, absentKid{set: set, until: now.Add(ik.absentTTL())})
}

func (ik *issuerKeys) remember(h uint64, a absentKid) {
	if ik.absent == nil || len(ik.absent) >= maxAbsentKids {
		ik.absent = make(map[uint64]absentKid) // forget the old ones: they cost a lookup, not a fetch each
	}
	ik.absent[h] = a
}

// awaitFirst waits for the issuer's first keys: for the fetch in flight, or
// the next one.
func (ik *issuerKeys) awaitFirst(ctx context.Context) (*keySet, error) {
	wait := ik.cfg.keyWait()
	ik.mu.Lock()
	if ik.stopped {
		ik.mu.Unlock()
		return nil, unavailable(wait, ErrStopped)
	}
	if set := ik.set.Load(); set != nil {
		// The first keys came since the caller looked.
		ik.mu.Unlock()
		return set, nil
	}
	r := ik.inflight
	if r == nil {
		if ik.next == nil {
			ik.next = newRound()
			ik.nextAt = time.Now()
			select {
			case ik.wake <- struct{}{}:
			default:
			}
		}
		r = ik.next
	}
	ik.mu.Unlock()
	if err := waitRound(ctx, r, wait); err != nil {
		return nil, unavailable(ik.cfg.minRefreshInterval(), err)
	}
	return ik.set.Load(), nil
}

// waitRound waits for r to end, at most wait and as long as ctx allows, and
// returns why the keys could not be obtained, or nil.
func waitRound(ctx context.Context, r *fetchRound, wait time.Duration) error {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-r.done:
		return r.err
	case <-t.C:
		return errFetchWait
	case <-ctx.Done():
		return ctx.Err()
	}
}

// status returns nil when the issuer's keys are held, else why not: a
// *KeysError.
func (ik *issuerKeys) status() error {
	if ik.set.Load() != nil {
		return nil
	}
	ik.mu.Lock()
	defer ik.mu.Unlock()
	if ik.lastErr != nil {
		return ik.lastErr
	}
	return &KeysError{Issuer: ik.issuer, reason: ErrKeysNotFetchedYet}
}

func (ik *issuerKeys) log(ctx context.Context, level slog.Level, msg string, args ...any) {
	if l := ik.cfg.Logger; l != nil {
		l.Log(ctx, level, msg, append([]any{"issuer", ik.issuer}, args...)...)
	}
}

// load discovers the JWKS URL if needed, fetches the JWK Set and returns its
// usable keys. Errors are *KeysError.
func (ik *issuerKeys) load(ctx context.Context, jwksURL string) ([]*verifyKey, error) {
	keys, err := ik.loadFrom(ctx, jwksURL)
	if ke, ok := err.(*KeysError); ok {
		ke.Issuer = ik.issuer
	}
	return keys, err
}

func (ik *issuerKeys) loadFrom(ctx context.Context, jwksURL string) ([]*verifyKey, error) {
	if jwksURL == "" {
		u, err := discover(ctx, ik.client, ik.issuer, ik.cfg.InsecureAllowHTTPIssuer)
		if err != nil {
			return nil, err
		}
		jwksURL = u
		ik.mu.Lock()
		ik.jwksURL = u
		ik.mu.Unlock()
	}
	// Each key is decoded on its own, so that one malformed key (a string
	// "x5c", a numeric "kid") is skipped without losing the others.
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	status, err := getJSON(ctx, ik.client, jwksURL, MaxJWKSSize, &set)
	if err != nil {
		return nil, fetchError(ErrJWKSUnusable, jwksURL, status, err)
	}
	if set.Keys == nil {
		// Not a JWK Set (RFC 7517 §5: "keys" is required), such as an
		// error document served with status 200: keep the keys held.
		return nil, fetchError(ErrJWKSUnusable, jwksURL, status, errNotJWKSet)
	}
	keys := ik.usableKeys(ctx, set.Keys)
	if len(keys) == 0 {
		// An empty or unusable set is far more often an issuer glitch
		// than a deliberate withdrawal of every key: keep the keys held,
		// as for any failed fetch.
		return nil, fetchError(ErrJWKSUnusable, jwksURL, status, errNoUsableKeys)
	}
	return keys, nil
}

// usableKeys decodes the keys of a JWK Set with jwkset and keeps the public
// signature keys of an asymmetric type, at most MaxJWKSKeys of them. Keys
// may share a kid (RFC 7517 §4.5: a signature and an encryption key often
// do): the token's algorithm picks among them.
func (ik *issuerKeys) usableKeys(ctx context.Context, raw []json.RawMessage) []*verifyKey {
	var keys []*verifyKey
	for i, r := range raw {
		var m jwkset.JWKMarshal
		if err := json.Unmarshal(r, &m); err != nil {
			ik.log(ctx, slog.LevelWarn, "bearerguard: JWKS key ignored", "index", i, "reason", "malformed key")
			continue
		}
		skip := ""
		switch {
		case m.KTY == jwkset.KtyOct:
			skip = "symmetric key"
		case m.USE != "" && m.USE != jwkset.UseSig:
			skip = "not a signature key"
		case m.KTY != jwkset.KtyRSA && m.KTY != jwkset.KtyEC && m.KTY != jwkset.KtyOKP:
			skip = "unsupported key type"
		case len(keys) == MaxJWKSKeys:
			skip = "more than MaxJWKSKeys keys"
		}
		if skip == "" {
			// Public parameters only: private material in a JWKS is ignored.
			jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
			switch {
			case err != nil:
				skip = "invalid key"
			default:
				pub := publicKey(jwk)
				if k, ok := pub.(*rsa.PublicKey); ok && k.N.BitLen() > MaxRSAKeyBits {
					skip = "RSA key larger than MaxRSAKeyBits"
					break
				}
				iss, ok := keyIssuer(r)
				if !ok {
					skip = "issuer member not a string"
					break
				}
				keys = append(keys, &verifyKey{kid: m.KID, alg: m.ALG.String(), pub: pub, issuer: iss})
				continue
			}
		}
		ik.log(ctx, slog.LevelWarn, "bearerguard: JWKS key ignored", "index", i, "kid", m.KID, "reason", skip)
	}
	return keys
}

// publicKey returns the public key of jwk.
func publicKey(jwk jwkset.JWK) crypto.PublicKey {
	key := jwk.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		return pk.Public()
	}
	return key
}

// keyFits reports whether key may verify alg: RSA keys of at least 2048
// bits for RS* and PS*, ECDSA keys on the curve of ES*, Ed25519 for EdDSA.
// Symmetric keys never fit.
func keyFits(alg string, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")) && k.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}
