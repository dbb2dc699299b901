// Package echoguard protects Echo (github.com/labstack/echo/v4) routes with
// OAuth 2.0 JWT access tokens, as package middleware of bearerguard does for
// net/http.
//
// It is a translation of the core's decisions into Echo's idioms, with no
// settings of its own: [New] takes the core's [Config], and [Wrap] shares
// one validator between net/http handlers and Echo routes. The package name
// leaves "middleware" free for labstack's own package, so an Echo
// application imports both without an alias:
//
//	import (
//		"github.com/bearerguard/bearerguard/adapters/echoguard"
//		"github.com/labstack/echo/v4"
//		"github.com/labstack/echo/v4/middleware"
//	)
//
// The bearer token is read from the Authorization header (RFC 6750 §2.1);
// the query and form-body methods (§2.2, §2.3), a cookie and a custom
// extractor follow the Config. A refused
// request makes the middleware return an [*echo.HTTPError] whose Code is the
// RFC 6750 §3 status, whose Message is the core's JSON error body, and whose
// Internal is the [*Error] with the cause, for the application's
// HTTPErrorHandler; the WWW-Authenticate challenge (RFC 6750 §3) and, for a
// 503, Retry-After are already set on the response. Echo's default error
// handler thus answers exactly as the net/http middleware does:
//
//	no token                    401  WWW-Authenticate: Bearer
//	malformed request           400  Bearer error="invalid_request", error_description="..."
//	invalid token               401  Bearer error="invalid_token", error_description="..."
//	missing scope               403  Bearer error="insufficient_scope", error_description="...", scope="..."
//	claim requirement not met   403  Bearer error="insufficient_claims", error_description="...", claim="...", claim_values="..."
//	issuer keys not obtained    503  Retry-After: N
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
package echoguard
