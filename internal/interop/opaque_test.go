package interop

// Opaque access tokens from real authorization servers meet bearerguard
// through net/http, Echo and Gin: RFC 7662 introspection at Authlib and
// oidc-provider (hybrid with the latter's JWTs), and the application's own
// store (Config.LookupToken) in an SQLite database.

import (
	"errors"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
)

// introspectionAt is the Introspection of s for the API's own client,
// authenticating as style says. The endpoint comes from s's metadata.
func introspectionAt(s *Server, style AuthStyle) *middleware.Introspection {
	return &middleware.Introspection{
		ClientID:     s.IntrospectionClient.ID,
		ClientSecret: s.IntrospectionClient.Secret,
		AuthMethod:   style.String(),
	}
}

// wantUnavailableEverywhere checks that token is 503 with Retry-After on
// every route of tg and that ValidateToken says why.
func wantUnavailableEverywhere(t *testing.T, tg target, token string, cause error) {
	t.Helper()
	if _, err := validate(tg.v, token); !errors.Is(err, middleware.ErrKeysUnavailable) || !errors.Is(err, cause) {
		t.Errorf("%s: ValidateToken error %v, want ErrKeysUnavailable and %v", tg.name, err, cause)
	}
	for _, rt := range routes {
		wantUnavailable(t, tg.name+" "+rt.method+" "+rt.path, serve(t, tg.h, rt.method, rt.path, token))
	}
}

func TestBearerguardAuthlibIntrospection(t *testing.T) {
	t.Parallel()
	s := StartAuthlib(t)
	for _, style := range []AuthStyle{Basic, Post} {
		t.Run(style.String(), func(t *testing.T) {
			targets := newTargets(t, middleware.Config{
				Issuer:        s.Issuer,
				Audiences:     []string{ResourceOpaque},
				Introspection: introspectionAt(s, style),
			})
			read := s.OpaqueToken(t, []string{ScopeRead}, resource(ResourceOpaque))
			all := s.OpaqueToken(t, allScopes, audience(ResourceOpaque))
			revoked := s.OpaqueToken(t, allScopes, resource(ResourceOpaque))
			s.Revoke(t, revoked)
			// aud is the client id (Authlib's documented example): meant
			// for no API in particular, refused under the default rule.
			noResource := s.OpaqueToken(t, allScopes, nil)
			// aud names another API.
			otherAPI := s.OpaqueToken(t, allScopes, resource(ResourceRS256))
			for _, tg := range targets {
				// GET /users is read:users, POST /users write:users: 403.
				wantAccepted(t, tg, read, machineView(s.OpaqueClient, ScopeRead))
				wantAccepted(t, tg, all, machineView(s.OpaqueClient, allScopes...))
				// Revoked before its first use: no cache can hold it.
				wantRefused(t, tg, revoked, middleware.ErrTokenInactive)
				wantRefused(t, tg, "not-a-token-"+randomString(), middleware.ErrTokenInactive)
				wantRefused(t, tg, noResource, middleware.ErrInvalidAudience)
				wantRefused(t, tg, otherAPI, middleware.ErrInvalidAudience)
			}
		})
	}
}

// Authlib's documented introspection answer has aud = the client id: the
// seed's pattern works through AudienceClientID and ClientIDs.
func TestBearerguardAuthlibIntrospectionClientIDAudience(t *testing.T) {
	t.Parallel()
	s := StartAuthlib(t)
	targets := newTargets(t, middleware.Config{
		Issuer:    s.Issuer,
		Audiences: []string{ResourceOpaque},
		ClientIDs: []string{s.OpaqueClient.ID},
		Introspection: &middleware.Introspection{
			ClientID:     s.IntrospectionClient.ID,
			ClientSecret: s.IntrospectionClient.Secret,
			AuthMethod:   middleware.AuthClientSecretPost,
			Endpoint:     s.IntrospectionURL,
			Audience:     middleware.AudienceClientID,
		},
	})
	token := s.OpaqueToken(t, []string{ScopeWrite}, nil)
	revoked := s.OpaqueToken(t, []string{ScopeWrite}, nil)
	s.Revoke(t, revoked)
	// A JWT of another client of the same issuer, for this API.
	otherClient := s.ClientCredentialsToken(t, s.BasicClient, Basic, allScopes, resource(ResourceOpaque))
	for _, tg := range targets {
		wantAccepted(t, tg, token, machineView(s.OpaqueClient, ScopeWrite))
		wantRefused(t, tg, revoked, middleware.ErrTokenInactive)
		wantRefused(t, tg, "not-a-token-"+randomString(), middleware.ErrTokenInactive)
		// ClientIDs holds for JWTs too: the hybrid path is not a way round it.
		if _, err := validate(tg.v, otherClient); !errors.Is(err, middleware.ErrInvalidToken) {
			t.Errorf("%s: JWT of client %s: error %v, want ErrInvalidToken", tg.name, s.BasicClient.ID, err)
		}
	}
}

// One oidc-provider issues JWTs (resource indicators) and opaque tokens
// (ResourceOpaque, or no resource): one validator takes both.
func TestBearerguardOIDCProviderHybrid(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	targets := newTargets(t, middleware.Config{
		Issuer:        s.Issuer,
		Audiences:     []string{ResourceRS256, ResourceES256, ResourceOpaque},
		Introspection: introspectionAt(s, Basic),
	})
	waitReady(t, targets)

	jwtRS := s.ClientCredentialsToken(t, s.BasicClient, Basic, allScopes, resource(ResourceRS256))
	jwtES := s.ClientCredentialsToken(t, s.PostClient, Post, []string{ScopeRead}, resource(ResourceES256))
	opaque := s.OpaqueToken(t, []string{ScopeRead}, resource(ResourceOpaque))
	revoked := s.OpaqueToken(t, allScopes, resource(ResourceOpaque))
	s.Revoke(t, revoked)
	noResource := s.OpaqueToken(t, allScopes, nil)
	// oidc-provider's client_credentials tokens have no sub: not Machine by
	// bearerguard's signals, with the client in client_id.
	opaqueView := claimsView{ClientID: s.OpaqueClient.ID, Scopes: []string{ScopeRead}}
	for _, tg := range targets {
		wantAccepted(t, tg, jwtRS, machineView(s.BasicClient, ScopeRead, ScopeWrite))
		wantAccepted(t, tg, jwtES, machineView(s.PostClient, ScopeRead))
		wantAccepted(t, tg, opaque, opaqueView)
		wantRefused(t, tg, revoked, middleware.ErrTokenInactive)
		wantRefused(t, tg, "not-a-token-"+randomString(), middleware.ErrTokenInactive)
		// No resource, no aud: the token is for the issuer's userinfo, not
		// for this API.
		wantRefused(t, tg, noResource, middleware.ErrInvalidAudience)
		// A forged JWT still goes the JWT way, never to introspection.
		if _, err := validate(tg.v, forgedToken(t, s.Issuer, ResourceRS256)); !errors.Is(err, middleware.ErrInvalidToken) {
			t.Errorf("%s: forged JWT: error %v, want ErrInvalidToken", tg.name, err)
		}
	}

	// AudienceAbsentOK: oidc-provider's resource-less tokens, for issuers
	// that cannot say the audience; a present aud is still checked.
	t.Run("AudienceAbsentOK", func(t *testing.T) {
		in := introspectionAt(s, Post)
		in.Audience = middleware.AudienceAbsentOK
		targets := newTargets(t, middleware.Config{
			Issuer:        s.Issuer,
			Audiences:     []string{ResourceRS256},
			Introspection: in,
		})
		for _, tg := range targets {
			wantAccepted(t, tg, noResource, claimsView{ClientID: s.OpaqueClient.ID, Scopes: allScopes})
			wantRefused(t, tg, opaque, middleware.ErrInvalidAudience)
		}
	})
}

// recoveryTimeout bounds the wait for a validator to use an endpoint that is
// back.
const recoveryTimeout = 10 * time.Second

// The introspection endpoint goes down: a token not yet seen cannot be
// checked, 503 with Retry-After and never 401; after the restart the same
// token is accepted (Authlib keeps its tokens in SQLite).
func TestBearerguardIntrospectionDown(t *testing.T) {
	t.Parallel()
	s := StartAuthlib(t)
	explicit := introspectionAt(s, Basic)
	explicit.Endpoint = s.IntrospectionURL
	for _, tc := range []struct {
		name string
		in   *middleware.Introspection
	}{
		{"discovered endpoint", introspectionAt(s, Basic)},
		{"configured endpoint", explicit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			targets := newTargets(t, middleware.Config{
				Issuer:        s.Issuer,
				Audiences:     []string{ResourceOpaque},
				Introspection: tc.in,
				// A failed discovery of the endpoint is retried soon.
				MinRefreshInterval: 100 * time.Millisecond,
			})
			s.Start()
			token := s.OpaqueToken(t, []string{ScopeRead}, resource(ResourceOpaque))
			s.Stop()
			for _, tg := range targets {
				wantUnavailableEverywhere(t, tg, token, middleware.ErrIntrospectionFailed)
			}
			s.Start()
			// A client honouring Retry-After retries: within a few seconds
			// of the restart the token is checked again.
			for _, tg := range targets {
				if !eventually(recoveryTimeout, func() bool { _, err := validate(tg.v, token); return err == nil }) {
					_, err := validate(tg.v, token)
					t.Fatalf("%s: still refused %v after %v of the restart", tg.name, err, recoveryTimeout)
				}
				wantAccepted(t, tg, token, machineView(s.OpaqueClient, ScopeRead))
			}
		})
	}
}

// Our own credentials refused at the endpoint is the API's fault, not the
// client's: 503, never 401.
func TestBearerguardIntrospectionCredentialsRefused(t *testing.T) {
	t.Parallel()
	s := StartAuthlib(t)
	for _, c := range []Credentials{
		{ID: s.IntrospectionClient.ID, Secret: "wrong"},
		// A real client, but not one allowed to introspect.
		s.OpaqueClient,
	} {
		t.Run(c.ID, func(t *testing.T) {
			targets := newTargets(t, middleware.Config{
				Issuer:    s.Issuer,
				Audiences: []string{ResourceOpaque},
				Introspection: &middleware.Introspection{
					ClientID:     c.ID,
					ClientSecret: c.Secret,
				},
			})
			token := s.OpaqueToken(t, []string{ScopeRead}, resource(ResourceOpaque))
			for _, tg := range targets {
				wantUnavailableEverywhere(t, tg, token, middleware.ErrIntrospectionFailed)
			}
		})
	}
}
