package interop

// Ory Hydra's access tokens meet bearerguard through net/http, Echo and Gin:
// its opaque tokens (ory_at_...) introspected at its admin API and routed
// there by their prefix beside another issuer's opaque tokens, its JWT
// access tokens verified with its JWKS, and both beside two oidc-provider
// tenants and Authlib in one validator (issue 17).

import (
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
)

// ResourceHydra is the API Hydra is trusted for in these tests. Its
// clients may ask for hydraAudiences, APIs other issuers are trusted for.
const ResourceHydra = "https://api-hydra.example.test"

var hydraAudiences = []string{ResourceHydra, ResourceRS256, ResourceES256, ResourceOpaque}

// hydraIntrospection is the Introspection of Hydra's admin endpoint. Hydra
// authenticates no caller there (its admin API is meant for a private
// network); the credentials are the API's own, sent and ignored.
func hydraIntrospection(h *Hydra) *middleware.Introspection {
	return &middleware.Introspection{
		Endpoint:     h.IntrospectionURL,
		ClientID:     apiClient.ID,
		ClientSecret: apiClient.Secret,
	}
}

// hydraIssuer is Hydra trusted for ResourceHydra, its JWTs through its
// JWKS and its opaque tokens, by their prefix, through its introspection.
func hydraIssuer(h *Hydra) middleware.Issuer {
	return middleware.Issuer{
		Issuer:            h.Issuer,
		Audiences:         []string{ResourceHydra},
		Introspection:     hydraIntrospection(h),
		OpaqueTokenPrefix: HydraOpaquePrefix,
	}
}

// introspections returns how many requests tg's validator has made to
// Hydra's and to Authlib's introspection endpoints.
func introspections(tg target, h *Hydra, a *Server) (hydra, authlib int) {
	return tg.log.fetched(h.IntrospectionURL), tg.log.fetched(a.IntrospectionURL)
}

// Hydra's opaque tokens go to Hydra's introspection, Authlib's to Authlib's:
// each token to its own issuer only, judged by that issuer's rules.
func TestBearerguardHydraOpaque(t *testing.T) {
	t.Parallel()
	h, a := StartHydra(t), StartAuthlib(t)
	client := h.CreateClient(t, allScopes, hydraAudiences, false)
	targets := newTargets(t, middleware.Config{
		ExtraIssuers: []middleware.Issuer{
			hydraIssuer(h),
			// Authlib's opaque tokens have no prefix: the one source
			// without one takes every other opaque token.
			{Issuer: a.Issuer, Audiences: []string{ResourceOpaque}, Introspection: introspectionAt(a, Basic)},
		},
	})
	waitReady(t, targets)

	read := h.Token(t, client, []string{ScopeRead}, []string{ResourceHydra})
	all := h.Token(t, client, allScopes, []string{ResourceHydra})
	revoked := h.Token(t, client, allScopes, []string{ResourceHydra})
	h.Revoke(t, client, revoked)
	// Hydra's token for the API Authlib is trusted for.
	hydraForAuthlib := h.Token(t, client, allScopes, []string{ResourceOpaque})
	authlibRead := a.OpaqueToken(t, []string{ScopeRead}, resource(ResourceOpaque))
	// Authlib's token for another API.
	authlibOther := a.OpaqueToken(t, allScopes, resource(ResourceRS256))

	tests := []struct {
		name    string
		token   string
		want    *claimsView // nil: refused with err
		err     error
		toHydra bool // else to Authlib
	}{
		{name: "hydra read", token: read, want: ptr(machineView(client.Credentials, ScopeRead)), toHydra: true},
		{name: "hydra all", token: all, want: ptr(machineView(client.Credentials, allScopes...)), toHydra: true},
		{name: "hydra revoked", token: revoked, err: middleware.ErrTokenInactive, toHydra: true},
		{name: "hydra for authlib's API", token: hydraForAuthlib, err: middleware.ErrInvalidAudience, toHydra: true},
		{name: "hydra unknown", token: HydraOpaquePrefix + randomString(), err: middleware.ErrTokenInactive, toHydra: true},
		{name: "authlib read", token: authlibRead, want: ptr(machineView(a.OpaqueClient, ScopeRead))},
		{name: "authlib other API", token: authlibOther, err: middleware.ErrInvalidAudience},
		{name: "authlib unknown", token: "not-a-token-" + randomString(), err: middleware.ErrTokenInactive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, tg := range targets {
				h0, a0 := introspections(tg, h, a)
				if tt.want != nil {
					wantAccepted(t, tg, tt.token, *tt.want)
				} else {
					wantRefused(t, tg, tt.token, tt.err)
				}
				h1, a1 := introspections(tg, h, a)
				if tt.toHydra && (h1 == h0 || a1 != a0) || !tt.toHydra && (a1 == a0 || h1 != h0) {
					t.Errorf("%s: introspections at hydra %d and authlib %d, want only at %s", tg.name, h1-h0, a1-a0, map[bool]string{true: "hydra", false: "authlib"}[tt.toHydra])
				}
			}
		})
	}
}

// A Hydra client with access_token_strategy "jwt" gets JWT access tokens,
// verified with the keys of Hydra's JWKS, scopes read from "scp".
func TestBearerguardHydraJWT(t *testing.T) {
	t.Parallel()
	h := StartHydra(t)
	client := h.CreateClient(t, allScopes, hydraAudiences, true)
	targets := newTargets(t, middleware.Config{Issuer: h.Issuer, Audiences: []string{ResourceHydra}})
	waitReady(t, targets)

	read := h.Token(t, client, []string{ScopeRead}, []string{ResourceHydra})
	if header, _ := DecodeUnverified(t, read); header["alg"] != "RS256" {
		t.Fatalf("hydra JWT header %v, want alg RS256", header)
	}
	all := h.Token(t, client, allScopes, []string{ResourceHydra})
	otherAPI := h.Token(t, client, allScopes, []string{ResourceRS256})
	noAudience := h.Token(t, client, allScopes, nil)
	for _, tg := range targets {
		if n := tg.log.fetched(h.JWKSURL); n == 0 {
			t.Errorf("%s: Hydra's JWKS %s never fetched", tg.name, h.JWKSURL)
		}
		wantAccepted(t, tg, read, machineView(client.Credentials, ScopeRead))
		wantAccepted(t, tg, all, machineView(client.Credentials, allScopes...))
		wantRefused(t, tg, otherAPI, middleware.ErrInvalidAudience)
		wantRefused(t, tg, noAudience, middleware.ErrInvalidAudience)
		wantRefused(t, tg, forgedToken(t, h.Issuer, ResourceHydra), middleware.ErrUnknownKey)
	}
}

// One validator trusting, at once, two oidc-provider tenants, Authlib and
// Hydra (its JWTs and its opaque tokens), each under its own rules: every
// issuer's good token accepted, every cross-issuer mix refused.
func TestBearerguardTenantsHydra(t *testing.T) {
	t.Parallel()
	a, b, c, h := StartOIDCProvider(t), StartOIDCProvider(t), StartAuthlib(t), StartHydra(t)
	jwtClient := h.CreateClient(t, allScopes, hydraAudiences, true)
	opaqueClient := h.CreateClient(t, []string{ScopeRead, ScopeWrite}, hydraAudiences, false)
	targets := newTargets(t, middleware.Config{
		ExtraIssuers: []middleware.Issuer{
			{Issuer: a.Issuer, Audiences: []string{ResourceRS256}, AccessTokenType: middleware.TokenTypeAccessJWT},
			{Issuer: b.Issuer, Audiences: []string{ResourceES256}, Algorithms: []string{"ES256"}, AccessTokenType: middleware.TokenTypeAccessJWT},
			{Issuer: c.Issuer, Audiences: []string{ResourceES256}},
			hydraIssuer(h),
		},
	})
	tokA := a.ClientCredentialsToken(t, a.BasicClient, Basic, allScopes, resource(ResourceRS256))
	tokB := b.ClientCredentialsToken(t, b.PostClient, Post, []string{ScopeRead}, resource(ResourceES256))
	tokC := c.ClientCredentialsToken(t, c.BasicClient, Basic, []string{ScopeRead}, resource(ResourceES256))
	tokD := h.Token(t, jwtClient, []string{ScopeWrite}, []string{ResourceHydra})
	tokDOpaque := h.Token(t, opaqueClient, []string{ScopeRead, ScopeWrite}, []string{ResourceHydra})
	for _, tg := range targets {
		for _, tok := range []string{tokA, tokB, tokC, tokD} {
			waitIssuer(t, tg, tok)
		}
	}
	for _, tg := range targets {
		wantAccepted(t, tg, tokA, machineView(a.BasicClient, ScopeRead, ScopeWrite))
		wantAccepted(t, tg, tokB, machineView(b.PostClient, ScopeRead))
		wantAccepted(t, tg, tokC, machineView(c.BasicClient, ScopeRead))
		wantAccepted(t, tg, tokD, machineView(jwtClient.Credentials, ScopeWrite))
		wantAccepted(t, tg, tokDOpaque, machineView(opaqueClient.Credentials, ScopeRead, ScopeWrite))
	}

	t.Run("cross-issuer mixes", func(t *testing.T) {
		// Hydra's JWT and opaque token for a's API, which only a is
		// trusted for.
		dForA := h.Token(t, jwtClient, allScopes, []string{ResourceRS256})
		dOpaqueForA := h.Token(t, opaqueClient, []string{ScopeRead}, []string{ResourceRS256})
		// Hydra's JWT for the API b and Authlib are trusted for.
		dForC := h.Token(t, jwtClient, []string{ScopeRead}, []string{ResourceES256})
		// a's token for b's API, as in TestBearerguardTenants.
		aForB := a.ClientCredentialsToken(t, a.BasicClient, Basic, []string{ScopeRead}, resource(ResourceES256))
		// Authlib's opaque token has no "ory_at_" prefix, and only Hydra
		// has an opaque source here: it is never sent to Hydra.
		cOpaque := c.OpaqueToken(t, []string{ScopeRead}, resource(ResourceES256))
		for _, tg := range targets {
			wantRefused(t, tg, dForA, middleware.ErrInvalidAudience)
			wantRefused(t, tg, dOpaqueForA, middleware.ErrInvalidAudience)
			wantRefused(t, tg, dForC, middleware.ErrInvalidAudience)
			wantRefused(t, tg, aForB, middleware.ErrInvalidAudience)
			before := tg.log.fetched(h.IntrospectionURL)
			wantRefused(t, tg, cOpaque, middleware.ErrMalformedToken)
			if after := tg.log.fetched(h.IntrospectionURL); after != before {
				t.Errorf("%s: Authlib's opaque token sent to Hydra's introspection", tg.name)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }
