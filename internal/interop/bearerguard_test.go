package interop

// Tokens from real authorization servers, obtained through the
// client_credentials grant with golang.org/x/oauth2/clientcredentials, meet
// bearerguard through net/http, Echo and Gin.

import (
	"net/url"
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
)

// accessCase is a token request and the claims bearerguard must see in the
// token the server issues for it.
type accessCase struct {
	name   string
	client func(*Server) Credentials
	style  AuthStyle
	scopes []string
	params url.Values

	wantAlg    string
	wantScopes []string
}

// wantDiscovered checks that tg's validator found the JWKS through the
// server's metadata: it was configured with the issuer only.
func wantDiscovered(t *testing.T, tg target, s *Server) {
	t.Helper()
	md := tg.log.fetched(s.Issuer+"/.well-known/openid-configuration") +
		tg.log.fetched(s.Issuer+"/.well-known/oauth-authorization-server")
	if md == 0 || tg.log.fetched(s.JWKSURL) == 0 {
		t.Errorf("%s: %d metadata and %d JWKS fetches (%s), want both", tg.name, md, tg.log.fetched(s.JWKSURL), s.JWKSURL)
	}
}

// runAccessCases fetches each case's token once and presents it to every
// target.
func runAccessCases(t *testing.T, s *Server, targets []target, cases []accessCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.client(s)
			token := s.ClientCredentialsToken(t, c, tc.style, tc.scopes, tc.params)
			if header, _ := DecodeUnverified(t, token); header["alg"] != tc.wantAlg {
				t.Fatalf("token alg %v, want %s", header["alg"], tc.wantAlg)
			}
			for _, tg := range targets {
				wantAccepted(t, tg, token, machineView(c, tc.wantScopes...))
			}
		})
	}
}

func TestBearerguardOIDCProvider(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	// Discovery only: no JWKSURL.
	targets := newTargets(t, middleware.Config{
		Issuer:    s.Issuer,
		Audiences: []string{ResourceRS256, ResourceES256},
	})
	waitReady(t, targets)
	for _, tg := range targets {
		wantDiscovered(t, tg, s)
	}

	// oidc-provider drops scopes the resource does not list (delete:users).
	runAccessCases(t, s, targets, []accessCase{
		{name: "basic RS256 read write", client: basic, style: Basic, scopes: allScopes, params: resource(ResourceRS256),
			wantAlg: "RS256", wantScopes: []string{ScopeRead, ScopeWrite}},
		{name: "post RS256 read", client: post, style: Post, scopes: []string{ScopeRead}, params: resource(ResourceRS256),
			wantAlg: "RS256", wantScopes: []string{ScopeRead}},
		{name: "basic ES256 read", client: basic, style: Basic, scopes: []string{ScopeRead}, params: resource(ResourceES256),
			wantAlg: "ES256", wantScopes: []string{ScopeRead}},
		{name: "post ES256 read write", client: post, style: Post, scopes: allScopes, params: resource(ResourceES256),
			wantAlg: "ES256", wantScopes: []string{ScopeRead, ScopeWrite}},
		{name: "post ES256 write", client: post, style: Post, scopes: []string{ScopeWrite}, params: resource(ResourceES256),
			wantAlg: "ES256", wantScopes: []string{ScopeWrite}},
	})

	// The real ID token names the client as its audience. A validator that
	// accepts the client id as an audience must still refuse it: it is not
	// an access token.
	t.Run("ID token", func(t *testing.T) {
		idToken := s.IDToken(t)
		header, payload := DecodeUnverified(t, idToken)
		t.Logf("ID token header %s", mustJSON(t, header))
		if payload["aud"] != s.BasicClient.ID {
			t.Fatalf("ID token aud %v, want %s", payload["aud"], s.BasicClient.ID)
		}
		targets := newTargets(t, middleware.Config{
			Issuer:    s.Issuer,
			Audiences: []string{ResourceRS256, s.BasicClient.ID},
		})
		waitReady(t, targets)
		for _, tg := range targets {
			wantRefused(t, tg, idToken, middleware.ErrNotAccessToken)
		}
	})

	// Without a resource indicator oidc-provider issues an opaque token, as
	// Logto does: the audience parameter means nothing to it.
	t.Run("opaque token", func(t *testing.T) {
		token := s.ClientCredentialsToken(t, s.PostClient, Post, []string{ScopeRead}, audience(ResourceRS256))
		if looksLikeJWS(token) {
			t.Fatalf("token %q looks like a JWS, want opaque", token)
		}
		for _, tg := range targets {
			wantRefused(t, tg, token, middleware.ErrMalformedToken)
		}
	})

	// A token for another of the server's resources is not for this API.
	t.Run("other resource", func(t *testing.T) {
		targets := newTargets(t, middleware.Config{Issuer: s.Issuer, Audiences: []string{ResourceRS256}})
		waitReady(t, targets)
		token := s.ClientCredentialsToken(t, s.BasicClient, Basic, []string{ScopeRead}, resource(ResourceES256))
		for _, tg := range targets {
			wantRefused(t, tg, token, middleware.ErrInvalidAudience)
		}
	})

	// RFC 9068 servers may be held to typ at+jwt.
	t.Run("RequireAccessTokenType", func(t *testing.T) {
		targets := newTargets(t, middleware.Config{
			Issuer:                 s.Issuer,
			Audiences:              []string{ResourceRS256},
			RequireAccessTokenType: true,
		})
		waitReady(t, targets)
		token := s.ClientCredentialsToken(t, s.PostClient, Post, []string{ScopeRead}, resource(ResourceRS256))
		for _, tg := range targets {
			wantAccepted(t, tg, token, machineView(s.PostClient, ScopeRead))
		}
	})
}

func TestBearerguardAuthlib(t *testing.T) {
	t.Parallel()
	s := StartAuthlib(t)
	targets := newTargets(t, middleware.Config{
		Issuer:    s.Issuer,
		Audiences: []string{ResourceRS256, ResourceES256},
	})
	waitReady(t, targets)
	for _, tg := range targets {
		wantDiscovered(t, tg, s)
	}

	// Authlib signs everything RS256 with typ JWT and grants every scope
	// the client may ask for, delete:users included.
	runAccessCases(t, s, targets, []accessCase{
		{name: "basic resource read write", client: basic, style: Basic, scopes: []string{ScopeRead, ScopeWrite}, params: resource(ResourceRS256),
			wantAlg: "RS256", wantScopes: []string{ScopeRead, ScopeWrite}},
		{name: "post resource read", client: post, style: Post, scopes: []string{ScopeRead}, params: resource(ResourceES256),
			wantAlg: "RS256", wantScopes: []string{ScopeRead}},
		{name: "basic audience all", client: basic, style: Basic, scopes: allScopes, params: audience(ResourceRS256),
			wantAlg: "RS256", wantScopes: allScopes},
		{name: "post audience write", client: post, style: Post, scopes: []string{ScopeWrite}, params: audience(ResourceRS256),
			wantAlg: "RS256", wantScopes: []string{ScopeWrite}},
		{name: "basic audience read", client: basic, style: Basic, scopes: []string{ScopeRead}, params: audience(ResourceES256),
			wantAlg: "RS256", wantScopes: []string{ScopeRead}},
	})

	// Stock Authlib issues no aud without a resource or audience parameter.
	t.Run("no audience", func(t *testing.T) {
		token := s.ClientCredentialsToken(t, s.PostClient, Post, []string{ScopeRead}, nil)
		if _, payload := DecodeUnverified(t, token); payload["aud"] != nil {
			t.Fatalf("aud %v, want none", payload["aud"])
		}
		for _, tg := range targets {
			wantRefused(t, tg, token, middleware.ErrInvalidAudience)
		}
	})

	// Authlib 1.2 types its access tokens JWT, not at+jwt.
	t.Run("RequireAccessTokenType", func(t *testing.T) {
		targets := newTargets(t, middleware.Config{
			Issuer:                 s.Issuer,
			Audiences:              []string{ResourceRS256},
			RequireAccessTokenType: true,
		})
		waitReady(t, targets)
		token := s.ClientCredentialsToken(t, s.BasicClient, Basic, []string{ScopeRead}, audience(ResourceRS256))
		if header, _ := DecodeUnverified(t, token); header["typ"] != "JWT" {
			t.Fatalf("typ %v, want JWT", header["typ"])
		}
		for _, tg := range targets {
			wantRefused(t, tg, token, middleware.ErrNotAccessToken)
		}
	})

	// The same token serves every framework sharing one validator (the
	// adapters' Wrap): the cache hit still checks scopes per route.
	t.Run("shared validator", func(t *testing.T) {
		token := s.ClientCredentialsToken(t, s.PostClient, Post, []string{ScopeRead}, audience(ResourceRS256))
		v := targets[0].v
		for _, fw := range frameworks {
			tg := target{name: fw.name + " shared", v: v, h: fw.build(v), log: targets[0].log}
			wantAccepted(t, tg, token, machineView(s.PostClient, ScopeRead))
		}
	})
}
