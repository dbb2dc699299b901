// Command bearerguard tells why bearerguard accepts or refuses an access
// token.
//
//	bearerguard explain -issuer URL -audience AUD [-scope S]... [-scope-claim C]... [-jwks-url URL] [TOKEN]
//	bearerguard decode [TOKEN]
//
// The token is read from the argument or, without one (or with "-"), from
// standard input, so that it stays out of the shell history.
//
// explain fetches the issuer's discovery document and keys as the
// middleware does, then runs the token through a real
// [middleware.Validator] and its [middleware.Validator.Check], with the
// route's scopes from -scope (each -scope is an alternative, as in
// RequireScope). It prints every check in the order the middleware makes
// them with PASS, FAIL, "----" (not reached) or "skip" (the route does not
// ask for it), the non-secret facts the middleware found in the token,
// the HTTP answer the middleware would give, and the refusal record
// Config.Logger would receive. When the issuer's keys cannot be had, it
// prints why, per issuer, as [middleware.Validator.Ready] reports it.
//
// decode prints the token's header and claims without verifying anything,
// under the label UNVERIFIED.
//
// Exit codes:
//
//	0  explain: the token is accepted; decode: decoded
//	1  explain: the token is refused (400, 401, 403); decode: not a JWS
//	2  usage error, or a configuration New refuses
//	3  explain: the issuer's keys could not be obtained (503)
package main
