package middleware

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/scopes"
)

// Authenticate returns a handler that lets a request through to next only
// with a valid access token, whatever its scopes. The token's claims are in
// the request's context ([claims.FromContext]).
func (v *Validator) Authenticate(next http.Handler) http.Handler {
	return v.handler(next, Policy{})
}

// AuthenticateOptional returns a handler that runs next anonymously when
// the request carries no token, and with the claims when it carries a valid
// one. A request with an invalid or malformed token is still refused: only
// the absence of a token is tolerated (as Authlib's optional=True).
func (v *Validator) AuthenticateOptional(next http.Handler) http.Handler {
	return v.handler(next, Policy{Optional: true})
}

// RequireScope returns a middleware that lets a request through only with a
// valid access token granted at least one of the alternatives. Each
// alternative is a space-separated list of scopes that are all required, as
// with Authlib's require_oauth:
//
//	v.RequireScope("read:users")                          // read:users
//	v.RequireScope("admin", "users:write users:delete")   // admin, or both others
//
// It panics if an alternative is empty or a scope is not a valid RFC 6749
// §3.3 scope token: that is a programmer error, caught when routes are
// registered. A scope with a comma, legal but almost always a list written
// as one scope ("read:users,write:users"), is logged as a warning through
// Config.Logger when the route is registered.
func (v *Validator) RequireScope(alternatives ...string) func(http.Handler) http.Handler {
	return v.Require(ScopePolicy(alternatives...))
}

// RequireClaim returns a middleware that lets a request through only with a
// valid access token whose claim holds every value of at least one
// alternative, as [ClaimValues] describes; a refusal is 403
// insufficient_claims naming the claim and its values:
//
//	v.RequireClaim("org_id", "org_123")                                   // Auth0 Organization
//	v.RequireClaim("permissions", "read:users write:users")               // Auth0 RBAC, both
//	v.RequireClaim("realm_access.roles", "auditor", "admin")              // Keycloak, either role
//
// Unlike Config.ScopeClaims, which merges claims into the scopes, it reads
// the named claim alone: a scope never stands in for a permission. It
// panics if the claim name or an alternative is invalid: that is a
// programmer error, caught when routes are registered.
func (v *Validator) RequireClaim(claim string, alternatives ...string) func(http.Handler) http.Handler {
	return v.Require(Policy{Claims: []ClaimRequirement{ClaimValues(claim, alternatives...)}})
}

// Require returns a middleware that lets a request through only if it
// meets p: a valid access token (unless p.Optional and no token is sent),
// the step-up requirements p.ACRValues and p.MaxAge (RFC 9470), p.Scopes,
// p.Claims and p.Check, in that order:
//
//	v.Require(middleware.Policy{ACRValues: []string{"urn:example:mfa"}, MaxAge: 5 * time.Minute})
//	v.Require(middleware.Policy{
//		Claims: []middleware.ClaimRequirement{middleware.ClaimValues("org_id", "org_123")},
//		Check:  func(ctx context.Context, c *claims.Claims) error { ... },
//	})
//
// It panics if p cannot be answered ([Policy.Validate]): that is a
// programmer error, caught when routes are registered.
func (v *Validator) Require(p Policy) func(http.Handler) http.Handler {
	if err := v.ValidatePolicy(p); err != nil {
		panic(err)
	}
	return func(next http.Handler) http.Handler {
		return v.handler(next, p)
	}
}

// ValidatePolicy is [Policy.Validate] for a route being registered with v:
// it returns the same error and, for what is legal but almost always a
// mistake (a scope or claim value containing a comma), logs one warning
// through Config.Logger. [Validator.Require] and the adapters call it;
// integrations built on [Validator.Check] should too, once per route.
func (v *Validator) ValidatePolicy(p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if l := v.cfg.Logger; l != nil {
		if vals := commaValues(p); len(vals) > 0 {
			l.Warn("bearerguard: a required scope or claim value contains a comma; alternatives are separate arguments and values of one alternative are separated by spaces",
				"values", vals)
		}
	}
	return nil
}

// Policy is what a route requires of a request. The zero Policy requires a
// valid access token and no particular scope. Its requirements are checked
// in the order of its fields below (after the token itself), and the first
// that fails answers the request.
type Policy struct {
	// Scopes are the alternatives of the scope requirement, as the
	// arguments of [Validator.RequireScope]: a token must hold every
	// space-separated scope of at least one of them. Empty (the zero
	// value) requires no scope. A token without the scopes is refused with
	// 403 insufficient_scope and a scope attribute (RFC 6750 §3.1). Each
	// alternative must hold at least one scope and only RFC 6749 §3.3
	// scope tokens ([Policy.Validate]).
	Scopes []string
	// Claims are requirements on claim values ([ClaimValues]), all of
	// which must be met: an Organization ("org_id"), a tenant, roles or
	// RBAC permissions read apart from the scopes. A token that fails one
	// is refused with 403 insufficient_claims ([ErrInsufficientClaims])
	// carrying the requirement's claim and values in the challenge; never
	// 401, since the token is valid.
	Claims []ClaimRequirement
	// Check, if set, is the route's own decision on the claims of a valid
	// token that met every other requirement, with the request's context.
	// A nil error lets the request through. An [*Error] (see [NewError]) is
	// answered as it is; any other error is answered 403
	// insufficient_claims matching [ErrCheckRejected], its text logged
	// through Config.Logger and never sent.
	Check func(ctx context.Context, c *claims.Claims) error
	// Optional lets requests that carry no token through, without claims.
	// A request with an invalid token is still refused.
	Optional bool
	// ACRValues, if set, are the acceptable authentication context classes
	// of the user's authentication (RFC 9470 §3): the token's "acr" claim
	// (or the claim named by Config.ACRClaim) must be one of them, or the
	// request is refused with 401 insufficient_user_authentication and an
	// acr_values attribute listing them. Each must be a non-empty string
	// of the RFC 6750 challenge character set without space (see
	// [Policy.Validate]).
	ACRValues []string
	// MaxAge, if positive, is the longest time since the user's
	// authentication that the route accepts (RFC 9470 §3): the token's
	// "auth_time" must be at most MaxAge (plus Config.Leeway) ago, or the
	// request is refused with 401 insufficient_user_authentication and a
	// max_age attribute in whole seconds. A token without "auth_time" is
	// refused. It may not be negative.
	//
	// With ACRValues or MaxAge set, tokens issued to a client on its own
	// behalf ([claims.Claims.Machine]) are refused the same way: the route
	// requires a user.
	MaxAge time.Duration
	// DPoP is the route's DPoP mode (RFC 9449): [DPoPOff], [DPoPAllowed]
	// or [DPoPRequired] override Config.DPoP.Mode; the zero value,
	// [DPoPDefault], takes it.
	DPoP DPoPMode
}

// ScopePolicy returns the Policy of [Validator.RequireScope]. It panics if
// the alternatives are invalid (see [scopes.NewRequirement]).
func ScopePolicy(alternatives ...string) Policy {
	scopes.MustRequirement(alternatives...)
	return Policy{Scopes: slices.Clone(alternatives)}
}

func (v *Validator) handler(next http.Handler, p Policy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Check(r, p)
		if err != nil {
			v.fail(w, r, requestError(err))
			return
		}
		v.SetSuccessHeaders(w.Header(), r)
		if c != nil {
			r = r.WithContext(claims.NewContext(r.Context(), c))
		}
		next.ServeHTTP(w, r)
	})
}

// Check is the whole decision for one request under policy p: token
// extraction (RFC 6750 §2), validation ([Validator.ValidateToken]) and the
// policy's requirements: the user's authentication (RFC 9470, 401), then
// the scopes (403 insufficient_scope), the claim requirements and the
// route's own check (403 insufficient_claims). A request without token under an optional policy
// yields nil claims and a nil error. Every error is an [*Error]; use
// [errors.As] to get its status and challenge. Framework adapters and
// custom integrations are built on it.
func (v *Validator) Check(r *http.Request, p Policy) (*claims.Claims, error) {
	start := v.observeStart()
	sc := schemes{mode: v.dpopMode(p)}
	c, ti, e := v.check(r, p, &sc)
	if e != nil {
		ec := *e // an *Error of Policy.Check or Validate may be shared
		ec.scheme = sc
		v.logRefusal(r, &ec, c, ti, &p)
		v.observeRequest(r.Context(), start, c, &ec)
		return nil, &ec
	}
	v.observeRequest(r.Context(), start, c, nil)
	return c, nil
}

// schemes says which authorization schemes a refusal's challenges name,
// and which of them carries the error (RFC 9449 §7.1): the scheme the
// request used, or DPoP when the route requires it. The zero value is
// Bearer alone.
type schemes struct {
	mode DPoPMode // the route's
	dpop bool     // the request used the DPoP scheme
}

// dpopMode returns the DPoP mode of a route with policy p.
func (v *Validator) dpopMode(p Policy) DPoPMode {
	if p.DPoP != DPoPDefault {
		return p.DPoP
	}
	if v.cfg.DPoP.Mode == DPoPDefault {
		return DPoPOff
	}
	return v.cfg.DPoP.Mode
}

// dpopOn reports whether m accepts the DPoP scheme; the zero mode of an
// [Error] made outside [Validator.Check] does not.
func (m DPoPMode) dpopOn() bool { return m == DPoPAllowed || m == DPoPRequired }

// check returns the decision for r under p, with the rules the token was
// judged by (presentation.judged). On a refusal, the claims are those of
// the token when the token itself was valid (the route's requirements
// refused it), else nil.
func (v *Validator) check(r *http.Request, p Policy, sc *schemes) (*claims.Claims, *trust, *Error) {
	if v.cfg.AllowUnauthenticatedPreflight && isPreflight(r) {
		return nil, nil, nil // Config.AllowUnauthenticatedPreflight
	}
	l := lookup{v: v}
	token, viaDPoP, e := extractToken(r, &v.cfg, sc.mode.dpopOn(), l.known)
	sc.dpop = viaDPoP
	if e != nil {
		if p.Optional && e.category == ErrNoToken {
			return nil, nil, nil
		}
		return nil, nil, e
	}
	if sc.mode == DPoPRequired && !viaDPoP {
		return nil, nil, invalidToken(ErrDPoPRequired, nil)
	}
	pr := v.present(r, viaDPoP) // on the stack: validate keeps no pointer to it
	pr.lookup = l
	c, err := v.validate(r.Context(), token, &pr)
	if err != nil {
		return nil, pr.judged, requestError(err)
	}
	ti := pr.judged
	if e := v.checkUserAuthentication(c, ti, p); e != nil {
		return c, ti, e
	}
	if len(p.Scopes) > 0 && !scopesAllow(p.Scopes, c.Scopes) {
		e := newError(ErrInsufficientScope, ErrInsufficientScope, nil)
		e.Scope = scopeChallenge(p.Scopes)
		return c, ti, e
	}
	if e := checkClaims(c, p); e != nil {
		return c, ti, e
	}
	if e := checkRoute(r.Context(), c, p); e != nil {
		return c, ti, e
	}
	return c, ti, nil
}

// fail answers a refused request: with the standard answer, or with the
// RFC 6750 headers and status set around Config.ErrorHandler, which renders
// the body. The handler may still change a header or write another status
// explicitly; if it writes nothing, or only a body, the status is e's.
func (v *Validator) fail(w http.ResponseWriter, r *http.Request, e *Error) {
	if v.cfg.ErrorHandler == nil {
		v.WriteError(w, e)
		return
	}
	v.SetHeaders(w.Header(), e)
	rw := &refusalWriter{ResponseWriter: w, status: e.Status}
	v.cfg.ErrorHandler(rw, r, e)
	if !rw.wroteHeader {
		w.WriteHeader(e.Status)
	}
}

// refusalWriter is the ResponseWriter of Config.ErrorHandler: a body
// written without a status goes out with the refusal's status, not 200.
type refusalWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *refusalWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *refusalWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(w.status)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets [http.ResponseController] reach the underlying writer.
func (w *refusalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// WriteError writes the standard answer for e: its status, the
// WWW-Authenticate challenge (RFC 6750 §3) with the validator's realm,
// Retry-After for 503, and the JSON body of [Error.Body].
func (v *Validator) WriteError(w http.ResponseWriter, e *Error) {
	v.SetHeaders(w.Header(), e)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e.Body())
}

// SetHeaders sets the WWW-Authenticate and Retry-After headers for e,
// Cache-Control: no-store (RFC 6750 §5.3 asks that refusals not be cached
// with the credentials they concern), and for [ErrUseDPoPNonce] a fresh
// DPoP-Nonce (RFC 9449 §9).
func (v *Validator) SetHeaders(h http.Header, e *Error) {
	h.Set("Cache-Control", "no-store")
	if e.reason == ErrUseDPoPNonce && v.noncesOn() {
		h.Set("DPoP-Nonce", v.newNonce())
	}
	if c := v.Challenge(e); c != "" {
		h.Set("WWW-Authenticate", c)
	}
	if e.Status == http.StatusServiceUnavailable {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	}
}

// Challenge returns the WWW-Authenticate value for e (RFC 6750 §3), or ""
// for a 503, which carries no challenge. An insufficient_user_authentication
// challenge carries acr_values and max_age (RFC 9470 §3); an
// insufficient_claims challenge for a claim requirement carries claim and
// claim_values (auth-params of its own, as RFC 6750 §3 allows); with
// Config.Resource set, every challenge carries resource_metadata (RFC 9728
// §5.1), 403 insufficient_scope included.
//
// On a route that accepts DPoP (RFC 9449 §7.1), the value holds a DPoP
// challenge with the algs attribute, after the Bearer challenge when Bearer
// is accepted too: one header field with two challenges, comma-separated,
// as RFC 9110 §11.6.1 allows. The error attributes go with the scheme the
// request used (DPoP when the route requires it).
func (v *Validator) Challenge(e *Error) string {
	if e.Status == http.StatusServiceUnavailable {
		return ""
	}
	var b strings.Builder
	sc := e.scheme
	dpopError := sc.dpop || sc.mode == DPoPRequired
	if sc.mode != DPoPRequired {
		v.challenge(&b, "Bearer", e, !dpopError)
	}
	if sc.mode.dpopOn() {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		v.challenge(&b, "DPoP", e, dpopError)
	}
	return b.String()
}

// challenge writes one challenge of scheme for e, with its error attributes
// if withError.
func (v *Validator) challenge(b *strings.Builder, scheme string, e *Error, withError bool) {
	b.WriteString(scheme)
	sep := " "
	attr := func(name, value string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(sanitize(value))
		b.WriteByte('"')
		sep = ", "
	}
	if v.cfg.Realm != "" {
		attr("realm", v.cfg.Realm)
	}
	if e.Code != "" && withError {
		attr("error", e.Code)
		if e.Description != "" {
			attr("error_description", e.Description)
		}
		if e.Scope != "" {
			attr("scope", e.Scope)
		}
		if e.Claim != "" {
			attr("claim", e.Claim)
			attr("claim_values", e.ClaimValues)
		}
		if e.ACRValues != "" {
			attr("acr_values", e.ACRValues)
		}
		if e.MaxAge > 0 {
			attr("max_age", strconv.FormatInt(int64(e.MaxAge/time.Second), 10))
		}
	}
	if scheme == "DPoP" {
		attr("algs", v.algsAttr)
	}
	if v.meta.url != "" {
		attr("resource_metadata", v.meta.url)
	}
}

// ErrorBody is the JSON body of a refusal.
type ErrorBody struct {
	// Error is the RFC 6750 error code, "unauthorized" when no token was
	// sent, or "temporarily_unavailable" for a 503.
	Error string `json:"error"`
	// Description is the fixed description of the error.
	Description string `json:"error_description,omitempty"`
	// Scope is the scope that would satisfy the route, for
	// insufficient_scope.
	Scope string `json:"scope,omitempty"`
	// Claim and ClaimValues are the claim and the values of the claim
	// requirement that failed, for insufficient_claims.
	Claim       string `json:"claim,omitempty"`
	ClaimValues string `json:"claim_values,omitempty"`
}

// Body returns the JSON body for e.
func (e *Error) Body() ErrorBody {
	code := e.Code
	if code == "" {
		code = "unauthorized"
	}
	return ErrorBody{Error: code, Description: e.Description, Scope: e.Scope, Claim: e.Claim, ClaimValues: e.ClaimValues}
}
