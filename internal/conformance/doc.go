// Package conformance is the one test suite every bearerguard front end
// passes: the net/http middleware, the Echo and Gin adapters, and the
// runnable programs under examples/.
//
// Each front end serves the same routes (see [Run]) and must give the same
// answer to every [Case]: the status, the exact WWW-Authenticate challenge
// of RFC 6750 §3, the presence of Retry-After on a 503, and the error,
// error_description and scope fields of the JSON body. The cases cover
// token extraction (RFC 6750 §2.1), the token rules of RFC 9068 §4 and
// RFC 8725, scope requirements with alternatives, optional authentication,
// the token shapes of common providers, and an issuer whose keys cannot be
// obtained.
//
// The package is for tests only.
package conformance
