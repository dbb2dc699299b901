package interop

// The servers' opaque tokens, RFC 7662 introspection and RFC 7009
// revocation, spoken to in raw HTTP: what bearerguard's introspection
// client will meet.

import (
	"net/http"
	"net/url"
	"testing"
)

// introspectionCase is one opaque token and what its introspection must say.
type introspectionCase struct {
	name      string
	scopes    []string
	params    url.Values
	wantAud   string // "" for no aud member
	wantScope string
}

// checkActive asserts an introspection answer for a live opaque token of
// OpaqueClient.
func checkActive(t *testing.T, s *Server, got map[string]any, tc introspectionCase) {
	t.Helper()
	t.Logf("introspection %s", mustJSON(t, got))
	if got["active"] != true {
		t.Fatalf("active %v, want true", got["active"])
	}
	if got["client_id"] != s.OpaqueClient.ID {
		t.Errorf("client_id %v, want %s", got["client_id"], s.OpaqueClient.ID)
	}
	if got["iss"] != s.Issuer {
		t.Errorf("iss %v, want %s", got["iss"], s.Issuer)
	}
	if got["token_type"] != "Bearer" {
		t.Errorf("token_type %v, want Bearer", got["token_type"])
	}
	if scope, _ := got["scope"].(string); scope != tc.wantScope {
		t.Errorf("scope %v, want %q", got["scope"], tc.wantScope)
	}
	if aud, ok := got["aud"]; tc.wantAud == "" && ok || tc.wantAud != "" && aud != tc.wantAud {
		t.Errorf("aud %v (present %v), want %q", aud, ok, tc.wantAud)
	}
	iat, _ := got["iat"].(float64)
	exp, _ := got["exp"].(float64)
	if exp-iat != 600 {
		t.Errorf("exp-iat = %v, want 600", exp-iat)
	}
}

func wantInactive(t *testing.T, s *Server, token string) {
	t.Helper()
	for _, style := range []AuthStyle{Basic, Post} {
		got := s.Introspect(t, token, style)
		if len(got) != 1 || got["active"] != false {
			t.Errorf("%v: introspection %s, want exactly {\"active\":false}", style, mustJSON(t, got))
		}
	}
}

// wantIntrospectionStatus posts an introspection request for token as c and
// checks the HTTP status and the OAuth error code of the answer.
func wantIntrospectionStatus(t *testing.T, s *Server, c Credentials, style AuthStyle, token string, status int, code string) {
	t.Helper()
	resp, err := postForm(s.IntrospectionURL, c, style, url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	decodeBody(t, resp, &body)
	if resp.StatusCode != status || body.Error != code {
		t.Errorf("%s as %s (%v): status %d error %q, want %d %q", s.IntrospectionURL, c.ID, style, resp.StatusCode, body.Error, status, code)
	}
}

func TestAuthlibIntrospection(t *testing.T) {
	t.Parallel()
	s := StartAuthlib(t)
	tests := []introspectionCase{
		// Authlib's documented introspect_token example: aud is the client.
		{name: "no resource", scopes: []string{ScopeRead, ScopeWrite},
			wantAud: s.OpaqueClient.ID, wantScope: "read:users write:users"},
		{name: "resource", scopes: []string{ScopeRead}, params: resource(ResourceOpaque),
			wantAud: ResourceOpaque, wantScope: "read:users"},
		{name: "audience", scopes: allScopes, params: audience(ResourceRS256),
			wantAud: ResourceRS256, wantScope: "read:users write:users delete:users"},
		// Stock Authlib answers "scope": null for a token without scope.
		{name: "no scope", wantAud: s.OpaqueClient.ID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := s.OpaqueToken(t, tc.scopes, tc.params)
			for _, style := range []AuthStyle{Basic, Post} {
				got := s.Introspect(t, token, style)
				checkActive(t, s, got, tc)
				if got["sub"] != s.OpaqueClient.ID {
					t.Errorf("sub %v, want the client %s", got["sub"], s.OpaqueClient.ID)
				}
			}
		})
	}
	t.Run("revoked", func(t *testing.T) {
		token := s.OpaqueToken(t, []string{ScopeRead}, nil)
		s.Revoke(t, token)
		wantInactive(t, s, token)
	})
	t.Run("unknown string", func(t *testing.T) {
		wantInactive(t, s, "not-a-token-"+randomString())
	})
	// JWT access tokens are not stored: Authlib knows only its opaque ones.
	t.Run("JWT", func(t *testing.T) {
		wantInactive(t, s, s.ClientCredentialsToken(t, s.BasicClient, Basic, nil, resource(ResourceRS256)))
	})
	t.Run("other clients refused", func(t *testing.T) {
		token := s.OpaqueToken(t, nil, nil)
		wantIntrospectionStatus(t, s, s.OpaqueClient, Basic, token, http.StatusUnauthorized, "invalid_client")
		wantIntrospectionStatus(t, s, s.BasicClient, Basic, token, http.StatusUnauthorized, "invalid_client")
		wrong := Credentials{ID: s.IntrospectionClient.ID, Secret: "wrong"}
		wantIntrospectionStatus(t, s, wrong, Basic, token, http.StatusUnauthorized, "invalid_client")
		wantIntrospectionStatus(t, s, wrong, Post, token, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("introspection client gets no tokens", func(t *testing.T) {
		_, err := s.FetchToken(t.Context(), s.IntrospectionClient, Basic, nil, nil)
		wantRetrieveError(t, err, "invalid_client")
	})
}

// Authlib's tokens are in an SQLite file in the state directory: a token
// issued before an outage is still known after it.
func TestAuthlibOpaqueTokensSurviveRestart(t *testing.T) {
	t.Parallel()
	s := StartAuthlib(t)
	live := s.OpaqueToken(t, []string{ScopeRead}, nil)
	revoked := s.OpaqueToken(t, []string{ScopeRead}, nil)
	s.Revoke(t, revoked)
	s.Stop()
	s.Start()
	checkActive(t, s, s.Introspect(t, live, Basic), introspectionCase{wantAud: s.OpaqueClient.ID, wantScope: ScopeRead})
	wantInactive(t, s, revoked)
}

func TestOIDCProviderIntrospection(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	tests := []introspectionCase{
		// No resource: no aud, every scope the client may have.
		{name: "no resource", scopes: allScopes,
			wantScope: "read:users write:users delete:users"},
		// The resource's scopes only, and aud names it.
		{name: "opaque resource", scopes: allScopes, params: resource(ResourceOpaque),
			wantAud: ResourceOpaque, wantScope: "read:users write:users"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := s.OpaqueToken(t, tc.scopes, tc.params)
			for _, style := range []AuthStyle{Basic, Post} {
				got := s.Introspect(t, token, style)
				checkActive(t, s, got, tc)
				// client_credentials has no account: no sub.
				if sub, ok := got["sub"]; ok {
					t.Errorf("sub %v, want none", sub)
				}
			}
		})
	}
	t.Run("revoked", func(t *testing.T) {
		token := s.OpaqueToken(t, []string{ScopeRead}, nil)
		s.Revoke(t, token)
		wantInactive(t, s, token)
	})
	t.Run("unknown string", func(t *testing.T) {
		wantInactive(t, s, "not-a-token-"+randomString())
	})
	// oidc-provider refuses to introspect its own JWTs.
	t.Run("JWT", func(t *testing.T) {
		jwt := s.ClientCredentialsToken(t, s.BasicClient, Basic, nil, resource(ResourceRS256))
		wantIntrospectionStatus(t, s, s.IntrospectionClient, Basic, jwt, http.StatusBadRequest, "unsupported_token_type")
	})
	// Any registered client authenticates, but only the API's is answered.
	t.Run("other clients answered inactive", func(t *testing.T) {
		token := s.OpaqueToken(t, nil, nil)
		for _, c := range []Credentials{s.OpaqueClient, s.BasicClient} {
			resp, err := postForm(s.IntrospectionURL, c, Basic, url.Values{"token": {token}})
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			decodeBody(t, resp, &got)
			if resp.StatusCode != http.StatusOK || len(got) != 1 || got["active"] != false {
				t.Errorf("as %s: status %d %s, want 200 {\"active\":false}", c.ID, resp.StatusCode, mustJSON(t, got))
			}
		}
		wrong := Credentials{ID: s.IntrospectionClient.ID, Secret: "wrong"}
		wantIntrospectionStatus(t, s, wrong, Basic, token, http.StatusUnauthorized, "invalid_client")
		wantIntrospectionStatus(t, s, wrong, Post, token, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("revocation by another client refused", func(t *testing.T) {
		token := s.OpaqueToken(t, []string{ScopeRead}, nil)
		resp, err := postForm(s.RevocationURL, s.BasicClient, Basic, url.Values{"token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
		checkActive(t, s, s.Introspect(t, token, Basic), introspectionCase{wantScope: ScopeRead})
	})
	t.Run("introspection client gets no tokens", func(t *testing.T) {
		_, err := s.FetchToken(t.Context(), s.IntrospectionClient, Basic, nil, nil)
		wantRetrieveError(t, err, "invalid_request")
	})
}

// oidc-provider keeps opaque tokens in process memory: after a restart the
// server no longer knows them. Outage tests that need a token to outlive the
// outage use Authlib.
func TestOIDCProviderOpaqueTokensForgottenOnRestart(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	token := s.OpaqueToken(t, []string{ScopeRead}, nil)
	s.Stop()
	s.Start()
	wantInactive(t, s, token)
}
