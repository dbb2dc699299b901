package middleware

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// This file adds issuers at run time (Config.ResolveIssuer): asked for an
// "iss" that no configured issuer or template matches, the application's
// resolver returns that issuer's settings or refuses. What it returns is
// held as a configured issuer (its rules, its keys fetched on its first
// token by the same single-owner machinery of keys.go), in a bounded LRU:
// the least recently used is evicted, its refresh stopped. A refusal is
// remembered for ResolverRefusalTTL in a bounded table, and the resolver is
// asked at most MaxResolutionsPerSecond times a second: a flood of tokens
// with random "iss" values makes no network call and leaves no lasting
// state.

// Bounds of Config.ResolveIssuer. They are part of the documented
// behaviour (SECURITY.md).
const (
	// DefaultMaxResolvedIssuers is the default of Config.MaxResolvedIssuers.
	DefaultMaxResolvedIssuers = 1000
	// ResolverRefusalTTL is how long an issuer the resolver refused is
	// refused without asking it again.
	ResolverRefusalTTL = time.Minute
	// MaxResolverRefusals bounds the refusals remembered; when full, the
	// table starts afresh.
	MaxResolverRefusals = 4096
	// MaxResolutionsPerSecond bounds how often the resolver is asked; a
	// token of an unknown issuer beyond it is answered 503 with
	// Retry-After ([ErrResolverBusy]).
	MaxResolutionsPerSecond = 20
	// maxResolvedIssuerSize bounds the "iss" values the resolver is asked
	// about, in bytes.
	maxResolvedIssuerSize = 1024
)

// resolver holds the issuers Config.ResolveIssuer returned.
type resolver struct {
	max    int
	flight singleflight.Group

	mu      sync.Mutex
	live    map[string]*list.Element // of *trust, most recently used first
	lru     list.List
	refused map[string]time.Time // refusals, until when
	window  time.Time            // start of the current second of calls
	calls   int                  // resolver calls in window
}

// resolveTrust returns the rules of issuer iss, asking Config.ResolveIssuer
// if it is not held. It fetches nothing: the keys of a new issuer are
// fetched by its own goroutine, on the token's request for them.
func (v *Validator) resolveTrust(ctx context.Context, iss string) (*trust, error) {
	r := v.resolver
	now := time.Now()
	r.mu.Lock()
	if e := r.live[iss]; e != nil {
		r.lru.MoveToFront(e)
		r.mu.Unlock()
		return e.Value.(*trust), nil
	}
	if until, ok := r.refused[iss]; ok && now.Before(until) {
		r.mu.Unlock()
		return nil, invalidToken(ErrInvalidIssuer, nil)
	}
	r.mu.Unlock()
	if len(iss) > maxResolvedIssuerSize || checkURL(iss, v.cfg.InsecureAllowHTTPIssuer) != nil {
		return nil, invalidToken(ErrInvalidIssuer, nil)
	}
	ch := r.flight.DoChan(iss, func() (any, error) {
		return v.resolveNew(context.WithoutCancel(ctx), iss)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*trust), nil
	case <-ctx.Done():
		return nil, unavailable(time.Second, ctx.Err())
	}
}

// resolveNew asks the resolver about iss, within the rate, and holds what
// it returns.
func (v *Validator) resolveNew(ctx context.Context, iss string) (*trust, error) {
	r := v.resolver
	now := time.Now()
	r.mu.Lock()
	if e := r.live[iss]; e != nil { // resolved while this call waited
		r.mu.Unlock()
		return e.Value.(*trust), nil
	}
	if now.Sub(r.window) >= time.Second {
		r.window, r.calls = now, 0
	}
	if r.calls >= MaxResolutionsPerSecond {
		r.mu.Unlock()
		return nil, unavailableFor(ErrResolverBusy, time.Second, nil)
	}
	r.calls++
	r.mu.Unlock()

	is, err := v.cfg.ResolveIssuer(ctx, iss)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, unavailableFor(ErrResolverFailed, time.Second, err)
	}
	if is != nil {
		cp := *is
		is = &cp
		if is.Issuer == "" {
			is.Issuer = iss
		}
		if err = v.checkResolved(is, iss); err != nil {
			v.logResolver(ctx, iss, err)
			is = nil
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if is == nil {
		if len(r.refused) >= MaxResolverRefusals {
			r.refused = make(map[string]time.Time)
		}
		r.refused[iss] = now.Add(ResolverRefusalTTL)
		return nil, invalidToken(ErrInvalidIssuer, nil)
	}
	ti := newTrust(&v.cfg, is, v.client)
	kctx, cancel := context.WithCancel(v.ctx)
	ti.keys = newIssuerKeys(&v.cfg, v.client, *is)
	ti.keys.resolved = true
	ti.stop = cancel
	go ti.keys.run(kctx)
	r.live[iss] = r.lru.PushFront(ti)
	for len(r.live) > r.max {
		old := r.lru.Back()
		r.lru.Remove(old)
		ot := old.Value.(*trust)
		delete(r.live, ot.issuer)
		ot.evict()
	}
	return ti, nil
}

// checkResolved checks the settings the resolver returned for iss.
func (v *Validator) checkResolved(is *Issuer, iss string) error {
	switch {
	case is.Issuer != iss:
		return configError("ResolveIssuer returned issuer %q for %q", is.Issuer, iss)
	case is.Introspection != nil || is.LookupToken != nil || is.OpaqueOnly || is.OpaqueTokenPrefix != "":
		return configError("ResolveIssuer returned an opaque-token source for %q: opaque tokens carry no iss", iss)
	}
	return v.cfg.checkIssuer(is, false)
}

// logResolver logs settings of the resolver that were refused.
func (v *Validator) logResolver(ctx context.Context, iss string, err error) {
	if l := v.cfg.Logger; l != nil {
		l.WarnContext(ctx, "bearerguard: ResolveIssuer returned settings that are not valid: issuer refused", "issuer", iss, "error", err)
	}
}

// ForgetIssuer drops an issuer Config.ResolveIssuer returned: its keys'
// refresh stops, and its next token asks the resolver again (a tenant
// offboarded). Tokens of the issuer in the token cache are no longer
// accepted from it. It does nothing for an issuer that is not held.
func (v *Validator) ForgetIssuer(iss string) {
	r := v.resolver
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.live[iss]; e != nil {
		r.lru.Remove(e)
		delete(r.live, iss)
		e.Value.(*trust).evict()
	}
}

// evict stops a resolved issuer's keys and makes its cached tokens miss.
func (ti *trust) evict() {
	ti.gone.Store(true)
	if ti.stop != nil {
		ti.stop()
	}
}

// newResolver returns the resolver of a checked cfg, or nil.
func newResolver(cfg *Config) *resolver {
	if cfg.ResolveIssuer == nil {
		return nil
	}
	n := cfg.MaxResolvedIssuers
	if n <= 0 {
		n = DefaultMaxResolvedIssuers
	}
	return &resolver{
		max:     n,
		live:    make(map[string]*list.Element),
		refused: make(map[string]time.Time),
	}
}
