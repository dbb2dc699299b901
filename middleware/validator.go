package middleware

import (
	"context"
	"errors"
	"net/http"
	"strings"
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
	if !compactJWS(token) {
		return nil, invalidToken(ErrMalformedToken, nil)
	}
	var p payload
	ik, kid, err := v.parseAndVerify(ctx, token, &p)
	if err != nil {
		return nil, err
	}
	c, err := v.checkClaims(ctx, &p)
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

// checkHeader applies the header rules before any key is looked up, and
// routes the token to its issuer's keys.
func (v *Validator) checkHeader(h *joseHeader, p *payload) (*issuerKeys, string, error) {
	if !v.s.algs[h.alg] {
		return nil, "", invalidToken(ErrUnsupportedAlgorithm, nil)
	}
	if h.crit {
		return nil, "", invalidToken(ErrUnsupportedCritical, nil)
	}
	if h.enc {
		return nil, "", invalidToken(ErrMalformedToken, nil)
	}
	if p.raw == nil {
		// The payload was JSON null, which leaves p without a raw
		// payload: not a JWT Claims Set (RFC 7519 §7.2).
		return nil, "", invalidToken(ErrMalformedToken, nil)
	}
	if err := v.checkType(h, p); err != nil {
		return nil, "", err
	}
	if h.kidSet && !h.kidOK {
		return nil, "", invalidToken(ErrMalformedToken, nil)
	}
	kid := h.kid
	ik := v.issuers[p.Iss]
	if ik == nil {
		return nil, "", invalidToken(ErrInvalidIssuer, nil)
	}
	return ik, kid, nil
}

// checkType tells access tokens from ID tokens and other JWTs (RFC 9068
// §2.1 and §4, RFC 8725 §3.11).
func (v *Validator) checkType(h *joseHeader, p *payload) error {
	if h.typSet {
		if !h.typOK {
			return invalidToken(ErrMalformedToken, nil)
		}
		mt := strings.ToLower(h.typ)
		mt = strings.TrimPrefix(mt, "application/")
		switch mt {
		case "at+jwt":
			// An access token by declaration; still refuse ID-token claims.
		case "jwt":
			if v.s.RequireAccessTokenType {
				return invalidToken(ErrNotAccessToken, nil)
			}
		default:
			return invalidToken(ErrNotAccessToken, nil)
		}
	} else if v.s.RequireAccessTokenType {
		return invalidToken(ErrNotAccessToken, nil)
	}
	if p.idTokenSignal() {
		return invalidToken(ErrNotAccessToken, nil)
	}
	if p.senderConstrained() {
		return invalidToken(ErrSenderConstrained, nil)
	}
	return nil
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

// compactJWS reports whether token has the shape of an RFC 7515 §7.1 compact
// JWS: three non-empty base64url segments without padding. JWE (five
// segments) and anything else is refused before parsing.
func compactJWS(token string) bool {
	i := strings.IndexByte(token, '.')
	if i <= 0 {
		return false // no dot, or an empty header
	}
	j := strings.IndexByte(token[i+1:], '.')
	if j <= 0 {
		return false // one dot, or an empty payload
	}
	j += i + 1
	if j == len(token)-1 || strings.IndexByte(token[j+1:], '.') >= 0 {
		return false // an empty signature, or more segments
	}
	return allOf(token, &notBase64urlOrDot)
}

// notBase64urlOrDot marks the bytes outside the base64url alphabet (RFC
// 4648 §5) and ".".
var notBase64urlOrDot = func() (t [256]uint8) {
	for c := range 256 {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			t[c] = 1
		}
	}
	return t
}()

// allOf reports whether no byte of s is marked in not. Tokens are scanned
// on every request, cached or not: eight bytes a step, without branches.
func allOf(s string, not *[256]uint8) bool {
	var bad uint8
	for len(s) >= 8 {
		bad |= not[s[0]] | not[s[1]] | not[s[2]] | not[s[3]] |
			not[s[4]] | not[s[5]] | not[s[6]] | not[s[7]]
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		bad |= not[s[i]]
	}
	return bad == 0
}

func anyIn(have, want []string) bool {
	for _, h := range have {
		if contains(want, h) {
			return true
		}
	}
	return false
}
