package middleware

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// issuerKeys holds the signing keys of one trusted issuer, in a jwkset
// storage read through keyfunc.
type issuerKeys struct {
	issuer     string
	configured string // JWKS URL from the config, empty to discover
	s          *settings
	wake       chan<- struct{} // wakes the refresh goroutine to look at queued
	stopped    <-chan struct{} // closed when the refresh goroutine ends
	store      jwkset.Storage  // current keys
	kf         keyfunc.Keyfunc
	byKid      atomic.Pointer[map[string]kidKey] // store's keys by kid, for keyFor

	loaded atomic.Bool

	mu          sync.Mutex
	jwksURL     string        // configured or discovered
	fetching    bool          // a fetch is in flight or queued
	queued      bool          // a fetch was requested from the refresh goroutine
	done        chan struct{} // closed when the fetch in flight ends
	nextAttempt time.Time     // earliest start of a fetch asked for by a request
	nextRefresh time.Time     // when the refresh goroutine fetches next
	failures    int
	kids        map[string]bool
}

func newIssuerKeys(ctx context.Context, s *settings, is Issuer, wake chan<- struct{}) (*issuerKeys, error) {
	ik := &issuerKeys{
		wake:       wake,
		stopped:    ctx.Done(),
		issuer:     is.Issuer,
		configured: is.JWKSURL,
		jwksURL:    is.JWKSURL, // empty: discover on the first fetch
		s:          s,
		store:      jwkset.NewMemoryStorage(),
		done:       make(chan struct{}),
		fetching:   true, // the refresh goroutine starts with a fetch
	}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: keyReader{Storage: ik.store, ik: ik}})
	if err != nil {
		return nil, err
	}
	ik.kf = kf
	return ik, nil
}

// keyReader is the jwkset.Storage handed to keyfunc: it reads the issuer's
// current keys, and a read of an unknown kid waits, within bounds, for a
// rate-limited JWKS refresh. Writes are refused: keys come from the JWKS only.
type keyReader struct {
	jwkset.Storage
	ik *issuerKeys
}

var errReadOnly = errors.New("read-only key storage")

func (k keyReader) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	jwk, err := k.Storage.KeyRead(ctx, kid)
	if err == nil || !errors.Is(err, jwkset.ErrKeyNotFound) {
		return jwk, err
	}
	if err := k.ik.awaitKeys(ctx, true, kid); err != nil {
		return jwkset.JWK{}, err
	}
	return k.Storage.KeyRead(ctx, kid)
}

func (k keyReader) KeyDelete(context.Context, string) (bool, error) { return false, errReadOnly }

func (k keyReader) KeyReplaceAll(context.Context, []jwkset.JWK) error { return errReadOnly }

func (k keyReader) KeyWrite(context.Context, jwkset.JWK) error { return errReadOnly }

// errNotLoaded and errKidStillUnknown are internal causes.
var errNotLoaded = errors.New("keys not obtained yet")

var (
	errNotJWKSet    = errors.New(`JWKS document has no "keys" array`)
	errNoUsableKeys = errors.New("JWKS has no usable signature key")
)

// awaitKeys makes sure a fetch happens when keys are missing, and waits for
// it within KeyWait and ctx. unknownKid is true when a kid was not found
// among loaded keys: a fetch is then started only if the rate limit allows.
// It returns an *Error of category ErrKeysUnavailable when no keys were ever
// obtained, nil otherwise (the caller then reads the store again).
func (ik *issuerKeys) awaitKeys(ctx context.Context, unknownKid bool, kid string) error {
	if ik.loaded.Load() && !unknownKid {
		return nil
	}
	now := time.Now()
	ik.mu.Lock()
	if unknownKid && !ik.fetching {
		// A fetch may have ended since the caller missed kid: the store
		// only changes under ik.mu. Without this, requests racing the
		// first fetch would each start another one.
		if _, err := ik.store.KeyRead(ctx, kid); err == nil {
			ik.mu.Unlock()
			return nil
		}
	}
	if !ik.fetching {
		if now.Before(ik.nextAttempt) {
			retry := ik.nextAttempt.Sub(now)
			ik.mu.Unlock()
			if ik.loaded.Load() {
				return nil // rate limited: the kid stays unknown
			}
			return unavailable(retry, errNotLoaded)
		}
		ik.startLocked()
		// Only fetches asked for by requests count against the rate
		// limit: the first and the periodic fetches do not delay the
		// discovery of a key published just after them.
		ik.nextAttempt = now.Add(ik.s.MinRefreshInterval)
		ik.queued = true
		select {
		case ik.wake <- struct{}{}:
		default: // a wake-up is pending already; it will see queued
		}
	}
	done := ik.done
	ik.mu.Unlock()

	t := time.NewTimer(ik.s.KeyWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	case <-ik.stopped: // no fetch will happen any more
	}
	if ik.loaded.Load() {
		return nil
	}
	ik.mu.Lock()
	retry := time.Until(ik.nextAttempt)
	ik.mu.Unlock()
	return unavailable(retry, errNotLoaded)
}

func unavailable(retry time.Duration, cause error) *Error {
	e := newError(ErrKeysUnavailable, ErrKeysUnavailable, cause)
	e.RetryAfter = max(retry, time.Second)
	return e
}

// startLocked marks a fetch as started. ik.mu must be held.
func (ik *issuerKeys) startLocked() {
	if !ik.fetching {
		ik.fetching = true
		ik.done = make(chan struct{})
	}
}

// fetch runs one discovery (if needed) and JWKS fetch. It is only called by
// the refresh goroutine. It returns the kids that left the JWKS.
func (ik *issuerKeys) fetch(ctx context.Context) (removed []string) {
	ik.mu.Lock()
	ik.startLocked()
	ik.queued = false
	jwksURL := ik.jwksURL
	ik.mu.Unlock()

	keys, err := ik.load(ctx, jwksURL)

	ik.mu.Lock()
	defer ik.mu.Unlock()
	end := time.Now()
	if err != nil {
		ik.failures++
		wait := backoff(ik.failures, ik.s.MinRefreshInterval)
		ik.nextAttempt = end.Add(wait)
		if ik.loaded.Load() {
			ik.nextRefresh = end.Add(ik.s.MinRefreshInterval)
		} else {
			ik.nextRefresh = end.Add(wait)
		}
		ik.jwksURL = ik.configured // discover again next time
		ik.log(ctx, slog.LevelWarn, "bearerguard: fetching issuer keys failed", err)
	} else {
		ik.failures = 0
		ik.nextRefresh = end.Add(ik.s.RefreshInterval)
		kids := make(map[string]bool, len(keys))
		for _, k := range keys {
			kids[k.Marshal().KID] = true
		}
		for kid := range ik.kids {
			if !kids[kid] {
				removed = append(removed, kid)
			}
		}
		ik.kids = kids
		// byKid first: a request that sees the new store also sees the
		// new byKid, which decides whether cached tokens still count
		// (Validator.keyPublished).
		ik.byKid.Store(keysByKid(keys))
		_ = ik.store.KeyReplaceAll(ctx, keys) // memory storage: cannot fail
		ik.loaded.Store(true)
	}
	ik.fetching = false
	close(ik.done)
	return removed
}

func (ik *issuerKeys) log(ctx context.Context, level slog.Level, msg string, err error) {
	if l := ik.s.Logger; l != nil {
		l.Log(ctx, level, msg, "issuer", ik.issuer, "error", err)
	}
}

// load discovers the JWKS URL if needed, fetches the JWK Set and returns its
// usable keys.
func (ik *issuerKeys) load(ctx context.Context, jwksURL string) ([]jwkset.JWK, error) {
	if jwksURL == "" {
		u, err := discover(ctx, ik.s.client, ik.issuer, ik.s.InsecureAllowHTTPIssuer)
		if err != nil {
			return nil, err
		}
		jwksURL = u
		ik.mu.Lock()
		ik.jwksURL = u
		ik.mu.Unlock()
	}
	var set jwkset.JWKSMarshal
	if _, err := getJSON(ctx, ik.s.client, jwksURL, MaxJWKSSize, &set); err != nil {
		return nil, err
	}
	if set.Keys == nil {
		// Not a JWK Set (RFC 7517 §5: "keys" is required), such as an
		// error document served with status 200: keep the keys held.
		return nil, errNotJWKSet
	}
	keys := ik.usableKeys(ctx, set)
	if len(keys) == 0 {
		// An empty or unusable set is far more often an issuer glitch
		// than a deliberate withdrawal of every key: keep the keys held,
		// as for any failed fetch.
		return nil, errNoUsableKeys
	}
	return keys, nil
}

// usableKeys converts the JWK Set with jwkset, keeping only public
// signature keys of an asymmetric type whose kid is unique in the set.
func (ik *issuerKeys) usableKeys(ctx context.Context, set jwkset.JWKSMarshal) []jwkset.JWK {
	count := map[string]int{}
	for _, m := range set.Keys {
		count[m.KID]++
	}
	var keys []jwkset.JWK
	for _, m := range set.Keys {
		skip := ""
		switch {
		case m.KTY == jwkset.KtyOct:
			skip = "symmetric key"
		case m.USE != "" && m.USE != jwkset.UseSig:
			skip = "not a signature key"
		case count[m.KID] > 1:
			skip = "duplicate kid"
		case m.KTY != jwkset.KtyRSA && m.KTY != jwkset.KtyEC && m.KTY != jwkset.KtyOKP:
			skip = "unsupported key type"
		}
		if skip == "" {
			// Public parameters only: private material in a JWKS is ignored.
			jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
			if err == nil {
				keys = append(keys, jwk)
				continue
			}
			skip = "invalid key"
		}
		ik.log(ctx, slog.LevelWarn, "bearerguard: JWKS key ignored", fmt.Errorf("kid %q: %s", m.KID, skip))
	}
	return keys
}

// keyFor finds the key that may verify a token of this issuer signed with
// method. A kid of the keys held is looked up in a lock-free snapshot;
// another kid goes through keyfunc, whose storage (keyReader) waits for a
// rate-limited refresh. A JWK "alg" must equal the token's, and the key's
// type and size must fit it. A token without kid gets every key that fits.
func (ik *issuerKeys) keyFor(ctx context.Context, h *joseHeader, method jwt.SigningMethod) (any, error) {
	alg := method.Alg()
	if !h.kidSet {
		if err := ik.awaitKeys(ctx, false, ""); err != nil {
			return nil, err
		}
		return ik.keysFor(ctx, alg)
	}
	if m := ik.byKid.Load(); m != nil {
		if k, ok := (*m)[h.kid]; ok {
			if k.alg != "" && k.alg != alg {
				return nil, invalidToken(ErrUnsupportedAlgorithm, fmt.Errorf(`JWK "alg" %q does not match token "alg" %q`, k.alg, alg))
			}
			return fitting(alg, k.key)
		}
	}
	token := &jwt.Token{Method: method, Header: map[string]any{"alg": h.alg, "kid": h.kid}}
	key, err := ik.kf.KeyfuncCtx(ctx)(token)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		if errors.Is(err, jwkset.ErrKeyNotFound) {
			return nil, invalidToken(ErrUnknownKey, nil)
		}
		if strings.Contains(err.Error(), `"alg"`) {
			return nil, invalidToken(ErrUnsupportedAlgorithm, err)
		}
		return nil, invalidToken(ErrUnknownKey, err)
	}
	return fitting(alg, key)
}

// fitting returns key if it may verify alg, else an ErrUnsupportedAlgorithm.
func fitting(alg string, key any) (any, error) {
	if !keyFits(alg, key) {
		return nil, invalidToken(ErrUnsupportedAlgorithm, fmt.Errorf("key of type %T does not fit %s", key, alg))
	}
	return key, nil
}

// publicKey returns the public key of jwk, as keyfunc hands it out.
func publicKey(jwk jwkset.JWK) any {
	key := jwk.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		return pk.Public()
	}
	return key
}

// keysFor returns the keys that may verify a token without kid: every key
// of the issuer whose JWK "alg", if any, is alg and whose type fits alg.
// (keyfunc's VerificationKeySet drops the JWK "alg", which must still bind:
// a key published for RS256 never verifies RS512 or PS256, kid or not.)
func (ik *issuerKeys) keysFor(ctx context.Context, alg string) (any, error) {
	jwks, err := ik.store.KeyReadAll(ctx)
	if err != nil {
		return nil, invalidToken(ErrUnknownKey, err)
	}
	var fit []jwt.VerificationKey
	for _, jwk := range jwks {
		if a := jwk.Marshal().ALG.String(); a != "" && a != alg {
			continue
		}
		if key := publicKey(jwk); keyFits(alg, key) {
			fit = append(fit, key)
		}
	}
	if len(fit) == 0 {
		return nil, invalidToken(ErrUnknownKey, nil)
	}
	return jwt.VerificationKeySet{Keys: fit}, nil
}

// kidKey is a JWK's public key and its "alg" ("" if none).
type kidKey struct {
	key any
	alg string
}

// keysByKid indexes keys by kid as keyfunc reads them: the first key of a
// kid (usableKeys leaves one), its public key, its "alg".
func keysByKid(keys []jwkset.JWK) *map[string]kidKey {
	m := make(map[string]kidKey, len(keys))
	for _, jwk := range keys {
		kid := jwk.Marshal().KID
		if _, dup := m[kid]; dup {
			continue
		}
		m[kid] = kidKey{key: publicKey(jwk), alg: jwk.Marshal().ALG.String()}
	}
	return &m
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
