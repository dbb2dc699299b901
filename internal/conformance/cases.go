package conformance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"net/http"
	"strings"
	"time"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// refusal is the expected answer to a refused request.
type refusal struct {
	status             int
	code, desc, scope  string
	acrValues, maxAge  string // challenge attributes of RFC 9470 §3
	claim, claimValues string // challenge attributes of insufficient_claims
	retryAfter         bool
}

// The refusals of the core, as they appear on the wire. The descriptions
// are fixed texts sent to clients: changing one changes the protocol.
var (
	noToken          = refusal{status: 401, code: "unauthorized", desc: "a bearer token is required"}
	malformedHeader  = invalidRequest("malformed authorization header")
	multipleHeaders  = invalidRequest("more than one authorization header")
	malformedToken   = invalidToken("the token is malformed")
	unsupportedAlg   = invalidToken("the token is signed with an unsupported algorithm")
	unknownKey       = invalidToken("the token is signed with an unknown key")
	badSignature     = invalidToken("the token signature is invalid")
	untrustedIssuer  = invalidToken("the token issuer is not trusted")
	wrongAudience    = invalidToken("the token audience is not accepted")
	expired          = invalidToken("the token has expired")
	notYetValid      = invalidToken("the token is not valid yet")
	notAccessToken   = invalidToken("the token is not an access token")
	senderConstraint = invalidToken("the token is bound to a key and cannot be used as a bearer token")
	uncheckedBinding = invalidToken("the token is bound to a key in a way that cannot be checked")
	keysUnavailable  = refusal{status: 503, code: "temporarily_unavailable", desc: "the issuer keys are temporarily unavailable", retryAfter: true}
)

func invalidRequest(desc string) refusal {
	return refusal{status: 400, code: "invalid_request", desc: desc}
}

func invalidToken(desc string) refusal {
	return refusal{status: 401, code: "invalid_token", desc: desc}
}

// stepUp is a refusal for a route's step-up requirements (RFC 9470 §3).
func stepUp(desc, acrValues, maxAge string) refusal {
	return refusal{status: 401, code: "insufficient_user_authentication", desc: desc, acrValues: acrValues, maxAge: maxAge}
}

func insufficientScope(scope string) refusal {
	return refusal{status: 403, code: "insufficient_scope", desc: "the token lacks the required scope", scope: scope}
}

// insufficientClaims is the refusal of a claim requirement (claim set) or
// of a route's own check (claim empty).
func insufficientClaims(desc, claim, values string) refusal {
	return refusal{status: 403, code: "insufficient_claims", desc: desc, claim: claim, claimValues: values}
}

// challenge is the WWW-Authenticate value of r for a validator without
// realm (RFC 6750 §3): none for a 503, no attributes without a token.
func (r refusal) challenge() string {
	switch r.status {
	case 503:
		return ""
	case 401:
		if r.code == "unauthorized" {
			return "Bearer"
		}
	}
	s := `Bearer error="` + r.code + `", error_description="` + r.desc + `"`
	if r.scope != "" {
		s += `, scope="` + r.scope + `"`
	}
	if r.claim != "" {
		s += `, claim="` + r.claim + `", claim_values="` + r.claimValues + `"`
	}
	if r.acrValues != "" {
		s += `, acr_values="` + r.acrValues + `"`
	}
	if r.maxAge != "" {
		s += `, max_age="` + r.maxAge + `"`
	}
	return s
}

// withMetadata is c for a validator whose Config.Resource is [Audience]:
// its challenge, if any, carries resource_metadata (RFC 9728 §5.1).
func withMetadata(c Case) Case {
	const attr = `resource_metadata="` + MetadataURL + `"`
	switch c.Challenge {
	case "":
	case "Bearer":
		c.Challenge += " " + attr
	default:
		c.Challenge += ", " + attr
	}
	return c
}

func (r refusal) on(name, method, path string, h http.Header) Case {
	return Case{
		Name: name, Method: method, Path: path, Header: h,
		Status: r.status, Challenge: r.challenge(),
		Error: r.code, Description: r.desc, Scope: r.scope, RetryAfter: r.retryAfter,
		Claim: r.claim, ClaimValues: r.claimValues,
	}
}

func ok(name, method, path string, h http.Header, body map[string]any) Case {
	return Case{Name: name, Method: method, Path: path, Header: h, Status: http.StatusOK, Body: body}
}

func bearer(token string) http.Header {
	return authorization("Bearer " + token)
}

func authorization(values ...string) http.Header {
	return http.Header{"Authorization": values}
}

// me is the /me body of a token of the default user and client.
func me(scopes ...string) map[string]any {
	return map[string]any{"sub": "user-123", "client_id": "test-client", "scopes": scopes}
}

// Cases returns the cases for an app whose validator trusts iss, accepts
// [Audience], and leaves every other field of middleware.Config at its
// default except the timing fields: no realm, tokens in the Authorization
// header only, scopes read from "scope" and "scp". Tokens are minted at the
// call and stay valid for an hour.
//
// Cases makes iss create the keys of every algorithm it uses, such as
// ES384: call it before the app under test starts, so that the app's first
// fetch of the JWK Set has them.
func Cases(iss *middlewaretest.Issuer) []Case {
	tok := func(s middlewaretest.Spec) string { return iss.Token(s) }
	scoped := func(scopes ...string) string { return tok(middlewaretest.Spec{Scopes: scopes}) }
	valid := scoped("read:users")
	now := time.Now()
	registered := map[string]any{
		"iss": iss.URL, "sub": "user-123", "aud": Audience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "client_id": "test-client",
	}
	without := func(name string) map[string]any {
		m := make(map[string]any, len(registered))
		for k, v := range registered {
			if k != name {
				m[k] = v
			}
		}
		return m
	}
	seg := strings.Split(valid, ".")
	other := strings.Split(scoped("admin"), ".")
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(iss.PublicKey("RS256"))
	if err != nil {
		panic(err)
	}
	const (
		get, post, del = http.MethodGet, http.MethodPost, http.MethodDelete
		users, user42  = "/users", "/users/42"
	)

	return []Case{
		ok("health is public", get, "/health", nil, nil),
		ok("health ignores a bad token", get, "/health", bearer("not-a-jwt"), nil),

		// Token extraction (RFC 6750 §2.1).
		noToken.on("no token", get, "/me", nil),
		noToken.on("Basic scheme", get, "/me", authorization("Basic dXNlcjpwYXNz")),
		noToken.on("query token not enabled", get, "/me?access_token="+valid, nil),
		malformedHeader.on("Bearer without token", get, "/me", authorization("Bearer")),
		malformedHeader.on("Bearer and space without token", get, "/me", authorization("Bearer ")),
		malformedHeader.on("token with a space", get, "/me", authorization("Bearer "+seg[0]+" "+seg[1])),
		malformedHeader.on("token with illegal characters", get, "/me", authorization("Bearer "+valid+"$")),
		malformedHeader.on("scheme with a colon", get, "/me", authorization("Bearer: "+valid)),
		multipleHeaders.on("two Authorization headers", get, "/me", authorization("Bearer "+valid, "Bearer "+valid)),
		ok("lowercase scheme", get, "/me", authorization("bearer "+valid), me("read:users")),
		ok("uppercase scheme", get, "/me", authorization("BEARER "+valid), me("read:users")),
		ok("several spaces", get, "/me", authorization("Bearer    "+valid), me("read:users")),

		// Token rules (RFC 9068 §4, RFC 8725).
		ok("valid token", get, "/me", bearer(valid), me("read:users")),
		ok("ES256", get, "/me", bearer(tok(middlewaretest.Spec{Alg: "ES256"})), nil),
		ok("PS256", get, "/me", bearer(tok(middlewaretest.Spec{Alg: "PS256"})), nil),
		ok("EdDSA", get, "/me", bearer(tok(middlewaretest.Spec{Alg: "EdDSA"})), nil),
		malformedToken.on("not a JWT", get, "/me", bearer("not-a-jwt")),
		malformedToken.on("JWE shape", get, "/me", bearer("eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn")),
		expired.on("expired", get, "/me", bearer(tok(middlewaretest.Spec{Lifetime: -time.Hour}))),
		expired.on("no exp", get, "/me", bearer(iss.Sign(nil, without("exp")))),
		notYetValid.on("issued in the future", get, "/me", bearer(tok(middlewaretest.Spec{IssuedAt: now.Add(time.Hour)}))),
		untrustedIssuer.on("untrusted issuer", get, "/me", bearer(tok(middlewaretest.Spec{Claims: map[string]any{"iss": "https://evil.example.test"}}))),
		wrongAudience.on("wrong audience", get, "/me", bearer(tok(middlewaretest.Spec{Audience: []string{"https://other.example.test"}}))),
		notAccessToken.on("ID token", get, "/me", bearer(tok(middlewaretest.Spec{Kind: middlewaretest.IDToken, Audience: []string{Audience}}))),
		notAccessToken.on("typ logout+jwt", get, "/me", bearer(tok(middlewaretest.Spec{Header: map[string]any{"typ": "logout+jwt"}}))),
		senderConstraint.on("DPoP-bound token", get, "/me", bearer(tok(middlewaretest.Spec{Claims: map[string]any{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}}))),
		uncheckedBinding.on("token bound by a kid", get, "/me", bearer(tok(middlewaretest.Spec{Claims: map[string]any{"cnf": map[string]any{"kid": "k1"}}}))),
		uncheckedBinding.on("token bound by jkt and an unknown member", get, "/optional", bearer(tok(middlewaretest.Spec{Claims: map[string]any{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", "x": 1}}}))),
		malformedToken.on("alg none", get, "/me", bearer(iss.Sign(map[string]any{"alg": "none"}, registered))),
		unsupportedAlg.on("alg none with a signature", get, "/me", bearer(iss.Sign(map[string]any{"alg": "none"}, registered)+"c2ln")),
		unsupportedAlg.on("HS256 keyed with the public key", get, "/me", bearer(iss.SignWith(spki, map[string]any{"alg": "HS256", "kid": iss.KeyID("RS256")}, registered))),
		unknownKey.on("unknown kid", get, "/me", bearer(tok(middlewaretest.Spec{Header: map[string]any{"kid": "unknown-kid"}}))),
		badSignature.on("signature of another token", get, "/me", bearer(other[0]+"."+seg[1]+"."+other[2])),
		badSignature.on("attacker key with the issuer's kid", get, "/me", bearer(iss.SignWith(attacker, map[string]any{"alg": "ES256", "kid": iss.KeyID("ES256")}, registered))),

		// Scope requirements: alternatives are ORed, scopes within one ANDed.
		ok("read:users", get, users, bearer(valid), nil),
		insufficientScope("read:users").on("read:users missing", get, users, bearer(scoped("write:users"))),
		insufficientScope("read:users").on("scopes are case-sensitive", get, users, bearer(scoped("READ:USERS"))),
		noToken.on("scoped route without token", get, users, nil),
		ok("write:users", post, users, bearer(scoped("write:users")), nil),
		insufficientScope("write:users").on("write:users missing", post, users, bearer(valid)),
		ok("admin alone", del, user42, bearer(scoped("admin")), nil),
		ok("users:write and users:delete", del, user42, bearer(scoped("users:write", "users:delete")), nil),
		insufficientScope("admin users:write users:delete").on("users:write alone", del, user42, bearer(scoped("users:write"))),
		insufficientScope("admin users:write users:delete").on("no scope", del, user42, bearer(scoped())),

		// Optional authentication: only the absence of a token is tolerated.
		ok("optional without token", get, "/optional", nil, map[string]any{"anonymous": true}),
		ok("optional with Basic scheme", get, "/optional", authorization("Basic dXNlcjpwYXNz"), map[string]any{"anonymous": true}),
		ok("optional with token", get, "/optional", bearer(valid), map[string]any{"sub": "user-123"}),
		expired.on("optional with expired token", get, "/optional", bearer(tok(middlewaretest.Spec{Lifetime: -time.Hour}))),
		malformedHeader.on("optional with malformed header", get, "/optional", authorization("Bearer")),

		// Provider token shapes, with the default scope claims.
		ok("Auth0 user", get, users, bearer(tok(middlewaretest.Spec{Profile: middlewaretest.Auth0, Scopes: []string{"read:users"}})), nil),
		ok("Auth0 machine", get, "/me", bearer(tok(middlewaretest.Spec{Profile: middlewaretest.Auth0, Machine: true, Scopes: []string{"read:users"}})),
			map[string]any{"sub": "test-client@clients", "client_id": "test-client", "scopes": []string{"read:users"}}),
		ok("Logto ES384", get, users, bearer(tok(middlewaretest.Spec{Profile: middlewaretest.Logto, Alg: "ES384", Scopes: []string{"read:users"}})), nil),
		ok("Keycloak", get, users, bearer(tok(middlewaretest.Spec{Profile: middlewaretest.Keycloak, Scopes: []string{"read:users"}})), nil),
		ok("Entra user scp", get, "/me", bearer(tok(middlewaretest.Spec{Profile: middlewaretest.Entra, Scopes: []string{"read:users", "admin"}})), me("read:users", "admin")),
		insufficientScope("read:users").on("Entra app roles are not scopes by default", get, users, bearer(tok(middlewaretest.Spec{Profile: middlewaretest.Entra, Machine: true, Scopes: []string{"read:users"}}))),
		ok("Okta scp array", get, "/me", bearer(tok(middlewaretest.Spec{Profile: middlewaretest.Okta, Scopes: []string{"read:users"}})), me("read:users")),
		ok("Okta scp array on scoped route", del, user42, bearer(tok(middlewaretest.Spec{Profile: middlewaretest.Okta, Scopes: []string{"users:delete", "users:write"}})), nil),
		wrongAudience.on("Cognito has no aud", get, "/me", bearer(tok(middlewaretest.Spec{Profile: middlewaretest.Cognito, Scopes: []string{"read:users"}}))),
	}
}

// MetadataURL is the protected resource metadata URL of [Audience] (RFC
// 9728 §3.1), and MetadataPath its path.
const (
	MetadataURL  = Audience + MetadataPath
	MetadataPath = "/.well-known/oauth-protected-resource"
)

// ResourceCases returns the cases for an app whose validator is that of
// [Cases] with Config.Resource set to [Audience]: the metadata document
// (RFC 9728 §2, §3), resource_metadata in every challenge (§5.1), and the
// step-up routes (RFC 9470 §3).
func ResourceCases(iss *middlewaretest.Issuer) []Case {
	now := time.Now()
	user := func(claims map[string]any) http.Header {
		return bearer(iss.Token(middlewaretest.Spec{Claims: claims}))
	}
	recent, old := now.Add(-time.Minute).Unix(), now.Add(-time.Hour).Unix()
	const (
		get          = http.MethodGet
		mfa, fresh   = "/stepup/mfa", "/stepup/fresh"
		acr, maxAge  = "urn:example:mfa", "300"
		stronger     = "a stronger user authentication is required"
		moreRecent   = "a more recent user authentication is required"
		userRequired = "a user authentication is required"
	)
	cases := []Case{
		ok("metadata document", get, MetadataPath, nil, map[string]any{
			"resource":                 Audience,
			"authorization_servers":    []string{iss.URL},
			"bearer_methods_supported": []string{"header"},
			"scopes_supported":         []string{"read:users", "write:users"},
		}),
		ok("acr accepted", get, mfa, user(map[string]any{"acr": acr}), nil),
		ok("recent authentication", get, fresh, user(map[string]any{"auth_time": recent}), nil),
		ok("authenticated route", get, "/me", user(nil), me()),
	}
	for _, c := range []Case{
		noToken.on("no token", get, "/me", nil),
		noToken.on("no token on a step-up route", get, mfa, nil),
		expired.on("invalid token", get, "/me", bearer(iss.Token(middlewaretest.Spec{Lifetime: -time.Hour}))),
		malformedHeader.on("malformed header", get, "/me", authorization("Bearer")),
		insufficientScope("read:users").on("insufficient scope", get, "/users", user(nil)),
		stepUp(stronger, acr, "").on("acr not accepted", get, mfa, user(map[string]any{"acr": "urn:example:pwd"})),
		stepUp(stronger, acr, "").on("acr absent", get, mfa, user(nil)),
		stepUp(moreRecent, "", maxAge).on("authentication too old", get, fresh, user(map[string]any{"auth_time": old})),
		stepUp(moreRecent, "", maxAge).on("auth_time absent", get, fresh, user(nil)),
		stepUp(userRequired, acr, "").on("machine token", get, mfa,
			bearer(iss.Token(middlewaretest.Spec{Machine: true, Claims: map[string]any{"acr": acr}}))),
	} {
		cases = append(cases, withMetadata(c))
	}
	return cases
}

// ClaimCases returns the cases of the claim routes for the validator of
// [Cases]: claim requirements (a string equal to one value, an array
// including all values of one alternative, a dotted path), refused with
// 403 insufficient_claims naming the claim and its values, never 401 or
// insufficient_scope; and the route's own check ([RouteCheck]), run after
// the claim requirements, whose *Error is answered as it is.
func ClaimCases(iss *middlewaretest.Issuer) []Case {
	with := func(claims map[string]any) http.Header {
		return bearer(iss.Token(middlewaretest.Spec{Claims: claims}))
	}
	const (
		get                      = http.MethodGet
		org, perms, roles, check = "/claims/org", "/claims/permissions", "/claims/roles", "/claims/checked"
		lacksClaim               = "the token lacks a claim the resource requires"
		lacksValue               = "the token lacks a claim value the resource requires"
		notAuthorized            = "the token is not authorized for the resource"
	)
	orgValues, permValues := "org_a org_b", "admin read:users write:users"
	return []Case{
		ok("org equals a value", get, org, with(map[string]any{"org_id": "org_b"}), nil),
		ok("org array includes a value", get, org, with(map[string]any{"org_id": []string{"org_x", "org_a"}}), nil),
		insufficientClaims(lacksValue, "org_id", orgValues).on("org of another value", get, org, with(map[string]any{"org_id": "org_c"})),
		insufficientClaims(lacksValue, "org_id", orgValues).on("org string is not split", get, org, with(map[string]any{"org_id": "org_a org_b"})),
		insufficientClaims(lacksClaim, "org_id", orgValues).on("org absent", get, org, with(nil)),
		insufficientClaims(lacksClaim, "org_id", orgValues).on("org a number", get, org, with(map[string]any{"org_id": 1})),
		noToken.on("claim route without token", get, org, nil),
		expired.on("claim route with expired token", get, org, bearer(iss.Token(middlewaretest.Spec{Lifetime: -time.Hour, Claims: map[string]any{"org_id": "org_a"}}))),

		ok("permission alone", get, perms, with(map[string]any{"permissions": []string{"admin"}}), nil),
		ok("permissions all of one alternative", get, perms, with(map[string]any{"permissions": []string{"write:users", "read:users"}}), nil),
		insufficientClaims(lacksValue, "permissions", permValues).on("permissions part of an alternative", get, perms, with(map[string]any{"permissions": []string{"read:users"}})),
		insufficientClaims(lacksClaim, "permissions", permValues).on("a scope is not a permission", get, perms,
			bearer(iss.Token(middlewaretest.Spec{Scopes: []string{"admin"}}))),

		ok("nested role", get, roles, with(map[string]any{"realm_access": map[string]any{"roles": []string{"auditor"}}}), nil),
		ok("Keycloak profile role", get, roles, bearer(iss.Token(middlewaretest.Spec{Profile: middlewaretest.Keycloak, Claims: map[string]any{"realm_access": map[string]any{"roles": []string{"auditor"}}}})), nil),
		insufficientClaims(lacksValue, "realm_access.roles", "auditor").on("nested role of another value", get, roles, with(map[string]any{"realm_access": map[string]any{"roles": []string{"user"}}})),
		insufficientClaims(lacksClaim, "realm_access.roles", "auditor").on("nested role absent", get, roles, with(map[string]any{"realm_access": map[string]any{}})),

		ok("check passes", get, check, with(map[string]any{"org_id": "org_a", "tenant": "t1"}), nil),
		insufficientClaims(lacksClaim, "org_id", "org_a").on("claim requirement before the check", get, check, with(map[string]any{"suspended": true})),
		insufficientClaims(notAuthorized, "", "").on("check refuses with a plain error", get, check, with(map[string]any{"org_id": "org_a", "suspended": true})),
		insufficientClaims(TenantDescription, "", "").on("check refuses with its own description", get, check, with(map[string]any{"org_id": "org_a", "tenant": "t2"})),
		invalidToken(RevokedDescription).on("check's *Error answered as is", get, check, with(map[string]any{"org_id": "org_a", "jti": "revoked"})),
	}
}

// unavailableCases are the cases for an app whose validator trusts only
// iss, whose keys could not be obtained. other is an issuer it does not
// trust.
func unavailableCases(iss, other *middlewaretest.Issuer) []Case {
	token := bearer(iss.Token(middlewaretest.Spec{Scopes: []string{"read:users"}}))
	return []Case{
		ok("health is public", http.MethodGet, "/health", nil, nil),
		keysUnavailable.on("token", http.MethodGet, "/me", token),
		keysUnavailable.on("token on scoped route", http.MethodGet, "/users", token),
		keysUnavailable.on("token on optional route", http.MethodGet, "/optional", token),
		keysUnavailable.on("token without kid", http.MethodGet, "/me",
			bearer(iss.Token(middlewaretest.Spec{Header: map[string]any{"kid": nil}}))),
		noToken.on("no token", http.MethodGet, "/me", nil),
		ok("optional without token", http.MethodGet, "/optional", nil, map[string]any{"anonymous": true}),
		malformedHeader.on("malformed header", http.MethodGet, "/me", authorization("Bearer")),
		untrustedIssuer.on("token of an untrusted issuer", http.MethodGet, "/me",
			bearer(other.Token(middlewaretest.Spec{}))),
	}
}
