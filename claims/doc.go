// Package claims holds the verified claims of an OAuth 2.0 access token and
// carries them through a request's context.
//
// [Claims] exposes the registered claims of RFC 7519 §4.1 (iss, sub, aud,
// exp, nbf, iat, jti) as typed fields, the client the token was issued to
// (RFC 9068 §2.2 "client_id", and the "azp", "cid" and "appid" claims some
// issuers use instead), the granted scopes, and whether the token was issued
// to a machine through the client_credentials grant (RFC 6749 §4.4) or to a
// user. Custom claims are decoded on demand from the verified payload with
// [Claims.Decode] or looked up with [Claims.Lookup].
//
// A Claims value is built by package middleware after the token's signature
// and claims have been checked; handlers get it with [FromContext].
//
// This package depends on the standard library only.
package claims
