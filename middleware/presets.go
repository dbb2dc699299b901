package middleware

import (
	"slices"
	"strings"
)

// This file holds presets: the [Issuer] settings of providers whose rules
// differ from the defaults, each documented with the claim facts that
// justify it. A preset is a plain value: read it, change what your tenant
// does differently, and put it in Config.ExtraIssuers. The documentation
// of each provider is the reference; the facts below are what the presets
// rely on.

// Entra returns the settings of a Microsoft Entra ID (Azure AD) tenant's
// v2.0 access tokens, for an API whose app registration sets
// "requestedAccessTokenVersion": 2. Claim facts: "iss" is
// https://login.microsoftonline.com/{tenant}/v2.0, "ver" "2.0", "tid" the
// tenant (required here, so that a token of another tenant signed with
// Entra's shared keys is refused); "aud" is the API's application ID (a
// GUID) or its App ID URI; delegated scopes are in "scp" (a
// space-separated string) and application roles in "roles" (an array),
// both read as scopes; authentication contexts are in "acrs"; the keys
// sign with RS256.
func Entra(tenantID string, audiences ...string) Issuer {
	iss := "https://login.microsoftonline.com/" + tenantID + "/v2.0"
	return Issuer{
		Issuer:         iss,
		JWKSURL:        "https://login.microsoftonline.com/" + tenantID + "/discovery/v2.0/keys",
		Audiences:      slices.Clone(audiences),
		Algorithms:     []string{"RS256"},
		ScopeClaims:    []string{"scp", "roles"},
		ACRClaim:       "acrs",
		RequiredClaims: map[string]string{"tid": tenantID, "ver": "2.0"},
	}
}

// EntraMultiTenant returns the settings of a multi-tenant Entra ID
// application: two templates, the v2.0 issuer
// https://login.microsoftonline.com/{tenantid}/v2.0 and the v1.0 issuer
// https://sts.windows.net/{tenantid}/, whose keys both come from Entra's
// common JWK Set (never from a URL made from the token). allow decides
// which tenants are accepted: for a fixed list, set Tenants instead on both
// and AllowTenant to nil. Claim facts, on top of [Entra]'s: the tenant of
// "iss" must equal "tid" (checked for every template); the common keys
// carry an "issuer" member, the v2.0 template, that must name the token's
// tenant; "ver" is "2.0" or "1.0" with the matching issuer; v1.0 tokens
// name the client in "appid", v2.0 in "azp".
func EntraMultiTenant(allow func(tenant string) bool, audiences ...string) []Issuer {
	const keys = "https://login.microsoftonline.com/common/discovery/v2.0/keys"
	v2 := Issuer{
		Issuer:         "https://login.microsoftonline.com/" + TenantPlaceholder + "/v2.0",
		JWKSURL:        keys,
		AllowTenant:    allow,
		Audiences:      slices.Clone(audiences),
		Algorithms:     []string{"RS256"},
		ScopeClaims:    []string{"scp", "roles"},
		ACRClaim:       "acrs",
		RequiredClaims: map[string]string{"ver": "2.0"},
	}
	v1 := v2 // its own lists: changing one issuer's rules leaves the other's
	v1.Issuer = "https://sts.windows.net/" + TenantPlaceholder + "/"
	v1.Audiences = slices.Clone(audiences)
	v1.Algorithms = slices.Clone(v2.Algorithms)
	v1.ScopeClaims = slices.Clone(v2.ScopeClaims)
	v1.RequiredClaims = map[string]string{"ver": "1.0"}
	return []Issuer{v2, v1}
}

// Auth0 returns the settings of an Auth0 tenant reached at domain (such
// as "example.eu.auth0.com"), and of each of its custom domains: one
// issuer per domain, since a token names the domain it was requested at.
// Claim facts: "iss" is "https://" + domain + "/", with the trailing
// slash; "aud" is the API identifier (plus the userinfo URL when "openid"
// was asked); scopes are in "scope"; RBAC permissions are in
// "permissions", read per route with [Validator.RequireClaim], not as
// scopes; tokens are typed "JWT" and signed with RS256 by default (change
// Algorithms if the tenant signs with PS256). The domains publish the
// same keys: a token verifies under the rules of the domain it names
// only. Each issuer has its own lists: changing one's rules leaves the
// others'.
func Auth0(audiences []string, domains ...string) []Issuer {
	out := make([]Issuer, 0, len(domains))
	for _, d := range domains {
		d = strings.TrimSuffix(d, "/")
		out = append(out, Issuer{
			Issuer:      "https://" + d + "/",
			JWKSURL:     "https://" + d + "/.well-known/jwks.json",
			Audiences:   slices.Clone(audiences),
			Algorithms:  []string{"RS256"},
			ScopeClaims: []string{"scope"},
		})
	}
	return out
}

// Cognito returns the settings of an Amazon Cognito user pool. Claim
// facts: "iss" is https://cognito-idp.{region}.amazonaws.com/{pool}; access
// tokens carry no "aud" at all, so the app clients whose tokens are
// accepted (ClientIDs, the "client_id" claim) are the audience check;
// "token_use" is "access" (an ID token says "id" and carries the client in
// "aud": required here); scopes are in "scope"; signed with RS256.
func Cognito(region, userPoolID string, clientIDs ...string) Issuer {
	iss := "https://cognito-idp." + region + ".amazonaws.com/" + userPoolID
	return Issuer{
		Issuer:         iss,
		JWKSURL:        iss + "/.well-known/jwks.json",
		ClientIDs:      clientIDs,
		Algorithms:     []string{"RS256"},
		ScopeClaims:    []string{"scope"},
		RequiredClaims: map[string]string{"token_use": "access"},
	}
}

// Keycloak returns the settings of a Keycloak realm at baseURL (such as
// "https://sso.example.com"; add "/auth" for Keycloak before 17). Claim
// facts: "iss" is baseURL + "/realms/" + realm; access tokens carry the
// payload "typ" "Bearer" (ID tokens "ID": required here); "aud" holds the
// clients of the audience mappers and, by default, "account", the
// realm's account console: never list "account" in audiences unless this
// API is that console, or every user token of the realm is accepted;
// scopes are in "scope", realm roles in "realm_access.roles" (add it to
// ScopeClaims, or read it with RequireClaim).
func Keycloak(baseURL, realm string, audiences ...string) Issuer {
	iss := strings.TrimSuffix(baseURL, "/") + "/realms/" + realm
	return Issuer{
		Issuer:         iss,
		JWKSURL:        iss + "/protocol/openid-connect/certs",
		Audiences:      slices.Clone(audiences),
		ScopeClaims:    []string{"scope"},
		RequiredClaims: map[string]string{"typ": "Bearer"},
	}
}

// Okta returns the settings of an Okta custom authorization server
// (authServerID such as "default") of the org at orgURL. Claim facts:
// "iss" is orgURL + "/oauth2/" + authServerID; "aud" is the authorization
// server's audience; scopes are an array in "scp"; the client is "cid";
// tokens are untyped and signed with RS256.
func Okta(orgURL, authServerID string, audiences ...string) Issuer {
	iss := strings.TrimSuffix(orgURL, "/") + "/oauth2/" + authServerID
	return Issuer{
		Issuer:      iss,
		JWKSURL:     iss + "/v1/keys",
		Audiences:   audiences,
		Algorithms:  []string{"RS256"},
		ScopeClaims: []string{"scp"},
	}
}

// Logto returns the settings of a Logto tenant at endpoint (such as
// "https://tenant.logto.app"). Claim facts: "iss" is endpoint + "/oidc";
// access tokens are typed "at+jwt" (RFC 9068: required here) with one
// "aud", the API resource indicator (organization tokens:
// "urn:logto:organization:<id>"); scopes are in "scope"; signed with
// ES384 by default (RS256 if the tenant's key is RSA).
func Logto(endpoint string, audiences ...string) Issuer {
	iss := strings.TrimSuffix(endpoint, "/") + "/oidc"
	return Issuer{
		Issuer:          iss,
		JWKSURL:         iss + "/jwks",
		Audiences:       audiences,
		Algorithms:      []string{"ES384", "RS256"},
		ScopeClaims:     []string{"scope"},
		AccessTokenType: TokenTypeAccessJWT,
	}
}

// Zitadel returns the settings of a ZITADEL instance at domain (such as
// "example.zitadel.cloud"). Claim facts: "iss" is "https://" + domain,
// without trailing slash; "aud" holds the project ID and the client IDs
// (list the project ID); scopes are in "scope", project roles in
// "urn:zitadel:iam:org:project:roles" (an object: read it with
// RequireClaim); JWT access tokens are signed with RS256.
func Zitadel(domain string, audiences ...string) Issuer {
	iss := "https://" + strings.TrimSuffix(domain, "/")
	return Issuer{
		Issuer:      iss,
		JWKSURL:     iss + "/oauth/v2/keys",
		Audiences:   audiences,
		Algorithms:  []string{"RS256"},
		ScopeClaims: []string{"scope"},
	}
}
