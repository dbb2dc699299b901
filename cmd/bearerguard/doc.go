// Command bearerguard tells why bearerguard accepts or refuses an access
// token.
//
//	bearerguard explain -issuer URL... -audience AUD... [-client-id ID]... [-jwks-url URL]
//	    [-scope S]... [-scope-claim C]... [-claim CLAIM=VALUES]...
//	    [-acr-values ACR]... [-max-age D] [-acr-claim C]
//	    [-method M] [-url URL] [-dpop-proof FILE] [-dpop allowed|required] [-public-base-url URL] [-client-cert FILE]
//	    [-introspect] [-introspection-endpoint URL] [-introspection-auth-method M]
//	    [TOKEN]
//	bearerguard decode [TOKEN]
//
// The token is read from the argument or, without one (or with "-"), from
// standard input, so that it stays out of the shell history.
//
// explain fetches the issuer's discovery document and keys as the
// middleware does, then runs the token through a real
// [middleware.Validator] and its [middleware.Validator.Check] with the
// route's policy: scopes from -scope (each -scope is an alternative, as in
// RequireScope), claim requirements from -claim CLAIM=VALUES (repeat a
// claim for alternatives, as in RequireClaim), step-up from -acr-values
// and -max-age. A request is GET / unless -method and -url say otherwise;
// with -dpop-proof FILE the token is sent with the DPoP scheme and the
// proof read from FILE, checked against -method and -url (DPoP's
// PublicBaseURL is the scheme and host of -url unless -public-base-url
// says otherwise; server nonces are not reproduced). -issuer may be
// repeated: the first is Config.Issuer, the others ExtraIssuers.
// -client-cert FILE is the PEM client certificate of the TLS connection,
// for certificate-bound tokens (RFC 8705). With
// -introspect, opaque tokens are introspected as the client whose id and
// secret are in the environment variables
// BEARERGUARD_INTROSPECTION_CLIENT_ID and
// BEARERGUARD_INTROSPECTION_CLIENT_SECRET: credentials are never flags,
// which other users of the machine see in ps. It prints every check in the order the middleware makes
// them with PASS, FAIL, "----" (not reached) or "skip" (the route does not
// ask for it), the non-secret facts the middleware found in the token,
// the HTTP answer the middleware would give, and the refusal record
// Config.Logger would receive, with its hint when the middleware has one
// (a claim outside ScopeClaims holding a wanted scope, an issuer differing
// only by a trailing slash). When the issuer's keys cannot be had, it
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
