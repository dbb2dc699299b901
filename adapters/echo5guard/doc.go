// Package echo5guard protects Echo v5 (github.com/labstack/echo/v5) routes
// with OAuth 2.0 JWT access tokens, as package middleware of bearerguard
// does for net/http and package echoguard does for Echo v4. Echo v4
// applications keep using echoguard; the two packages have the same API,
// but for Echo v5's handler type (func(*echo.Context) error) and error
// conventions.
//
// It is a translation of the core's decisions into Echo's idioms, with no
// settings of its own: [New] takes the core's [Config], and [Wrap] shares
// one validator between net/http handlers and Echo routes. The package name
// leaves "middleware" free for labstack's own package, so an Echo
// application imports both without an alias:
//
//	import (
//		"github.com/bearerguard/bearerguard/adapters/echo5guard"
//		"github.com/labstack/echo/v5"
//		"github.com/labstack/echo/v5/middleware"
//	)
//
// The bearer token is read from the Authorization header (RFC 6750 §2.1);
// the query and form-body methods (§2.2, §2.3), a cookie and a custom
// extractor follow the Config. A refused request makes the middleware
// return an error for the application's HTTPErrorHandler, as Echo v5's own
// middleware does: it is an [echo.HTTPStatusCoder] with the RFC 6750 §3
// status, it marshals to the core's JSON error body, and it unwraps to the
// [*Error] with the cause (errors.As). The WWW-Authenticate challenge
// (RFC 6750 §3), Cache-Control: no-store and, for a 503, Retry-After are
// already set on the response. Echo's default error handler thus answers
// exactly as the net/http middleware does:
//
//	no token                    401  WWW-Authenticate: Bearer
//	malformed request           400  Bearer error="invalid_request", error_description="..."
//	invalid token               401  Bearer error="invalid_token", error_description="..."
//	missing scope               403  Bearer error="insufficient_scope", error_description="...", scope="..."
//	claim requirement not met   403  Bearer error="insufficient_claims", error_description="...", claim="...", claim_values="..."
//	issuer keys not obtained    503  Retry-After: N
//
// An accepted request may carry a fresh DPoP-Nonce (RFC 9449 §9) when the
// validator issues server nonces and one is due.
//
// Routes may require claim values ([Guard.RequireClaim], Policy.Claims)
// and run their own check (Policy.Check). A handler that decides for
// itself refuses like the middleware with [Guard.Refuse]; the refusal
// categories ([ErrInsufficientClaims], ...), [NewError] and [ClaimValues]
// are here under the core's names, so no import of package middleware is
// needed to answer like the library.
//
// The claims of an accepted token are stored in the request's
// [context.Context], where [Claims] and, in code shared with net/http,
// [claims.FromContext] find them.
package echo5guard
