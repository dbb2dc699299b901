// Package grpcguard protects gRPC servers with the OAuth 2.0 access tokens
// a [middleware.Validator] accepts: unary and stream server interceptors,
// and an auth.AuthFunc for servers built on go-grpc-middleware/v2, all on
// the core's one decision, [middleware.Validator.Check].
//
// # Calls as requests
//
// gRPC runs over HTTP/2 (a call is a POST to /package.Service/Method), and
// the Guard presents each call to the core as that request: the token is
// read from the "authorization" metadata with the Bearer scheme (RFC 6750
// §2.1) or, where the policy accepts DPoP, the DPoP scheme (RFC 9449 §7.1),
// under the same rules as an HTTP header (one value, a token68). A DPoP
// proof (RFC 9449 §4) comes from the "dpop" metadata; its "htm" must be
// POST and its "htu" https://<authority>/<package.Service>/<Method>, the
// call's :authority and full method name: the only convention in use for
// DPoP over gRPC, whatever the connection's own scheme
// (Config.DPoP.PublicBaseURL of the validator replaces scheme and host).
// A certificate-bound token (RFC 8705 §3) is checked against the client
// certificate of the call's TLS connection (credentials.TLSInfo of the
// peer); a connection without TLS presents none.
//
// # Methods
//
// [Config] maps full method names to a [middleware.Policy] each (scopes,
// claim values, the method's own check, step-up, DPoP mode); every other
// method gets Config.Default, a valid token by default; Config.Exempt
// lists methods served without a check, such as grpc.health.v1.Health.
//
// # Refusals
//
// A refused call gets the status of the HTTP answer (RFC 6750 §3):
//
//	HTTP 401 (no token, invalid token or proof, step-up)   Unauthenticated
//	HTTP 403 (insufficient_scope, insufficient_claims)     PermissionDenied
//	HTTP 400 (invalid_request)                             InvalidArgument
//	HTTP 503 (keys, introspection, replay store)           Unavailable + RetryInfo
//
// with the fixed description as the message and an errdetails.ErrorInfo
// (Domain [ErrorDomain], Reason the RFC 6750 error code, Metadata what the
// method requires: scope, claim, claim_values, acr_values, max_age). The
// WWW-Authenticate challenge is the trailer "www-authenticate", with
// "dpop-nonce" (RFC 9449 §9) and "retry-after" where HTTP sends those
// headers. Messages and details hold facts of the configuration only,
// never token content.
//
// The claims of an accepted token are in the handler's context
// ([claims.FromContext]).
package grpcguard
