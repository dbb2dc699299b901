// Package scopes parses OAuth 2.0 scope values and checks them against the
// scope requirements of a route.
//
// A scope value is a space-delimited list of scope tokens (RFC 6749 §3.3).
// Access tokens carry their scopes in different claims depending on the
// issuer: "scope" (RFC 8693 §4.2, RFC 9068 §2.2.3), "scp" as a string or an
// array (Entra ID, Okta), "permissions" (Auth0 RBAC) or "roles" (Entra app
// roles). This package only deals with the values; which claim is read is
// decided by package middleware.
//
// A [Requirement] follows the semantics of Authlib's require_oauth: each
// alternative is enough on its own (OR), and the space-separated scopes inside
// one alternative are all needed (AND). The RFC 6750 §3 "scope" attribute of
// an insufficient_scope challenge is derived from it.
//
// This package depends on the standard library only.
package scopes
