// Package middlewaretest provides an in-process OAuth 2.0 / OpenID Connect
// authorization server for tests, in the spirit of net/http/httptest.
//
// An [Issuer] listens on a loopback address (127.0.0.1) and serves:
//
//   - GET /.well-known/openid-configuration: OpenID Connect Discovery 1.0
//     provider metadata (§3, §4).
//   - GET /.well-known/oauth-authorization-server: OAuth 2.0 Authorization
//     Server Metadata (RFC 8414 §2, §3).
//   - GET /jwks: the public signing keys as a JWK Set (RFC 7517 §5, with the
//     key parameters of RFC 7518 §6 and RFC 8037 §2, key IDs computed as
//     RFC 7638 thumbprints).
//   - POST /oauth/token: the client credentials grant (RFC 6749 §4.4) with
//     client_secret_basic and client_secret_post client authentication
//     (RFC 6749 §2.3.1), the Auth0 "audience" parameter and the RFC 8707
//     "resource" parameter, and RFC 6749 §5.2 error responses.
//   - POST /oauth/introspect: token introspection (RFC 7662 §2) of the
//     opaque tokens of [Issuer.OpaqueToken], for registered clients
//     authenticated with client_secret_basic, client_secret_post or
//     private_key_jwt (RFC 7523 §2.2, a [Client] with a PublicKey);
//     [Issuer.Revoke] revokes a token, [Issuer.IntrospectionRequests]
//     counts the calls.
//
// [Issuer.Token] mints signed tokens without a round trip. By default they
// follow the JWT profile for OAuth 2.0 access tokens (RFC 9068); the
// [Profile] constants reproduce the token shapes of common providers
// (Auth0, Logto, Keycloak, Microsoft Entra ID v2, Okta, Amazon Cognito), so
// a resource server can be tested against each without an account there.
// [Issuer.Sign] and [Issuer.SignWith] sign arbitrary headers and claims for
// negative tests: wrong algorithms, attacker keys, missing claims.
//
// Faults are injected with [Issuer.SetStatus], [Issuer.SetDelay],
// [Issuer.SetJWKS], [Issuer.RotateKey] and [Issuer.RemoveKey], and observed
// with [Issuer.JWKSRequests] and [Issuer.DiscoveryRequests].
//
// The package is for tests and demos only: keys live in memory, client
// secrets are compared in constant time but stored in plain text, and
// methods panic on programmer errors the way httptest does. An Issuer is
// safe for concurrent use.
//
// This package does not import the middleware package, so the middleware's
// own tests can use it.
package middlewaretest
