package echo5guard

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/labstack/echo/v5"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
)

// Config configures the validator of a [Guard]; see [middleware.Config].
type Config = middleware.Config

// Issuer is a further trusted issuer, see Config.ExtraIssuers.
type Issuer = middleware.Issuer

// Policy is what a route requires of a request, for [Guard.Require]; see
// [middleware.Policy].
type Policy = middleware.Policy

// Error is the error behind every refusal: the error the middleware returns
// unwraps to it (errors.As). See [middleware.Error].
type Error = middleware.Error

// Guard makes Echo middleware from a validator. It is safe for concurrent
// use.
type Guard struct {
	v *middleware.Validator
}

// New returns a Guard with a new validator for cfg; see [middleware.New].
// It does not wait for the network: until the issuers' keys are obtained,
// requests with a token are answered 503. The validator's background
// goroutine runs until ctx is done.
func New(ctx context.Context, cfg Config) (*Guard, error) {
	v, err := middleware.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return Wrap(v), nil
}

// Wrap returns a Guard using v, to share one validator, its keys and its
// token cache between net/http handlers, Echo v4 and Echo v5 routes. It
// panics if v is nil.
func Wrap(v *middleware.Validator) *Guard {
	if v == nil {
		panic("echo5guard: Wrap of a nil Validator")
	}
	return &Guard{v: v}
}

// Validator returns the validator of g, for readiness probes
// ([middleware.Validator.Ready]) and net/http handlers.
func (g *Guard) Validator() *middleware.Validator { return g.v }

// Ready reports whether the guard can verify tokens, for a readiness probe:
// nil once the keys of at least one issuer are held, else an error that
// says, per issuer, why keys are missing; see [middleware.Validator.Ready].
// It does not block.
func (g *Guard) Ready() error { return g.v.Ready() }

// WaitReady waits until [Guard.Ready] would return nil, ctx is done or the
// guard's validator has stopped, and returns what Ready returns then, for
// start-up; see [middleware.Validator.WaitReady].
func (g *Guard) WaitReady(ctx context.Context) error { return g.v.WaitReady(ctx) }

// Authenticate returns middleware that lets a request through only with a
// valid access token, whatever its scopes.
func (g *Guard) Authenticate() echo.MiddlewareFunc {
	return g.middleware(middleware.Policy{})
}

// AuthenticateOptional returns middleware that lets a request without a
// token through anonymously ([Claims] then reports false), and one with a
// valid token through with its claims. A request with an invalid or
// malformed token is still refused.
func (g *Guard) AuthenticateOptional() echo.MiddlewareFunc {
	return g.middleware(middleware.Policy{Optional: true})
}

// RequireScope returns middleware that lets a request through only with a
// valid access token granted at least one of the alternatives. Each
// alternative is a space-separated list of scopes that are all required:
//
//	g.RequireScope("read:users")                        // read:users
//	g.RequireScope("admin", "users:write users:delete") // admin, or both others
//
// It panics if an alternative is empty or a scope is not a valid RFC 6749
// §3.3 scope token: that is a programmer error, caught when routes are
// registered.
func (g *Guard) RequireScope(alternatives ...string) echo.MiddlewareFunc {
	return g.Require(middleware.ScopePolicy(alternatives...))
}

// RequireClaim returns middleware that lets a request through only with a
// valid access token whose claim holds every value of at least one
// alternative, as [middleware.Validator.RequireClaim]; a refusal is 403
// insufficient_claims naming the claim and its values:
//
//	g.RequireClaim("org_id", "org_123")                    // Auth0 Organization
//	g.RequireClaim("permissions", "read:users write:users") // Auth0 RBAC, both
//
// It panics if the claim name or an alternative is invalid: that is a
// programmer error, caught when routes are registered.
func (g *Guard) RequireClaim(claim string, alternatives ...string) echo.MiddlewareFunc {
	return g.Require(Policy{Claims: []ClaimRequirement{ClaimValues(claim, alternatives...)}})
}

// Require returns middleware that lets a request through only if it meets
// p: a valid access token, the step-up requirements p.ACRValues and
// p.MaxAge (RFC 9470), p.Scopes, p.Claims and p.Check, as
// [middleware.Validator.Require]:
//
//	g.Require(echo5guard.Policy{ACRValues: []string{"urn:example:mfa"}, MaxAge: 5 * time.Minute})
//	g.Require(echo5guard.Policy{Claims: []echo5guard.ClaimRequirement{echo5guard.ClaimValues("org_id", "org_123")}})
//	g.Require(echo5guard.Policy{Scopes: []string{"payments:write"}, DPoP: echo5guard.DPoPRequired})
//
// It panics if p cannot be answered ([middleware.Policy.Validate]): that is
// a programmer error, caught when routes are registered. A scope or claim
// value with a comma is logged as a warning through Config.Logger
// ([middleware.Validator.ValidatePolicy]).
func (g *Guard) Require(p Policy) echo.MiddlewareFunc {
	if err := g.v.ValidatePolicy(p); err != nil {
		panic(err)
	}
	return g.middleware(p)
}

// ResourceMetadata returns a handler serving the protected resource
// metadata of Config.Resource (RFC 9728), as
// [middleware.Validator.ResourceMetadataHandler] (404 if Resource is not
// set), to be mounted at its path:
//
//	e.Any(g.Validator().ResourceMetadataPath(), g.ResourceMetadata())
func (g *Guard) ResourceMetadata() echo.HandlerFunc {
	return echo.WrapHandler(g.v.ResourceMetadataHandler())
}

func (g *Guard) middleware(p middleware.Policy) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			r := c.Request()
			cl, err := g.v.Check(r, p)
			if err != nil {
				// Reading a form body for a token (Config.AllowFormToken)
				// can hit Echo's own limit, such as BodyLimit's 413 (an
				// echo.HTTPStatusCoder): Echo's answer, as without the
				// guard.
				if se, ok := errors.AsType[statusError](err); ok {
					return se
				}
				e, _ := errors.AsType[*middleware.Error](err) // Check's errors are all *Error
				return g.Refuse(c, e)
			}
			g.v.SetSuccessHeaders(c.Response().Header(), r) // a fresh DPoP-Nonce when one is due
			if cl != nil {
				c.SetRequest(r.WithContext(claims.NewContext(r.Context(), cl)))
			}
			return next(c)
		}
	}
}

// Refuse answers c with e the way the middleware refuses a request: it sets
// the WWW-Authenticate challenge (RFC 6750 §3), Cache-Control: no-store
// and, for a 503, Retry-After (for use_dpop_nonce, DPoP-Nonce) on the
// response, and returns the error for the application's HTTPErrorHandler
// to render, by Echo v5's conventions: it is an [echo.HTTPStatusCoder]
// whose StatusCode is e.Status, a [json.Marshaler] whose JSON is the core's
// error body (so [echo.DefaultHTTPErrorHandler] writes exactly what the
// net/http middleware writes, with or without exposeError), and it unwraps
// to e. A handler that makes its own decision answers like the library
// with it:
//
//	if !allowed(cl) {
//		return g.Refuse(c, echo5guard.NewError(echo5guard.ErrInsufficientClaims, "", nil))
//	}
func (g *Guard) Refuse(c *echo.Context, e *Error) error {
	g.v.SetHeaders(c.Response().Header(), e)
	return refusal{e}
}

// statusError is an error that carries its HTTP status, as Echo v5's own
// errors do.
type statusError interface {
	error
	echo.HTTPStatusCoder
}

// refusal is the error of a refused request, as Echo v5's error handlers
// read errors: a status code, a JSON body, and the cause to unwrap.
type refusal struct{ e *Error }

// StatusCode implements [echo.HTTPStatusCoder].
func (r refusal) StatusCode() int { return r.e.Status }

// MarshalJSON returns the core's JSON error body.
func (r refusal) MarshalJSON() ([]byte, error) { return json.Marshal(r.e.Body()) }

// Error returns the text of the [*Error], for logs.
func (r refusal) Error() string { return r.e.Error() }

// Unwrap returns the [*Error].
func (r refusal) Unwrap() error { return r.e }

// Claims returns the claims of the request's access token, and false if the
// request passed [Guard.AuthenticateOptional] without a token or no Guard
// middleware ran. It reads the request's context, like [claims.FromContext].
func Claims(c *echo.Context) (*claims.Claims, bool) {
	return claims.FromContext(c.Request().Context())
}
