// Package ginguard protects Gin (github.com/gin-gonic/gin) routes with
// OAuth 2.0 JWT access tokens, as package middleware of bearerguard does for
// net/http.
//
// It is a translation of the core's decisions into Gin's idioms, with no
// settings of its own: [New] takes the core's [Config], and [Wrap] shares
// one validator between net/http handlers and Gin routes. A Gin application
// imports it without an alias and without bearerguard's middleware package.
//
// The bearer token is read from the Authorization header (RFC 6750 §2.1);
// the query and form-body methods (§2.2, §2.3), a cookie and a custom
// extractor follow the Config. A refused
// request is aborted: the WWW-Authenticate challenge (RFC 6750 §3) and, for
// a 503, Retry-After are set, the [*Error] with the cause is recorded with
// [gin.Context.Error] for logging middleware, and the core's JSON error body
// is written with [gin.Context.AbortWithStatusJSON]. The answers are those
// of the net/http middleware:
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
// [claims.FromContext] find them. Nothing is stored under a string key of
// the gin.Context.
package ginguard
