package interop

// Tokens shaped like each hosted provider's, from the test kit, configured
// as the README's provider recipes say, through net/http, Echo and Gin.

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

const (
	kitAudience = "https://api.example.test" // the test kit's default audience
	kitClient   = "test-client"              // the test kit's default client
	kitUser     = "user-123"                 // the test kit's default user
)

// requireAuth0Org is the README's Auth0 Organizations hook: the token must
// be issued for an organization.
func requireAuth0Org(_ context.Context, c *claims.Claims) error {
	var org struct {
		OrgID string `json:"org_id"`
	}
	if err := c.Decode(&org); err != nil || org.OrgID == "" {
		return errors.New("token is not issued for an organization")
	}
	return nil
}

// logtoOrgAudience is the audience of Logto organization tokens.
func logtoOrgAudience(id string) string { return "urn:logto:organization:" + id }

// requireLogtoOrg is a Logto organization hook: the token must name its
// organization, and be for that organization.
func requireLogtoOrg(_ context.Context, c *claims.Claims) error {
	var org struct {
		OrganizationID string `json:"organization_id"`
	}
	if err := c.Decode(&org); err != nil || org.OrganizationID == "" {
		return errors.New("not an organization token")
	}
	if !slices.Contains(c.Audience, logtoOrgAudience(org.OrganizationID)) {
		return errors.New("organization token for another organization")
	}
	return nil
}

// providerToken is a token of the test kit and what bearerguard must make
// of it: the claims want describes, or refusal with the sentinel refused.
type providerToken struct {
	name    string
	spec    middlewaretest.Spec
	want    claimsView
	refused error
	// subFromToken: want.Subject is the token's sub, which the test kit
	// derives from the client id (Entra's app oid, Keycloak's
	// service-account id).
	subFromToken bool
}

type providerCase struct {
	name   string
	config middleware.Config // Issuer is filled in
	tokens []providerToken
}

func TestBearerguardProviderProfiles(t *testing.T) {
	t.Parallel()
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	// Keys for the other algorithms are made on first use; publish Logto's
	// before the validators fetch the JWKS, as a real issuer would.
	iss.KeyID("ES384")

	user := func(scopes ...string) claimsView {
		return claimsView{Subject: kitUser, ClientID: kitClient, Scopes: scopes}
	}
	machine := func(sub string, scopes ...string) claimsView {
		return claimsView{Subject: sub, ClientID: kitClient, Machine: true, Scopes: scopes}
	}
	rw := []string{ScopeRead, ScopeWrite}

	cases := []providerCase{{
		name: "Auth0",
		config: middleware.Config{
			Audiences:   []string{kitAudience},
			ScopeClaims: []string{"scope", "permissions"},
		},
		tokens: []providerToken{
			// RBAC: the API's permissions are in "permissions"; "scope" holds
			// the OpenID scopes the user asked for. aud is an array with the
			// userinfo audience.
			{name: "user RBAC", spec: middlewaretest.Spec{Profile: middlewaretest.Auth0, Scopes: rw,
				Claims: map[string]any{"scope": "openid profile"}},
				want: user("openid", "profile", ScopeRead, ScopeWrite)},
			{name: "user permissions only", spec: middlewaretest.Spec{Profile: middlewaretest.Auth0, Scopes: []string{ScopeRead},
				Claims: map[string]any{"scope": nil}},
				want: user(ScopeRead)},
			// gty client-credentials, sub "<client>@clients", azp the client.
			{name: "machine", spec: middlewaretest.Spec{Profile: middlewaretest.Auth0, Machine: true, Scopes: []string{ScopeWrite}},
				want: machine(kitClient+"@clients", ScopeWrite)},
			{name: "ID token", spec: middlewaretest.Spec{Profile: middlewaretest.Auth0, Kind: middlewaretest.IDToken,
				Audience: []string{kitAudience}}, refused: middleware.ErrNotAccessToken},
		},
	}, {
		name: "Auth0 Organizations",
		config: middleware.Config{
			Audiences:   []string{kitAudience},
			ScopeClaims: []string{"scope", "permissions"},
			Validate:    requireAuth0Org,
		},
		tokens: []providerToken{
			{name: "machine org", spec: middlewaretest.Spec{Profile: middlewaretest.Auth0, Machine: true, Scopes: rw,
				Claims: map[string]any{"org_id": "org_abc123"}},
				want: machine(kitClient+"@clients", ScopeRead, ScopeWrite)},
			{name: "user org", spec: middlewaretest.Spec{Profile: middlewaretest.Auth0, Scopes: []string{ScopeRead},
				Claims: map[string]any{"org_id": "org_abc123"}},
				want: user(ScopeRead)},
			{name: "no org", spec: middlewaretest.Spec{Profile: middlewaretest.Auth0, Machine: true, Scopes: rw},
				refused: middleware.ErrClaimsRejected},
		},
	}, {
		name: "Entra ID",
		config: middleware.Config{
			Audiences:   []string{kitAudience},
			ScopeClaims: []string{"scp", "roles"},
		},
		tokens: []providerToken{
			// Delegated: scp, a space-separated string.
			{name: "user scp", spec: middlewaretest.Spec{Profile: middlewaretest.Entra, Scopes: []string{ScopeRead}},
				want: user(ScopeRead)},
			// App-only: roles, idtyp app, sub the service principal's oid.
			{name: "app roles", spec: middlewaretest.Spec{Profile: middlewaretest.Entra, Machine: true, Scopes: rw},
				want: machine("", ScopeRead, ScopeWrite), subFromToken: true},
			{name: "ID token", spec: middlewaretest.Spec{Profile: middlewaretest.Entra, Kind: middlewaretest.IDToken,
				Audience: []string{kitAudience}}, refused: middleware.ErrNotAccessToken},
		},
	}, {
		name: "Keycloak",
		config: middleware.Config{
			Audiences:   []string{kitAudience},
			ScopeClaims: []string{"scope", "realm_access.roles"},
		},
		tokens: []providerToken{
			// Payload typ Bearer; "scope" holds client scopes, the realm roles
			// grant the API's permissions.
			{name: "user realm roles", spec: middlewaretest.Spec{Profile: middlewaretest.Keycloak, Scopes: rw,
				Claims: map[string]any{"scope": "profile email"}},
				want: user("profile", "email", ScopeRead, ScopeWrite)},
			// A service account is a Keycloak user: sub is its UUID, not the
			// client id, so by the documented rule of claims.Claims.Machine
			// (gty, idtyp app, or sub equal to the client id) the token is
			// not reported as a machine token.
			{name: "service account", spec: middlewaretest.Spec{Profile: middlewaretest.Keycloak, Machine: true, Scopes: []string{ScopeRead},
				Claims: map[string]any{"scope": "profile email"}},
				want: claimsView{ClientID: kitClient, Scopes: []string{"profile", "email", ScopeRead}}, subFromToken: true},
			{name: "ID token", spec: middlewaretest.Spec{Profile: middlewaretest.Keycloak, Kind: middlewaretest.IDToken,
				Audience: []string{kitAudience}}, refused: middleware.ErrNotAccessToken},
		},
	}, {
		name:   "Okta",
		config: middleware.Config{Audiences: []string{kitAudience}},
		tokens: []providerToken{
			// No typ header; cid is the client; scp is an array.
			{name: "user", spec: middlewaretest.Spec{Profile: middlewaretest.Okta, Scopes: []string{ScopeWrite}},
				want: user(ScopeWrite)},
			{name: "machine", spec: middlewaretest.Spec{Profile: middlewaretest.Okta, Machine: true, Scopes: rw},
				want: machine(kitClient, ScopeRead, ScopeWrite)},
			{name: "ID token", spec: middlewaretest.Spec{Profile: middlewaretest.Okta, Kind: middlewaretest.IDToken,
				Audience: []string{kitAudience}}, refused: middleware.ErrNotAccessToken},
		},
	}, {
		name:   "Cognito",
		config: middleware.Config{ClientIDs: []string{kitClient}},
		tokens: []providerToken{
			// token_use access, client_id, and no aud at all.
			{name: "user", spec: middlewaretest.Spec{Profile: middlewaretest.Cognito, Scopes: []string{ScopeRead}},
				want: user(ScopeRead)},
			{name: "machine", spec: middlewaretest.Spec{Profile: middlewaretest.Cognito, Machine: true, Scopes: rw},
				want: machine(kitClient, ScopeRead, ScopeWrite)},
			{name: "other client", spec: middlewaretest.Spec{Profile: middlewaretest.Cognito, Machine: true, Scopes: rw, ClientID: "other-client"},
				refused: middleware.ErrInvalidAudience},
			{name: "ID token", spec: middlewaretest.Spec{Profile: middlewaretest.Cognito, Kind: middlewaretest.IDToken},
				refused: middleware.ErrNotAccessToken},
		},
	}, {
		name:   "Logto",
		config: middleware.Config{Audiences: []string{kitAudience}},
		tokens: []providerToken{
			// typ at+jwt, ES384 by default at Logto.
			{name: "machine", spec: middlewaretest.Spec{Profile: middlewaretest.Logto, Alg: "ES384", Machine: true, Scopes: rw},
				want: machine(kitClient, ScopeRead, ScopeWrite)},
			{name: "user", spec: middlewaretest.Spec{Profile: middlewaretest.Logto, Alg: "ES384", Scopes: []string{ScopeRead}},
				want: user(ScopeRead)},
			// An organization token is for the organization, not this API.
			{name: "organization token", spec: middlewaretest.Spec{Profile: middlewaretest.Logto, Alg: "ES384", Machine: true, Scopes: rw,
				Audience: []string{logtoOrgAudience("org1")}, Claims: map[string]any{"organization_id": "org1"}},
				refused: middleware.ErrInvalidAudience},
		},
	}, {
		name: "Logto organizations",
		config: middleware.Config{
			Audiences: []string{logtoOrgAudience("org1")},
			Validate:  requireLogtoOrg,
		},
		tokens: []providerToken{
			{name: "organization token", spec: middlewaretest.Spec{Profile: middlewaretest.Logto, Alg: "ES384", Machine: true, Scopes: rw,
				Audience: []string{logtoOrgAudience("org1")}, Claims: map[string]any{"organization_id": "org1"}},
				want: machine(kitClient, ScopeRead, ScopeWrite)},
			{name: "user organization token", spec: middlewaretest.Spec{Profile: middlewaretest.Logto, Alg: "ES384", Scopes: []string{ScopeRead},
				Audience: []string{logtoOrgAudience("org1")}, Claims: map[string]any{"organization_id": "org1"}},
				want: user(ScopeRead)},
			{name: "no organization_id", spec: middlewaretest.Spec{Profile: middlewaretest.Logto, Alg: "ES384", Machine: true, Scopes: rw,
				Audience: []string{logtoOrgAudience("org1")}},
				refused: middleware.ErrClaimsRejected},
			{name: "organization_id of another organization", spec: middlewaretest.Spec{Profile: middlewaretest.Logto, Alg: "ES384", Machine: true, Scopes: rw,
				Audience: []string{logtoOrgAudience("org1")}, Claims: map[string]any{"organization_id": "org2"}},
				refused: middleware.ErrClaimsRejected},
			{name: "API resource token", spec: middlewaretest.Spec{Profile: middlewaretest.Logto, Alg: "ES384", Machine: true, Scopes: rw},
				refused: middleware.ErrInvalidAudience},
		},
	}}

	for _, pc := range cases {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			cfg := pc.config
			cfg.Issuer = iss.URL
			targets := newTargets(t, cfg)
			waitReady(t, targets)
			for _, pt := range pc.tokens {
				t.Run(pt.name, func(t *testing.T) {
					token := iss.Token(pt.spec)
					want := pt.want
					if pt.subFromToken {
						_, payload := DecodeUnverified(t, token)
						want.Subject, _ = payload["sub"].(string)
						if want.Subject == "" || want.Subject == kitClient {
							t.Fatalf("sub %v, want an id derived from the client", payload["sub"])
						}
					}
					for _, tg := range targets {
						if pt.refused != nil {
							wantRefused(t, tg, token, pt.refused)
						} else {
							wantAccepted(t, tg, token, want)
						}
					}
				})
			}
		})
	}
}
