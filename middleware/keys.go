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
	// maxRetryInterval bounds the wait before a failed fetch is retried, so
	// that keys are picked up again soon after an issuer comes back.
	maxRetryInterval = 2 * time.Second
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
	done chan struct{} // closed when the fetch has ended
	err  error         // why it failed, nil on success; set before done is closed
}

func newRound() *fetchRound { return &fetchRound{done: make(chan struct{})} }

// issuerKeys holds the keys of one trusted issuer and fetches them. Each
// issuer has its own refresh goroutine, so a stalled issuer holds up no
// other.
type issuerKeys struct {
	issuer     string
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
	lastErr     error              // why the last fetch failed; nil after a success
	absent      map[string]*keySet // kids a fetch found absent, with the keys it found
}

func newIssuerKeys(cfg *Config, client *http.Client, is Issuer) *issuerKeys {
	return &issuerKeys{
		issuer:     is.Issuer,
		configured: is.JWKSURL,
		jwksURL:    is.JWKSURL, // empty: discover on the first fetch
		cfg:        cfg,
		client:     client,
		wake:       make(chan struct{}, 1),
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
	ik.mu.Lock()
	r := ik.next
	if r == nil {
		r = newRound()
	} else if !ik.lastStart.IsZero() {
		ik.lastAsked = time.Now() // the start-up fetch spends no budget
	}
	ik.next = nil
	ik.inflight = r
	ik.lastStart = time.Now()
	jwksURL := ik.jwksURL
	ik.mu.Unlock()

	start := time.Now()
	keys, err := ik.load(ctx, jwksURL)
	if err != nil && ctx.Err() == nil {
		// Logged before the waiting requests are released, so that the
		// log tells why they were refused by the time they are.
		ik.log(ctx, slog.LevelWarn, "bearerguard: fetching issuer keys failed", "error", err)
	}

	ik.mu.Lock()
	end := time.Now()
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
		ik.set.Store(newKeySet(keys, prev))
	}
	r.err = err
	close(r.done)
	ik.inflight = nil
	ik.mu.Unlock()

	if err == nil && prev == nil && ik.onReady != nil {
		ik.onReady()
	}
	ik.observeKeyFetch(ctx, start, err)
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
	errFetchWait    = errors.New("keys not fetched within KeyWait")
	errFetchBudget  = errors.New("no JWKS fetch allowed within KeyWait (MinRefreshInterval)")
	errNotJWKSet    = errors.New(`JWKS document has no "keys" array`)
	errNoUsableKeys = errors.New("JWKS has no usable signature key")
)

// candidatesFor returns the keys that may verify a token with the given kid
// and alg. When the issuer's keys are not held yet, it waits for them; when
// kid is unknown, for a fetch that starts after this call. It waits at most
// KeyWait and as long as ctx allows, and answers 503 (ErrKeysUnavailable)
// when the keys could not be obtained in that time: never 401 for a token
// whose key may well exist.
func (ik *issuerKeys) candidatesFor(ctx context.Context, kid string, hasKid bool, alg string) (candidates, error) {
	set := ik.set.Load()
	if set != nil {
		if c, found := set.candidates(kid, hasKid, alg); found {
			return c, nil
		}
		if ik.knownAbsent(kid, set) {
			return candidates{}, invalidToken(ErrUnknownKey, nil)
		}
	}
	set, err := ik.await(ctx, set == nil)
	if err != nil {
		return candidates{}, err
	}
	c, found := set.candidates(kid, hasKid, alg)
	if !found {
		ik.markAbsent(kid, set)
		return c, invalidToken(ErrUnknownKey, nil)
	}
	return c, nil
}

// maxAbsentKids bounds the kids remembered as absent from the keys held.
const maxAbsentKids = 1024

// knownAbsent reports whether a fetch that started after kid was first
// seen found it absent from set, the keys still held: the kid is refused
// (401) at once until the keys change, instead of waiting for another fetch.
func (ik *issuerKeys) knownAbsent(kid string, set *keySet) bool {
	ik.mu.Lock()
	defer ik.mu.Unlock()
	return ik.absent[kid] == set
}

func (ik *issuerKeys) markAbsent(kid string, set *keySet) {
	ik.mu.Lock()
	defer ik.mu.Unlock()
	if ik.absent == nil || len(ik.absent) >= maxAbsentKids {
		ik.absent = make(map[string]*keySet) // forget the old ones: they cost a wait, not a fetch each
	}
	ik.absent[kid] = set
}

// await waits for a fetch and returns the keys held after it. With
// anyFetch, a fetch in flight will do (no keys are held yet); otherwise the
// fetch must start after this call, so that it sees a key published before
// the request came.
func (ik *issuerKeys) await(ctx context.Context, anyFetch bool) (*keySet, error) {
	now := time.Now()
	wait := ik.cfg.keyWait()
	ik.mu.Lock()
	if ik.stopped {
		ik.mu.Unlock()
		return nil, unavailable(wait, ErrStopped)
	}
	if set := ik.set.Load(); anyFetch && set != nil {
		// The first keys came since the caller looked: no fetch needed.
		ik.mu.Unlock()
		return set, nil
	}
	r := ik.inflight
	if !anyFetch || r == nil {
		if ik.next == nil {
			ik.next = newRound()
			// The fetch budget: fetches asked for by requests start at
			// least MinRefreshInterval apart. The start-up, periodic and
			// retry fetches do not spend it, so a key published just
			// after one of them is fetched for at first sight.
			ik.nextAt = now
			if earliest := ik.lastAsked.Add(ik.cfg.minRefreshInterval()); !ik.lastAsked.IsZero() && now.Before(earliest) {
				ik.nextAt = earliest
			}
			select {
			case ik.wake <- struct{}{}:
			default: // a wake-up is pending already
			}
		}
		r = ik.next
		if start := ik.nextAt.Sub(now); start >= wait {
			// The fetch budget allows no fetch within KeyWait. The fetch
			// stays asked for, so the keys are found when it runs.
			ik.mu.Unlock()
			return nil, unavailable(start, errFetchBudget)
		}
	}
	ik.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C:
		return nil, unavailable(ik.cfg.minRefreshInterval(), errFetchWait)
	case <-ctx.Done():
		return nil, unavailable(ik.cfg.minRefreshInterval(), ctx.Err())
	}
	if r.err != nil {
		return nil, unavailable(ik.cfg.minRefreshInterval(), r.err)
	}
	return ik.set.Load(), nil
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
