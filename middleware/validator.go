package middleware

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/golang-jwt/jwt/v5"
)

// Validator checks bearer tokens of one or more trusted issuers. It is
// immutable after [New] and safe for concurrent use.
//
// A Validator owns one background goroutine that fetches and refreshes the
// issuers' keys; it ends when the context given to [New] is done. Keep that
// context alive for as long as the Validator serves requests.
type Validator struct {
	s       *settings
	issuers map[string]*issuerKeys
	order   []*issuerKeys
	times   *jwt.Validator // exp, nbf and iat
	cache   *tokenCache
	stopped chan struct{}
}

// New checks cfg and returns a Validator. It does not wait for the network:
// the issuers' keys are fetched in the background, and until they are
// obtained requests are answered 503 with Retry-After. Use [Validator.Ready]
// or [Validator.WaitReady] for readiness probes.
//
// The background goroutine runs until ctx is done.
func New(ctx context.Context, cfg Config) (*Validator, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	wake := make(chan struct{}, 1)
	v := &Validator{
		s:       s,
		issuers: make(map[string]*issuerKeys, len(s.issuers)),
		stopped: make(chan struct{}),
		times: jwt.NewValidator(
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(s.leeway),
			jwt.WithTimeFunc(s.now),
		),
	}
	for _, is := range s.issuers {
		ik, err := newIssuerKeys(ctx, s, is, wake)
		if err != nil {
			return nil, err
		}
		v.issuers[is.Issuer] = ik
		v.order = append(v.order, ik)
	}
	if s.TokenCacheSize > 0 {
		v.cache = newTokenCache(s.TokenCacheSize)
		v.cache.valid = v.keyPublished
	}
	go v.run(ctx, wake)
	return v, nil
}

// run is the refresh goroutine: it fetches every issuer's keys at start,
// then when a refresh is due or asked for by a request.
func (v *Validator) run(ctx context.Context, wake <-chan struct{}) {
	defer close(v.stopped)
	for _, ik := range v.order {
		if ctx.Err() != nil {
			break
		}
		v.fetch(ctx, ik)
	}
	timer := time.NewTimer(v.nextDue())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			// Release requests waiting for a fetch that will not happen.
			for _, ik := range v.order {
				ik.mu.Lock()
				if ik.fetching {
					ik.fetching = false
					close(ik.done)
				}
				ik.mu.Unlock()
			}
			return
		case <-wake:
			for _, ik := range v.order {
				ik.mu.Lock()
				queued := ik.queued
				ik.mu.Unlock()
				if queued {
					v.fetch(ctx, ik)
				}
			}
		case <-timer.C:
			now := time.Now()
			for _, ik := range v.order {
				ik.mu.Lock()
				due := !now.Before(ik.nextRefresh)
				ik.mu.Unlock()
				if due {
					v.fetch(ctx, ik)
				}
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(v.nextDue())
	}
}

func (v *Validator) fetch(ctx context.Context, ik *issuerKeys) {
	removed := ik.fetch(ctx)
	if v.cache != nil {
		for _, kid := range removed {
			v.cache.dropKey(ik.issuer, kid)
		}
	}
}

func (v *Validator) nextDue() time.Duration {
	var next time.Time
	for i, ik := range v.order {
		ik.mu.Lock()
		t := ik.nextRefresh
		ik.mu.Unlock()
		if i == 0 || t.Before(next) {
			next = t
		}
	}
	return max(time.Until(next), 10*time.Millisecond)
}

// Ready reports whether the keys of every issuer have been obtained. It
// returns nil when they have, and an error matching [ErrKeysUnavailable]
// otherwise. It does not block.
func (v *Validator) Ready() error {
	for _, ik := range v.order {
		if !ik.loaded.Load() {
			return unavailable(0, errNotLoaded)
		}
	}
	return nil
}

// WaitReady waits until the keys of every issuer have been obtained or ctx
// is done, and returns what [Validator.Ready] returns then.
func (v *Validator) WaitReady(ctx context.Context) error {
	for _, ik := range v.order {
		for !ik.loaded.Load() {
			ik.mu.Lock()
			done := ik.done
			fetching := ik.fetching
			ik.mu.Unlock()
			if fetching {
				select {
				case <-done:
					continue
				case <-ctx.Done():
					return v.Ready()
				case <-v.stopped:
					return v.Ready()
				}
			}
			// Wait for the next attempt of the refresh goroutine.
			t := time.NewTimer(50 * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return v.Ready()
			case <-v.stopped:
				t.Stop()
				return v.Ready()
			}
		}
	}
	return nil
}

// ValidateRequest extracts the bearer token of r (RFC 6750 §2) and
// validates it with [Validator.ValidateToken]. Errors are of type [*Error].
// It is for custom integrations; net/http applications use
// [Validator.Authenticate] and [Validator.RequireScope], framework adapters
// [Validator.Check].
func (v *Validator) ValidateRequest(r *http.Request) (*claims.Claims, error) {
	token, e := v.extract(r)
	if e != nil {
		return nil, e
	}
	return v.ValidateToken(r.Context(), token)
}

// ValidateToken validates a compact JWS access token and returns its
// claims. Errors are of type [*Error] and match a category sentinel such as
// [ErrInvalidToken] and a specific one such as [ErrTokenExpired].
func (v *Validator) ValidateToken(ctx context.Context, token string) (*claims.Claims, error) {
	if len(token) > v.s.maxToken {
		return nil, invalidToken(ErrTokenTooLarge, nil)
	}
	if v.cache != nil {
		if c, ok := v.cache.get(token, v.s.now()); ok {
			if err := v.checkTimes(c); err != nil {
				return nil, err
			}
			return v.withHook(ctx, c)
		}
	}
	t, err := parseToken(token)
	if err != nil {
		return nil, err
	}
	ik, kid, err := v.verify(ctx, t)
	if err != nil {
		return nil, err
	}
	c, err := v.checkClaims(ctx, &t.claims)
	if err != nil {
		return nil, err
	}
	if v.cache != nil && kid != "" {
		// Tokens without kid are not cached: which of the issuer's keys
		// verified them is not known, so neither is when to forget them.
		v.cache.put(token, ik.issuer, kid, c, v.s.now())
	}
	return v.withHook(ctx, c)
}

// keyPublished reports whether kid is among the issuer's keys as last
// fetched. A cached token counts only while the key that verified it is
// published: a request that looked its key up just before a refresh
// removed it caches the token after the refresh dropped that key's
// entries, and the entry would otherwise outlive the key.
func (v *Validator) keyPublished(issuer, kid string) bool {
	ik := v.issuers[issuer]
	if ik == nil || kid == "" {
		return false
	}
	m := ik.byKid.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[kid]
	return ok
}

// verify checks the header and routes the token to its issuer's keys,
// then checks the signature, then exp, nbf and iat. The order of the
// checks, and so the error reported for a token with several faults, is
// golang-jwt's Parser.ParseWithClaims with bearerguard's keyfunc. It
// returns the issuer's keys and the token's kid.
func (v *Validator) verify(ctx context.Context, t *jwsToken) (*issuerKeys, string, error) {
	if err := t.checkHeader(v.s.algs); err != nil {
		return nil, "", err
	}
	if err := t.checkType(v.s.RequireAccessTokenType); err != nil {
		return nil, "", err
	}
	if t.claims.bound() {
		return nil, "", invalidToken(ErrSenderConstrained, nil)
	}
	ik := v.issuers[t.claims.Iss]
	if ik == nil {
		return nil, "", invalidToken(ErrInvalidIssuer, nil)
	}
	key, err := ik.keyFor(ctx, &t.header, t.method)
	if err != nil {
		return nil, "", err
	}
	switch k := key.(type) {
	case jwt.VerificationKeySet:
		if len(k.Keys) == 0 {
			return nil, "", invalidToken(ErrUnsupportedAlgorithm, jwt.ErrTokenUnverifiable)
		}
		for _, key := range k.Keys {
			if err = t.method.Verify(t.signingInput, t.signature, key); err == nil {
				break
			}
		}
	default:
		err = t.method.Verify(t.signingInput, t.signature, key)
	}
	if err != nil {
		return nil, "", invalidToken(ErrInvalidSignature, fmt.Errorf("%w: %w", jwt.ErrTokenSignatureInvalid, err))
	}
	if err := v.times.Validate(&t.claims); err != nil {
		return nil, "", timeError(fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err))
	}
	return ik, t.header.kid, nil
}

// checkClaims applies the audience and client rules, then builds the
// claims. The issuer was checked by checkHeader, which routed the token to
// that issuer's keys.
func (v *Validator) checkClaims(ctx context.Context, p *payload) (*claims.Claims, error) {
	if len(v.s.Audiences) > 0 && !anyIn(p.Aud, v.s.Audiences) {
		return nil, invalidToken(ErrInvalidAudience, nil)
	}
	c, err := p.claims(v.s.scopeClaim)
	if err != nil {
		return nil, invalidToken(ErrMalformedToken, err)
	}
	if len(v.s.ClientIDs) > 0 && !contains(v.s.ClientIDs, c.ClientID) {
		return nil, invalidToken(ErrInvalidAudience, nil)
	}
	return c, nil
}

// withHook runs Config.Validate, on every request, cached token or not.
func (v *Validator) withHook(ctx context.Context, c *claims.Claims) (*claims.Claims, error) {
	if v.s.Validate == nil {
		return c, nil
	}
	if err := v.s.Validate(ctx, c); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, invalidToken(ErrClaimsRejected, err)
	}
	return c, nil
}

// checkTimes re-checks exp and nbf for a cached token.
func (v *Validator) checkTimes(c *claims.Claims) error {
	now := v.s.now()
	if !now.Before(c.ExpiresAt.Add(v.s.leeway)) {
		return invalidToken(ErrTokenExpired, nil)
	}
	if !c.NotBefore.IsZero() && now.Add(v.s.leeway).Before(c.NotBefore) {
		return invalidToken(ErrTokenNotYetValid, nil)
	}
	return nil
}

// timeError turns an error of golang-jwt's Validator (exp, nbf, iat) into
// an *Error.
func timeError(err error) *Error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalidToken(ErrTokenExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalidToken(ErrTokenNotYetValid, err)
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
