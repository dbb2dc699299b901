package middleware

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/internal/checks"
	"github.com/bearerguard/bearerguard/internal/jsonscan"
	"golang.org/x/sync/singleflight"
)

// This file is the opaque-token branch of ValidateToken: a token that is
// not a compact JWS is resolved by its source, introspection (RFC 7662,
// introspect.go) or Config.LookupToken, into a payload, and that payload
// goes through the steps a JWT's claims go through (issuer, token type,
// times, audience and claims), the same functions; the steps that depend
// on the request (binding, then Config.Validate) come after the shared,
// cached result (bindOpaque). Introspection answers are shared by concurrent requests for
// one token and, with Introspection.CacheTTL, cached under a hash of the
// token.

// opaqueSource resolves opaque tokens for a Validator.
type opaqueSource struct {
	intro  *introspector              // nil: Config.LookupToken
	cache  *tokenCache[*opaqueResult] // introspection results; nil without CacheTTL
	flight singleflight.Group         // one introspection call per token at a time
	in     *Introspection             // the configuration of intro
	lookup func(ctx context.Context, token string) (*claims.Claims, error)
}

// newOpaqueSource returns the opaque-token source of a checked issuer is
// of cfg, or nil if it has none.
func newOpaqueSource(cfg *Config, is *Issuer, client *http.Client) *opaqueSource {
	switch {
	case is.Introspection != nil:
		o := &opaqueSource{intro: newIntrospector(cfg, is.Introspection, is.Issuer, client), in: is.Introspection}
		if n := cfg.tokenCacheSize(); n > 0 && is.Introspection.CacheTTL > 0 {
			o.cache = newTokenCache[*opaqueResult](n, MaxTokenCacheBytes)
		}
		return o
	case is.LookupToken != nil:
		return &opaqueSource{lookup: is.LookupToken}
	}
	return nil
}

// opaqueResult is the outcome of an opaque token's source and checks. It
// is shared by the requests of one introspection call and by cache hits,
// and never changed once made.
type opaqueResult struct {
	claims *claims.Claims // accepted: the checked claims, handed out as copies
	reason error          // refused (401): the specific sentinel
	facts  *tokenFacts    // refused: for the refusal log, if any
	err    *Error         // answered as it is (a copy): a 503, an *Error of LookupToken
	cnf    *confirmation  // accepted: how the token is bound, checked per request
	trust  *trust         // accepted: the rules of its issuer
}

// answer returns the result's claims, or its error, for one request.
func (r *opaqueResult) answer() (*claims.Claims, error) {
	switch {
	case r.err != nil:
		e := *r.err
		return nil, &e
	case r.reason != nil:
		e := invalidToken(r.reason, nil)
		e.facts = r.facts
		return nil, e
	}
	return copyClaims(r.claims), nil
}

// cacheable reports whether the result may be cached: a 503 never is, nor
// a token refused as not valid yet, which it may soon be.
func (r *opaqueResult) cacheable() bool {
	return r.err == nil && r.reason != ErrTokenNotYetValid
}

// validateOpaque is ValidateToken for a token that is not a compact JWS:
// it goes to the source of one issuer (opaqueTrust), judged by that
// issuer's rules. Without an opaque source for it, it is refused as
// malformed, as before opaque tokens were supported.
func (v *Validator) validateOpaque(ctx context.Context, token string, pr *presentation) (*claims.Claims, error) {
	ti := v.opaqueTrust(token)
	if ti == nil {
		return nil, v.refused(invalidToken(ErrMalformedToken, nil), checks.Parse, &jwsToken{})
	}
	o := ti.opaque
	if o.intro == nil {
		return v.bindOpaque(ctx, v.resolveOpaque(ctx, ti, token), token, pr)
	}
	key := o.intro.cacheKey(token)
	if o.cache != nil {
		now := v.cfg.now()
		if r, ok := o.cache.get(key, now); ok {
			v.observeIntrospection(ctx, time.Time{}, nil)
			// A refusal is answered by bindOpaque; accepted claims are
			// checked here as cached, and copied once, by bindOpaque.
			if c := r.claims; c != nil {
				if err := checkTimesAt(now, v.cfg.leeway(), c, expOptional); err != nil {
					return nil, v.refusedClaims(err, checks.Times, c)
				}
			}
			return v.bindOpaque(ctx, r, token, pr)
		}
	}
	r, err := v.introspectShared(ctx, ti, key, token)
	if err != nil {
		return nil, err
	}
	return v.bindOpaque(ctx, r, token, pr)
}

// bindOpaque ends the pipeline of an opaque token with the steps that
// depend on the request, not only on the token, and so are not shared or
// cached: how the token is bound (binding.go), then Config.Validate.
func (v *Validator) bindOpaque(ctx context.Context, r *opaqueResult, token string, pr *presentation) (*claims.Claims, error) {
	c, err := r.answer()
	if err != nil {
		return nil, err
	}
	pr.judged = r.trust
	if err := v.checkSender(ctx, r.trust, r.cnf, token, pr); err != nil {
		return nil, v.refusedClaims(err, checks.Binding, c)
	}
	return v.hook(ctx, c)
}

// introspectShared resolves token once for all the requests that ask at
// the same time: the first starts the call, detached from its context (the
// others share it) and bounded by Introspection.Timeout; each waits as long
// as its own context allows. The result is cached before the call ends, so
// that a request coming after it finds it.
func (v *Validator) introspectShared(ctx context.Context, ti *trust, key, token string) (*opaqueResult, error) {
	o := ti.opaque
	ch := o.flight.DoChan(key, func() (any, error) {
		r := v.resolveOpaque(context.WithoutCancel(ctx), ti, token)
		v.rememberOpaque(o, key, r)
		return r, nil
	})
	select {
	case res := <-ch:
		return res.Val.(*opaqueResult), nil
	case <-ctx.Done():
		return nil, unavailableFor(ErrIntrospectionFailed, time.Second, ctx.Err())
	}
}

// rememberOpaque caches r under key: an accepted token until its exp, at
// most Introspection.CacheTTL; a refused one for the negative TTL.
func (v *Validator) rememberOpaque(o *opaqueSource, key string, r *opaqueResult) {
	if o.cache == nil || !r.cacheable() {
		return
	}
	now := v.cfg.now()
	size := entrySize(key, 0)
	var expires time.Time
	if r.claims != nil {
		expires = now.Add(o.in.CacheTTL)
		if exp := r.claims.ExpiresAt; !exp.IsZero() && exp.Before(expires) {
			expires = exp
		}
		size = entrySize(key, len(r.claims.Payload))
	} else {
		expires = now.Add(o.in.negativeTTL())
	}
	o.cache.put(key, r, size, expires, now)
}

// resolveOpaque asks the token's source and checks what it says: the
// pipeline of an opaque token, one step per line, the steps of a JWT's
// claims from the issuer on.
func (v *Validator) resolveOpaque(ctx context.Context, ti *trust, token string) *opaqueResult {
	var p payload
	var app *claims.Claims // the claims of LookupToken
	var tokenType optionalString
	var err error
	rule := AudienceRequired
	if o := ti.opaque; o.intro != nil {
		start := time.Now()
		tokenType, err = o.intro.introspect(ctx, token, &p)
		v.observeIntrospection(ctx, start, err)
		rule = o.in.Audience
	} else {
		app, err = v.lookup(ctx, o, token, &p)
	}
	if err != nil {
		return v.opaqueRefusal(err, checks.Parse, &p)
	}
	if ti, err = v.checkOpaqueIssuer(ti, &p); err != nil {
		return v.opaqueRefusal(err, checks.Issuer, &p)
	}
	if err := checkOpaqueType(&p, tokenType); err != nil {
		return v.opaqueRefusal(err, checks.Type, &p)
	}
	if err := p.checkTimes(v.cfg.now(), v.cfg.leeway(), expOptional); err != nil {
		return v.opaqueRefusal(err, checks.Times, &p)
	}
	if app != nil {
		if err := ti.checkAudience(&p, rule); err != nil {
			return v.opaqueRefusal(err, checks.Audience, &p)
		}
		return &opaqueResult{claims: app, cnf: p.Cnf, trust: ti}
	}
	c, err := ti.checkClaims(&p, rule)
	if err != nil {
		return v.opaqueRefusal(err, claimsCheck(err), &p)
	}
	return &opaqueResult{claims: c, cnf: p.Cnf, trust: ti}
}

// opaqueRefusal is the result of a refusal err by check.
func (v *Validator) opaqueRefusal(err error, check string, p *payload) *opaqueResult {
	e := requestError(err)
	if e.category != ErrInvalidToken || e.cause != nil || e.reason == ErrClaimsRejected {
		// A 503, an *Error of LookupToken, one carrying a cause: answered
		// as it is, never cached.
		return &opaqueResult{err: e}
	}
	v.refused(e, check, &jwsToken{claims: *p})
	return &opaqueResult{reason: e.reason, facts: e.facts}
}

// checkOpaqueIssuer checks "iss" where present, and returns the rules the
// token is judged by: for introspection, the introspected issuer exactly
// (an answer without "iss" is its; one with an "iss" of "" or null names
// no issuer, as a JWT's would: refused); for LookupToken, the
// application's own store, any trusted issuer, whose rules then apply.
func (v *Validator) checkOpaqueIssuer(ti *trust, p *payload) (*trust, error) {
	if o := ti.opaque; o.intro != nil {
		switch {
		case !p.issSet:
			p.Iss = o.intro.issuer
		case p.Iss != o.intro.issuer:
			return nil, invalidToken(ErrInvalidIssuer, nil)
		}
		return ti, nil
	}
	if p.Iss == "" || p.Iss == ti.issuer {
		return ti, nil
	}
	if other := v.trusts[p.Iss]; other != nil {
		return other, nil
	}
	return nil, invalidToken(ErrInvalidIssuer, nil)
}

// checkOpaqueType refuses what is not an access token: a "token_type"
// other than "access_token", "Bearer" or "DPoP" (RFC 7662 §2.2 leaves its
// values to RFC 6749 §7.1 token types; compared in any case), or ID-token
// claims. "DPoP" is the type of a DPoP-bound token (RFC 9449 §6.2), which
// the binding step accepts with a proof of its "cnf" "jkt" and refuses as
// Bearer; an answer typed DPoP without a "jkt" says the token is bound but
// not to what: it cannot be checked.
func checkOpaqueType(p *payload, tokenType optionalString) error {
	if tokenType.set && strings.EqualFold(tokenType.s, "DPoP") {
		if p.Cnf == nil || len(p.Cnf.JKT) == 0 {
			return invalidToken(ErrUnsupportedConfirmation, nil)
		}
	} else if tokenType.set && !strings.EqualFold(tokenType.s, "access_token") && !strings.EqualFold(tokenType.s, "Bearer") {
		return invalidToken(ErrNotAccessToken, nil)
	}
	if p.idTokenSignal() {
		return invalidToken(ErrNotAccessToken, nil)
	}
	return nil
}

// lookup asks Config.LookupToken and fills p with what the checks read of
// its claims. Its errors: an *Error as it is, one matching ErrInvalidToken
// or ErrTokenInactive is 401 ErrTokenInactive, any other 503.
func (v *Validator) lookup(ctx context.Context, o *opaqueSource, token string, p *payload) (*claims.Claims, error) {
	c, err := o.lookup(ctx, token)
	if err != nil {
		var e *Error
		switch {
		case errors.As(err, &e):
			return nil, e
		case errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrTokenInactive):
			return nil, invalidToken(ErrTokenInactive, nil)
		}
		return nil, unavailableFor(ErrLookupFailed, time.Second, err)
	}
	if c == nil {
		return nil, invalidToken(ErrTokenInactive, nil)
	}
	c = copyClaims(c) // the application's store may keep its own
	p.Iss, p.Sub, p.Aud, p.ClientID = c.Issuer, c.Subject, c.Audience, c.ClientID
	p.Exp = numericDate{c.ExpiresAt, !c.ExpiresAt.IsZero()}
	p.Nbf = numericDate{c.NotBefore, !c.NotBefore.IsZero()}
	p.Iat = numericDate{c.IssuedAt, !c.IssuedAt.IsZero()}
	if len(c.Payload) > 0 {
		// Only "cnf" is read of the application's payload: the typed
		// fields are what it says of the rest.
		err := jsonscan.Object(c.Payload, func(name string, v []byte) error {
			if name == "cnf" {
				return readConfirmation(&p.Cnf, v)
			}
			return nil
		})
		if err != nil {
			return nil, unavailableFor(ErrLookupFailed, time.Second, err)
		}
	}
	return c, nil
}

// cacheKey is the key of token in the cache and the call coalescing: a
// SHA-256 hash of the endpoint (or the issuer it is discovered from) and
// the token, so that the token itself is not kept.
func (ix *introspector) cacheKey(token string) string {
	var buf [1024]byte // on the stack for tokens of up to about 1 kB
	in := append(append(append(buf[:0], ix.ident...), 0), token...)
	sum := sha256.Sum256(in)
	return string(sum[:])
}

// usable reports whether the source can resolve tokens now: LookupToken
// always, introspection once its endpoint is configured or discovered.
func (o *opaqueSource) usable() bool {
	if o.intro == nil {
		return true
	}
	if o.intro.in.Endpoint != "" {
		return true
	}
	o.intro.mu.Lock()
	defer o.intro.mu.Unlock()
	return o.intro.endpoint != ""
}
