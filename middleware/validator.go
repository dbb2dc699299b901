package middleware

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/internal/checks"
	"github.com/golang-jwt/jwt/v5"
)

// Validator checks access tokens of one or more trusted issuers. It is
// immutable after [New] and safe for concurrent use.
//
// A Validator owns one background goroutine per JWT issuer that fetches
// and refreshes the issuer's keys (for an issuer with Issuer.LazyKeys, or
// one of Config.ResolveIssuer, from its first token on; none for an issuer
// whose tokens are all opaque); they end when the context given to [New]
// is done, or when a resolved issuer is evicted. Keep that context alive for as long as the Validator serves
// requests: once it has ended, [Validator.Ready] reports [ErrStopped].
type Validator struct {
	cfg          Config
	algs         map[string]bool   // every issuer's algorithms
	trusts       map[string]*trust // the trusted issuers' rules, by issuer
	defaults     *trust            // Config's rules, for claims of no trusted issuer
	opaqueTrusts []*trust          // the issuers with an opaque-token source
	templates    []*trust          // the multi-tenant issuers
	resolver     *resolver         // issuers of Config.ResolveIssuer, if set
	ctx          context.Context   // the context of New: the keys' goroutines run in it
	client       *http.Client      // the safe client
	lazyOnly     bool              // no JWT issuer's keys are fetched at start
	order        []*issuerKeys     // the JWT issuers' keys fetched at start, in Config order
	cache        *tokenCache[cachedToken]
	meta         resourceMeta // protected resource metadata, if Config.Resource is set

	dpopAlgs   map[string]bool // DPoP.Algorithms as a set
	proofKeys  proofKeyCache   // parsed DPoP proof keys
	algsAttr   string          // the algs attribute of the DPoP challenge
	replay     ReplayStore     // DPoP.ReplayStore, or the in-memory default
	publicBase *url.URL        // DPoP.PublicBaseURL, if set

	stopped  <-chan struct{} // the context of New is done
	anyReady chan struct{}   // closed when the first issuer's keys are held
	once     struct{ ready, stop sync.Once }
}

// cachedToken is what the token cache holds for a verified token.
type cachedToken struct {
	claims *claims.Claims // as verified; handed out only as a copy
	key    *verifyKey     // the key that verified it
	trust  *trust         // its issuer's rules and keys
	cnf    *confirmation  // how it is bound, checked on every request
}

// New checks cfg and returns a Validator. It does not wait for the network:
// the issuers' keys are fetched in the background, and until they are
// obtained requests are answered 503 with Retry-After. Use [Validator.Ready]
// or [Validator.WaitReady] for readiness probes.
//
// The background goroutines run until ctx is done.
func New(ctx context.Context, cfg Config) (*Validator, error) {
	issuers, err := cfg.check()
	if err != nil {
		return nil, err
	}
	v := &Validator{
		cfg:      cfg,
		algs:     make(map[string]bool),
		trusts:   make(map[string]*trust, len(issuers)),
		stopped:  ctx.Done(),
		anyReady: make(chan struct{}),
	}
	v.meta = newResourceMeta(&v.cfg)
	v.cfg.DPoP.NonceSecrets = cloneSecrets(cfg.DPoP.NonceSecrets)
	if cfg.DPoP.Nonces && len(cfg.DPoP.NonceSecrets) == 0 {
		v.cfg.DPoP.NonceSecrets = [][]byte{processNonceSecret()}
	}
	v.proofKeys = newProofKeyCache()
	v.dpopAlgs = make(map[string]bool)
	for _, a := range cfg.dpopAlgorithms() {
		v.dpopAlgs[a] = true
	}
	v.algsAttr = strings.Join(cfg.dpopAlgorithms(), " ")
	v.replay = cfg.DPoP.ReplayStore
	if v.replay == nil {
		v.replay = newMemoryReplay(v.cfg.now, replayWindow(&v.cfg), DefaultReplayRate, DefaultReplayBytes)
	}
	if cfg.DPoP.PublicBaseURL != "" {
		v.publicBase, _ = url.Parse(cfg.DPoP.PublicBaseURL) // checked by cfg.check
	}
	if n := cfg.tokenCacheSize(); n > 0 {
		v.cache = newTokenCache[cachedToken](n, MaxTokenCacheBytes)
	}
	client := safeClient(cfg.HTTPClient)
	v.defaults = newTrust(&v.cfg, &Issuer{}, client)
	v.ctx, v.client, v.resolver = ctx, client, newResolver(&v.cfg)
	// Templates of one JWK Set share its keys, and a key's "issuer" may
	// name any of them.
	shared := make(map[string]*issuerKeys)
	jwtIssuers := 0
	siblings := make(map[string][]string)
	for i := range issuers {
		if is := &issuers[i]; strings.Contains(is.Issuer, TenantPlaceholder) {
			siblings[is.JWKSURL] = append(siblings[is.JWKSURL], is.Issuer)
		}
	}
	for i := range issuers {
		is := &issuers[i]
		ti := newTrust(&v.cfg, is, client)
		if ti.template {
			ti.keys = shared[is.JWKSURL]
			ti.keyIssuers = siblings[is.JWKSURL]
		}
		if !is.OpaqueOnly && ti.keys == nil {
			ik := newIssuerKeys(&v.cfg, client, *is)
			ik.onReady = v.markReady
			ik.onStop = v.warnStopped
			ti.keys = ik
			if !ti.lazy {
				v.order = append(v.order, ik)
			}
			if ti.template {
				shared[is.JWKSURL] = ik
			}
		}
		if ti.opaque != nil {
			v.opaqueTrusts = append(v.opaqueTrusts, ti)
		}
		for a := range ti.algs {
			v.algs[a] = true
		}
		if ti.keys != nil {
			jwtIssuers++
		}
		if ti.template {
			v.templates = append(v.templates, ti) // never matched exactly
			continue
		}
		v.trusts[is.Issuer] = ti
	}
	if v.resolver != nil {
		// A resolved issuer's own algorithms are checked once it is known.
		v.algs = algorithmSet(nil)
	}
	if v.opaqueReady() {
		v.markReady()
	}
	if v.lazyOnly = len(v.order) == 0 && (jwtIssuers > 0 || v.resolver != nil); v.lazyOnly {
		v.markReady() // every JWT issuer's keys are fetched at its first token
	}
	for _, ik := range v.order {
		go ik.run(ctx)
	}
	return v, nil
}

// markReady records that the validator can verify tokens.
func (v *Validator) markReady() { v.once.ready.Do(func() { close(v.anyReady) }) }

// warnStopped logs, once, that the validator's context has ended.
func (v *Validator) warnStopped() {
	v.once.stop.Do(func() {
		if l := v.cfg.Logger; l != nil {
			l.Warn("bearerguard: the context given to New has ended: issuer keys are no longer refreshed, and tokens of keys not held are answered 503")
		}
	})
}

// Ready reports whether the validator can verify tokens. It returns nil
// once the keys of at least one issuer are held, or the source of an issuer
// whose tokens are all opaque (Issuer.OpaqueOnly, or an API without
// Config.Issuer) is usable: LookupToken at once, introspection once its
// endpoint is configured or discovered. An issuer that cannot be reached
// does not hold up the others. Otherwise it returns an error matching
// [ErrKeysUnavailable] that says, for each issuer, why its keys (or
// endpoint) are missing. Once the context given to [New] has ended it returns an error
// matching [ErrStopped]. It does not block.
func (v *Validator) Ready() error {
	select {
	case <-v.stopped:
		return unavailable(0, ErrStopped)
	default:
	}
	if v.lazyOnly {
		return nil
	}
	errs := make([]error, 0, len(v.order))
	for _, ik := range v.order {
		err := ik.status()
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	if v.opaqueReady() {
		return nil
	}
	errs = append(errs, v.opaqueStatus()...)
	return unavailable(0, errors.Join(errs...))
}

// WaitReady waits until [Validator.Ready] would return nil, or ctx is done,
// or the validator has stopped, and returns what Ready returns then.
func (v *Validator) WaitReady(ctx context.Context) error {
	defer v.discoverOpaque(ctx)()
	select {
	case <-v.anyReady:
	case <-ctx.Done():
	case <-v.stopped:
	}
	return v.Ready()
}

// ValidateToken validates a bearer access token and returns its claims. Errors
// are of type [*Error] and match a category sentinel such as
// [ErrInvalidToken] and a specific one such as [ErrTokenExpired].
//
// The first step tells what kind of token it is: a token that is not a
// compact JWS is an opaque token, resolved by its source (introspection or
// Config.LookupToken, see validateOpaque) and then held to the same rules
// as a JWT from the issuer on; without a source it is refused as
// malformed. For a compact JWS, the steps, in order: the token is parsed
// (parseToken), its header checked, it is routed to its issuer by "iss"
// and held to that issuer's algorithms, its kind told (access token or
// not), the issuer's keys looked up by "kid" (waiting, within bounds, for
// a fetch), the signature verified and the key's own issuer matched,
// exp, nbf and iat checked, then how the token is bound (binding.go: a
// token bound to a DPoP key or a client certificate is refused, since a
// bearer token comes with no proof), its audience, client and required
// claims, and last Config.Validate. A token seen before skips the steps up
// to the binding (see the token cache); the cache is asked first.
//
// The claims returned are the caller's own: changing them changes no other
// request's.
func (v *Validator) ValidateToken(ctx context.Context, token string) (*claims.Claims, error) {
	return v.validate(ctx, token, &presentation{})
}

// validate is ValidateToken for a token presented as pr says.
func (v *Validator) validate(ctx context.Context, token string, pr *presentation) (*claims.Claims, error) {
	if len(token) > v.cfg.maxTokenSize() {
		return nil, invalidToken(ErrTokenTooLarge, nil)
	}
	// A token the cache holds was a compact JWS when it was verified: the
	// cache is asked first, which spares a hit the scan of compactJWS.
	var ct cachedToken
	var ok bool
	var err error
	if l := &pr.lookup; l.token != "" && l.token == token {
		ct, ok, err = l.ct, l.hit, l.err // asked during extraction
	} else {
		ct, ok, err = v.cached(token)
	}
	if ok || err != nil {
		pr.judged = ct.trust
		if err != nil {
			return nil, err
		}
		if err := v.checkSender(ctx, ct.trust, ct.cnf, token, pr); err != nil {
			return nil, v.refusedClaims(err, checks.Binding, ct.claims)
		}
		return v.hook(ctx, copyClaims(ct.claims))
	}
	if !compactJWS(token) {
		return v.validateOpaque(ctx, token, pr)
	}
	var t jwsToken
	if err := parseToken(token, &t); err != nil {
		return nil, v.refused(err, checks.Parse, &t)
	}
	if err := t.checkHeader(v.algs); err != nil {
		return nil, v.refused(err, checks.Header, &t)
	}
	ti, err := v.trustFor(ctx, &t)
	if err != nil {
		return nil, v.refused(err, checks.Issuer, &t)
	}
	pr.judged = ti
	if err := ti.checkAlg(&t); err != nil {
		return nil, v.refused(err, checks.Header, &t)
	}
	if err := t.checkType(ti.requireAT); err != nil {
		return nil, v.refused(err, checks.Type, &t)
	}
	key, err := verifySignature(ctx, ti.keys, &t)
	if err != nil {
		return nil, v.refused(err, signatureCheck(err), &t)
	}
	if err := ti.checkKeyIssuer(key, &t); err != nil {
		return nil, v.refused(err, checks.Key, &t)
	}
	if err := t.claims.checkTimes(v.cfg.now(), v.cfg.leeway(), expRequired); err != nil {
		return nil, v.refused(err, checks.Times, &t)
	}
	if err := v.checkSender(ctx, ti, t.claims.Cnf, token, pr); err != nil {
		return nil, v.refused(err, checks.Binding, &t)
	}
	c, err := ti.checkClaims(&t.claims, AudienceRequired)
	if err != nil {
		return nil, v.refused(err, claimsCheck(err), &t)
	}
	if v.remember(token, cachedToken{claims: c, key: key, trust: ti, cnf: t.claims.Cnf}) {
		c = copyClaims(c) // the cache keeps the verified claims
	} else {
		handOut(c)
	}
	return v.hook(ctx, c)
}

// signatureCheck names the check that refused a token in verifySignature:
// finding its key, or verifying with it.
func signatureCheck(err error) string {
	if errors.Is(err, ErrInvalidSignature) {
		return checks.Signature
	}
	return checks.Key
}

// claimsCheck names the check that refused a token in checkClaims.
func claimsCheck(err error) string {
	if errors.Is(err, ErrMalformedToken) {
		return checks.Claims
	}
	return checks.Audience
}

// verifySignature finds the keys that may have signed t and checks the
// signature with golang-jwt's signing method. It returns the key that
// verified it. Each candidate key costs one verification, so the candidates
// are few (MaxCandidateKeys), and the request's context is checked between
// them.
func verifySignature(ctx context.Context, ik *issuerKeys, t *jwsToken) (*verifyKey, error) {
	c, err := ik.candidatesFor(ctx, t.header.kid, t.header.kidSet, t.method.Alg())
	if err != nil {
		return nil, err
	}
	if c.n == 0 {
		if t.header.kidSet {
			// The kid is published, but not for this algorithm.
			return nil, invalidToken(ErrUnsupportedAlgorithm, nil)
		}
		return nil, invalidToken(ErrUnknownKey, nil)
	}
	for _, k := range c.keys[:c.n] {
		if err = ctx.Err(); err != nil {
			break
		}
		if err = t.method.Verify(t.signingInput, t.signature, k.pub); err == nil {
			return k, nil
		}
	}
	return nil, invalidToken(ErrInvalidSignature, fmt.Errorf("%w: %w", jwt.ErrTokenSignatureInvalid, err))
}

// checkClaims applies the audience and client rules of the token's issuer
// ti, then builds the claims. The issuer was checked before (a JWT when it
// was routed to its keys).
func (ti *trust) checkClaims(p *payload, rule AudienceRule) (*claims.Claims, error) {
	if err := ti.checkAudience(p, rule); err != nil {
		return nil, err
	}
	if err := ti.checkRequired(p); err != nil {
		return nil, err
	}
	c, err := p.claims(ti.scopeClaims)
	if err != nil {
		return nil, invalidToken(ErrMalformedToken, err)
	}
	return c, nil
}

// checkAudience applies the audience rule (JWTs: AudienceRequired) and
// the issuer's ClientIDs. With AudienceClientID, an "aud" naming one of
// ClientIDs stands for the client when the claims name none.
func (ti *trust) checkAudience(p *payload, rule AudienceRule) error {
	ids := ti.clientIDs
	switch {
	case len(ti.audiences) == 0: // ClientIDs alone stand for the audience
	case anyIn(p.Aud, ti.audiences):
	case rule == AudienceAbsentOK && p.Aud == nil:
	case rule == AudienceClientID && (anyIn(p.Aud, ids) || contains(ids, p.clientID())):
	default:
		return invalidToken(ErrInvalidAudience, nil)
	}
	if len(ids) == 0 {
		return nil
	}
	if id := p.clientID(); contains(ids, id) || (id == "" && rule == AudienceClientID && anyIn(p.Aud, ids)) {
		return nil
	}
	return invalidToken(ErrInvalidAudience, nil)
}

// cached returns the cache entry of a token verified before, if the cache
// holds it and the key that verified it is still its issuer's. exp and nbf
// are checked again: a token they refuse comes with its entry, whose trust
// names the rules that refused it. Its claims are the cache's: hand out
// copies.
func (v *Validator) cached(token string) (cachedToken, bool, error) {
	if v.cache == nil {
		return cachedToken{}, false, nil
	}
	now := v.cfg.now()
	ct, ok := v.cache.get(token, now)
	if !ok {
		return cachedToken{}, false, nil
	}
	if set := ct.trust.keys.set.Load(); set == nil || !set.holds(ct.key) || ct.trust.gone.Load() {
		return cachedToken{}, false, nil // the key left or changed: verify again
	}
	if err := checkTimesAt(now, v.cfg.leeway(), ct.claims, expRequired); err != nil {
		return ct, false, v.refusedClaims(err, checks.Times, ct.claims) // ct: the rules that refused it
	}
	return ct, true, nil
}

// lookup is the token cache lookup of one request, made while its token
// is extracted (the known of extractToken) and used when it is validated:
// a hit is neither scanned for the token68 syntax nor looked up twice.
type lookup struct {
	v     *Validator
	token string // the token looked up; "" if none was
	ct    cachedToken
	hit   bool
	err   error
}

// known looks token up and reports whether the cache holds it as a token
// still good to use (or expired, err): such a token passed compactJWS, a
// stricter syntax than token68. A token larger than Config.MaxTokenSize is
// not looked up; validate refuses it.
func (l *lookup) known(token string) bool {
	if len(token) > l.v.cfg.maxTokenSize() {
		return false
	}
	l.token = token
	l.ct, l.hit, l.err = l.v.cached(token)
	return l.hit || l.err != nil
}

// remember caches a verified token until its exp, at most
// MaxTokenCacheTTL. It reports whether the cache may now hold ct.
func (v *Validator) remember(token string, ct cachedToken) bool {
	if v.cache == nil {
		return false
	}
	now := v.cfg.now()
	expires := now.Add(MaxTokenCacheTTL)
	if ct.claims.ExpiresAt.Before(expires) {
		expires = ct.claims.ExpiresAt
	}
	v.cache.put(token, ct, entrySize(token, len(ct.claims.Payload)), expires, now)
	return true
}

// copyClaims returns a copy of c that shares nothing a handler may change:
// the lists share one new array, each capped so that an append to one
// cannot write into the other, and the payload is copied. The claim
// strings are shared: strings cannot be changed. It allocates once, the
// struct with room for a few list entries and a payload of up to 2 KiB;
// a larger payload is a second allocation.
func copyClaims(c *claims.Claims) *claims.Claims {
	own, payload := newOwnClaims(len(c.Payload))
	own.c = *c
	cp := &own.c
	na, ns := len(c.Audience), len(c.Scopes)
	if na+ns > 0 {
		var lists []string
		if na+ns <= len(own.lists) {
			lists = own.lists[:na+ns]
		} else {
			lists = make([]string, na+ns)
		}
		copy(lists, c.Audience)
		copy(lists[na:], c.Scopes)
		cp.Audience, cp.Scopes = nilIfEmpty(lists[:na:na]), nilIfEmpty(lists[na:na+ns:na+ns])
	}
	if c.Payload != nil {
		cp.Payload = payload[:copy(payload, c.Payload)]
	}
	return cp
}

// handOut gives c, claims built from a payload (see payload.claims), a
// Payload of its own: the raw payload, which its strings share, is never
// handed out.
func handOut(c *claims.Claims) {
	c.Payload = append(make([]byte, 0, len(c.Payload)), c.Payload...)
}

// ownClaims is a request's copy of cached claims, with room for its
// audience and scopes in the same allocation.
type ownClaims struct {
	c     claims.Claims
	lists [6]string
}

// ownClaims with room for the payload: the payload's bytes hold no
// pointers, so the collector scans only the part before them.
type (
	ownClaims256 struct {
		own     ownClaims
		payload [256]byte
	}
	ownClaims512 struct {
		own     ownClaims
		payload [512]byte
	}
	ownClaims1024 struct {
		own     ownClaims
		payload [1024]byte
	}
	ownClaims2048 struct {
		own     ownClaims
		payload [2048]byte
	}
)

// newOwnClaims returns a new ownClaims and a buffer of n bytes, capped,
// in one allocation if n is at most 2 KiB.
func newOwnClaims(n int) (*ownClaims, []byte) {
	switch {
	case n == 0:
		return new(ownClaims), []byte{} // no payload, or an empty one: no room
	case n <= 256:
		o := new(ownClaims256)
		return &o.own, o.payload[:n:n]
	case n <= 512:
		o := new(ownClaims512)
		return &o.own, o.payload[:n:n]
	case n <= 1024:
		o := new(ownClaims1024)
		return &o.own, o.payload[:n:n]
	case n <= 2048:
		o := new(ownClaims2048)
		return &o.own, o.payload[:n:n]
	}
	return new(ownClaims), make([]byte, n)
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// hook runs Config.Validate, on every request, cached token or not.
func (v *Validator) hook(ctx context.Context, c *claims.Claims) (*claims.Claims, error) {
	if v.cfg.Validate == nil {
		return c, nil
	}
	if err := v.cfg.Validate(ctx, c); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, v.refusedClaims(invalidToken(ErrClaimsRejected, err), checks.Validate, c)
	}
	return c, nil
}

// checkTimesAt checks exp and nbf of cached claims again, at now. An opaque
// token may have no exp (expOptional): a zero ExpiresAt is then not checked.
func checkTimesAt(now time.Time, leeway time.Duration, c *claims.Claims, exp expRule) error {
	if (exp == expRequired || !c.ExpiresAt.IsZero()) && !now.Before(c.ExpiresAt.Add(leeway)) {
		return invalidToken(ErrTokenExpired, nil)
	}
	if !c.NotBefore.IsZero() && now.Add(leeway).Before(c.NotBefore) {
		return invalidToken(ErrTokenNotYetValid, nil)
	}
	return nil
}

// requestError returns err as an *Error: every error of the token path
// already is one.
func requestError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return invalidToken(ErrMalformedToken, err)
}

func anyIn(have, want []string) bool {
	for _, h := range have {
		if contains(want, h) {
			return true
		}
	}
	return false
}
