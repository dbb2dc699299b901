package middleware

import (
	"context"
	"time"

	"github.com/bearerguard/bearerguard/claims"
)

// This file is the validator's reporting seam: what happens is handed to
// Config.Observer as events, at one call per event, from the places it
// happens (Check, an issuer's key fetch, an introspection call or cache
// hit, a DPoP replay check). A nil func of the Observer costs one
// comparison: no clock read, no allocation.

// Observer receives events of a validator, for metrics or traces (package
// otelguard turns them into OpenTelemetry metrics), as
// net/http/httptrace.ClientTrace receives those of a request. Every field
// is optional; a nil field observes nothing. The funcs are called
// synchronously, on the request's goroutine or an issuer's refresh
// goroutine, possibly at the same time: they must be safe for concurrent
// use and quick, and must not block. The events hold no token, claim value
// or secret; an event's error is the validator's own (an [*Error] for
// requests) and must not be sent to clients.
type Observer struct {
	// Request is called once per [Validator.Check], so once per request
	// of the net/http middleware and of every adapter, when its decision
	// is made.
	Request func(ctx context.Context, e RequestEvent)
	// KeyFetch is called after each fetch of an issuer's keys (discovery,
	// if needed, and the JWK Set), periodic or asked for by a token with
	// an unknown kid.
	KeyFetch func(ctx context.Context, e KeyFetchEvent)
	// Introspection is called after each call to an introspection
	// endpoint (RFC 7662) and for each answer taken from
	// Introspection's cache instead.
	Introspection func(ctx context.Context, e IntrospectionEvent)
	// Replay is called after each DPoP proof is offered to the replay
	// store (RFC 9449 §11.1).
	Replay func(ctx context.Context, e ReplayEvent)
}

// RequestEvent is the decision on one request.
type RequestEvent struct {
	// Err is the refusal, or nil for a request let through.
	Err *Error
	// Anonymous says that the request was let through without a token: an
	// optional policy's request without token, or a preflight let through
	// by Config.AllowUnauthenticatedPreflight.
	Anonymous bool
	// Issuer is the issuer of a verified token, one of the configured
	// trusted issuers exactly as configured (a template for its tenants;
	// the request was accepted, or refused by the route's requirements);
	// "" otherwise, and for an issuer of Config.ResolveIssuer.
	Issuer string
	// Duration is how long the decision took.
	Duration time.Duration
}

// KeyFetchEvent is one fetch of an issuer's keys.
type KeyFetchEvent struct {
	// Issuer is the issuer whose keys were fetched, as configured (a
	// template for all its tenants; templates that share one JWKSURL share
	// their keys and are reported under the first of them, as
	// EntraMultiTenant's v1.0 template under its v2.0 one); "" for an
	// issuer of Config.ResolveIssuer, as in RequestEvent.
	Issuer string
	// Err is why the fetch failed (matching [ErrDiscoveryFailed],
	// [ErrJWKSUnusable], [ErrFetchTimeout], ...), or nil.
	Err error
	// Duration is how long the fetch took.
	Duration time.Duration
	// Ready says that the issuer has keys after the fetch (a failed fetch
	// keeps the keys held).
	Ready bool
}

// IntrospectionEvent is one introspection call, or one answer taken from
// the cache.
type IntrospectionEvent struct {
	// Cached says that the answer came from Introspection's cache: no call
	// was made, and Err and Duration are zero.
	Cached bool
	// Err is nil for an active token, an error matching [ErrTokenInactive]
	// for an inactive one, and otherwise why the call failed (matching
	// [ErrIntrospectionFailed] or [ErrMalformedToken]).
	Err error
	// Duration is how long the call took.
	Duration time.Duration
}

// ReplayEvent is one DPoP proof offered to the replay store.
type ReplayEvent struct {
	// Added says that the store recorded the proof: its first use.
	Added bool
	// Err is the store's failure, or nil.
	Err error
}

// observeStart returns the start time of a request's decision, or the
// zero time when no one observes requests.
func (v *Validator) observeStart() time.Time {
	if v.cfg.Observer.Request == nil {
		return time.Time{}
	}
	return time.Now()
}

// observeRequest reports the decision on a request that started at start:
// c the claims of a verified token (nil if none), e the refusal (nil if
// none).
func (v *Validator) observeRequest(ctx context.Context, start time.Time, c *claims.Claims, e *Error) {
	if v.cfg.Observer.Request != nil {
		v.reportRequest(ctx, start, c, e)
	}
}

func (v *Validator) reportRequest(ctx context.Context, start time.Time, c *claims.Claims, e *Error) {
	ev := RequestEvent{Err: e, Anonymous: c == nil && e == nil, Duration: time.Since(start)}
	if c != nil {
		// A configured issuer only: a template stands for its tenants,
		// and issuers of Config.ResolveIssuer are not reported by name.
		if ti := v.trustNamed(c.Issuer); ti != nil {
			ev.Issuer = ti.issuer
		}
	}
	v.cfg.Observer.Request(ctx, ev)
}

// observeKeyFetch reports a fetch of ik's keys that started at start,
// unless the validator was stopped during it.
func (ik *issuerKeys) observeKeyFetch(ctx context.Context, start time.Time, err error) {
	if f := ik.cfg.Observer.KeyFetch; f != nil && ctx.Err() == nil {
		ev := KeyFetchEvent{Issuer: ik.issuer, Err: err, Duration: time.Since(start), Ready: ik.set.Load() != nil}
		if ik.resolved { // its name came from a token, as in reportRequest
			ev.Issuer = ""
		}
		f(ctx, ev)
	}
}

// observeIntrospection reports an introspection call that started at
// start, or with a zero start, an answer from the cache.
func (v *Validator) observeIntrospection(ctx context.Context, start time.Time, err error) {
	if f := v.cfg.Observer.Introspection; f != nil {
		ev := IntrospectionEvent{Cached: start.IsZero(), Err: err}
		if !ev.Cached {
			ev.Duration = time.Since(start)
		}
		f(ctx, ev)
	}
}

// observeReplay reports a DPoP proof offered to the replay store.
func (v *Validator) observeReplay(ctx context.Context, added bool, err error) {
	if f := v.cfg.Observer.Replay; f != nil {
		f(ctx, ReplayEvent{Added: added, Err: err})
	}
}
