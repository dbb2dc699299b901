package interop

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// allScopes is more than the resources allow: oidc-provider drops what the
// resource does not list, Authlib keeps what the client may ask for.
var allScopes = []string{ScopeRead, ScopeWrite, ScopeDelete}

type tokenCase struct {
	name   string
	client func(*Server) Credentials
	style  AuthStyle
	scopes []string
	params url.Values

	wantTyp, wantAlg, wantAud, wantScope string
}

func basic(s *Server) Credentials { return s.BasicClient }
func post(s *Server) Credentials  { return s.PostClient }

// checkJWT asserts the header and payload of an access token and that its kid
// is published, and returns the payload.
func checkJWT(t *testing.T, s *Server, token string, tc tokenCase, clientID string) map[string]any {
	t.Helper()
	header, payload := DecodeUnverified(t, token)
	t.Logf("header  %s", mustJSON(t, header))
	t.Logf("payload %s", mustJSON(t, payload))
	if header["typ"] != tc.wantTyp || header["alg"] != tc.wantAlg {
		t.Errorf("header typ %v alg %v, want %s %s", header["typ"], header["alg"], tc.wantTyp, tc.wantAlg)
	}
	kid, _ := header["kid"].(string)
	if kids := s.KeyIDs(t); !slices.Contains(kids, kid) {
		t.Errorf("kid %q not in JWKS %v", kid, kids)
	}
	if payload["iss"] != s.Issuer {
		t.Errorf("iss %v, want %s", payload["iss"], s.Issuer)
	}
	if tc.wantAud == "" {
		if aud, ok := payload["aud"]; ok {
			t.Errorf("aud %v, want none", aud)
		}
	} else if payload["aud"] != tc.wantAud {
		t.Errorf("aud %v, want %s", payload["aud"], tc.wantAud)
	}
	if tc.wantScope == "" {
		if scope := payload["scope"]; scope != nil {
			t.Errorf("scope %v, want none", scope)
		}
	} else if payload["scope"] != tc.wantScope {
		t.Errorf("scope %v, want %q", payload["scope"], tc.wantScope)
	}
	if payload["client_id"] != clientID || payload["sub"] != clientID {
		t.Errorf("client_id %v sub %v, want %s", payload["client_id"], payload["sub"], clientID)
	}
	iat, _ := payload["iat"].(float64)
	exp, _ := payload["exp"].(float64)
	if exp-iat != 600 {
		t.Errorf("exp-iat = %v, want 600", exp-iat)
	}
	return payload
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func resource(r string) url.Values { return url.Values{"resource": {r}} }
func audience(a string) url.Values { return url.Values{"audience": {a}} }

func wantRetrieveError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Fatalf("error %v, want oauth2 error %s", err, code)
	}
}

func TestOIDCProviderClientCredentials(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	tests := []tokenCase{
		{name: "basic RS256", client: basic, style: Basic, scopes: allScopes, params: resource(ResourceRS256),
			wantTyp: "at+jwt", wantAlg: "RS256", wantAud: ResourceRS256, wantScope: "read:users write:users"},
		{name: "post RS256", client: post, style: Post, scopes: []string{ScopeRead}, params: resource(ResourceRS256),
			wantTyp: "at+jwt", wantAlg: "RS256", wantAud: ResourceRS256, wantScope: "read:users"},
		{name: "basic ES256", client: basic, style: Basic, scopes: allScopes, params: resource(ResourceES256),
			wantTyp: "at+jwt", wantAlg: "ES256", wantAud: ResourceES256, wantScope: "read:users write:users"},
		{name: "post ES256 no scope", client: post, style: Post, params: resource(ResourceES256),
			wantTyp: "at+jwt", wantAlg: "ES256", wantAud: ResourceES256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.client(s)
			token := s.ClientCredentialsToken(t, c, tc.style, tc.scopes, tc.params)
			checkJWT(t, s, token, tc, c.ID)
		})
	}

	// oidc-provider knows no audience parameter: without a resource the
	// access token is opaque, as it is at Logto.
	t.Run("audience ignored", func(t *testing.T) {
		token := s.ClientCredentialsToken(t, s.PostClient, Post, []string{ScopeRead}, audience(ResourceRS256))
		t.Logf("opaque token %s", token)
		if strings.Contains(token, ".") {
			t.Errorf("token %q looks like a JWT, want opaque", token)
		}
	})
	t.Run("unknown resource", func(t *testing.T) {
		_, err := s.FetchToken(context.Background(), s.BasicClient, Basic, nil, resource("https://other.example.test"))
		wantRetrieveError(t, err, "invalid_target")
	})
	t.Run("wrong secret", func(t *testing.T) {
		c := Credentials{ID: s.BasicClient.ID, Secret: "wrong"}
		_, err := s.FetchToken(context.Background(), c, Basic, nil, resource(ResourceRS256))
		wantRetrieveError(t, err, "invalid_client")
	})
	// Unlike Authlib, oidc-provider accepts client_secret_basic and
	// client_secret_post alike for a client registered with either.
	t.Run("auth methods interchangeable", func(t *testing.T) {
		s.ClientCredentialsToken(t, s.BasicClient, Post, nil, resource(ResourceRS256))
		s.ClientCredentialsToken(t, s.PostClient, Basic, nil, resource(ResourceRS256))
	})
}

func TestOIDCProviderKeyRotation(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	kidOf := func(resource string) string {
		t.Helper()
		token := s.ClientCredentialsToken(t, s.BasicClient, Basic, []string{ScopeRead}, url.Values{"resource": {resource}})
		header, _ := DecodeUnverified(t, token)
		return header["kid"].(string)
	}

	before := s.KeyIDs(t)
	oldRS, oldES := kidOf(ResourceRS256), kidOf(ResourceES256)
	if len(before) != 2 || !slices.Contains(before, oldRS) || !slices.Contains(before, oldES) {
		t.Fatalf("JWKS %v, want exactly the RS256 kid %s and the ES256 kid %s", before, oldRS, oldES)
	}

	rotated := s.RotateKey(t)
	newRS, newES := kidOf(ResourceRS256), kidOf(ResourceES256)
	if newRS == oldRS || newES == oldES {
		t.Fatalf("signing kids after rotation %s %s, want new ones (before %s %s)", newRS, newES, oldRS, oldES)
	}
	published := s.KeyIDs(t)
	for _, kid := range []string{oldRS, oldES, newRS, newES} {
		if !slices.Contains(published, kid) {
			t.Errorf("after rotation kid %s not in JWKS %v", kid, published)
		}
	}
	if len(published) != 4 || !slices.Equal(published, rotated) {
		t.Errorf("after rotation JWKS %v, admin said %v", published, rotated)
	}

	s.DropOldKeys(t)
	published = s.KeyIDs(t)
	if !slices.Equal(published, []string{newRS, newES}) {
		t.Errorf("after drop JWKS %v, want [%s %s]", published, newRS, newES)
	}
	if got := kidOf(ResourceRS256); got != newRS {
		t.Errorf("after drop signing kid %s, want %s", got, newRS)
	}
}

func TestOIDCProviderStopStart(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	issuer, kids := s.Issuer, s.KeyIDs(t)

	s.Stop()
	if s.Running() {
		t.Fatal("Running after Stop")
	}
	if _, err := http.Get(s.MetadataURL); err == nil {
		t.Fatal("metadata still served after Stop")
	}
	if _, err := s.FetchToken(context.Background(), s.BasicClient, Basic, nil, resource(ResourceRS256)); err == nil {
		t.Fatal("token issued after Stop")
	}

	s.Start()
	if s.Issuer != issuer {
		t.Errorf("issuer after restart %s, want %s", s.Issuer, issuer)
	}
	if got := s.KeyIDs(t); !slices.Equal(got, kids) {
		t.Errorf("kids after restart %v, want %v", got, kids)
	}
	token := s.ClientCredentialsToken(t, s.BasicClient, Basic, []string{ScopeRead}, resource(ResourceRS256))
	_, payload := DecodeUnverified(t, token)
	if payload["iss"] != issuer {
		t.Errorf("iss after restart %v, want %s", payload["iss"], issuer)
	}
}

func TestOIDCProviderDownFromStart(t *testing.T) {
	t.Parallel()
	s := NewOIDCProviderStopped(t)
	if s.Running() || s.Issuer == "" || s.TokenURL == "" || s.JWKSURL == "" {
		t.Fatalf("stopped server: running %v, issuer %q, token %q, jwks %q", s.Running(), s.Issuer, s.TokenURL, s.JWKSURL)
	}
	issuer := s.Issuer
	if _, err := http.Get(s.JWKSURL); err == nil {
		t.Fatal("JWKS served before Start")
	}
	s.Start()
	if s.Issuer != issuer {
		t.Errorf("issuer %s, want the one promised before Start %s", s.Issuer, issuer)
	}
	if kids := s.KeyIDs(t); len(kids) != 2 {
		t.Errorf("JWKS %v, want 2 keys", kids)
	}
}

func TestOIDCProviderIDToken(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	idToken := s.IDToken(t)
	header, payload := DecodeUnverified(t, idToken)
	t.Logf("header  %s", mustJSON(t, header))
	t.Logf("payload %s", mustJSON(t, payload))
	if header["alg"] != "RS256" || header["typ"] == "at+jwt" {
		t.Errorf("header %v, want alg RS256 and no at+jwt", header)
	}
	if kid, _ := header["kid"].(string); !slices.Contains(s.KeyIDs(t), kid) {
		t.Errorf("kid %q not published", kid)
	}
	if payload["iss"] != s.Issuer || payload["aud"] != s.BasicClient.ID || payload["sub"] != IDTokenSubject {
		t.Errorf("iss %v aud %v sub %v, want %s %s %s", payload["iss"], payload["aud"], payload["sub"], s.Issuer, s.BasicClient.ID, IDTokenSubject)
	}
	if nonce, _ := payload["nonce"].(string); nonce == "" {
		t.Error("no nonce")
	}
	if _, ok := payload["scope"]; ok {
		t.Error("ID token has a scope claim")
	}
}

func TestAuthlibClientCredentials(t *testing.T) {
	t.Parallel()
	s := StartAuthlib(t)
	tests := []tokenCase{
		{name: "basic resource", client: basic, style: Basic, scopes: []string{ScopeRead, ScopeWrite}, params: resource(ResourceRS256),
			wantTyp: "JWT", wantAlg: "RS256", wantAud: ResourceRS256, wantScope: "read:users write:users"},
		{name: "post resource", client: post, style: Post, scopes: []string{ScopeRead}, params: resource(ResourceES256),
			wantTyp: "JWT", wantAlg: "RS256", wantAud: ResourceES256, wantScope: "read:users"},
		{name: "basic audience", client: basic, style: Basic, scopes: allScopes, params: audience(ResourceRS256),
			wantTyp: "JWT", wantAlg: "RS256", wantAud: ResourceRS256, wantScope: "read:users write:users delete:users"},
		{name: "post audience", client: post, style: Post, scopes: []string{ScopeWrite}, params: audience(ResourceRS256),
			wantTyp: "JWT", wantAlg: "RS256", wantAud: ResourceRS256, wantScope: "write:users"},
		// Stock Authlib: no aud without a resource or audience, and a JSON
		// null scope when none was asked for.
		{name: "post no audience no scope", client: post, style: Post,
			wantTyp: "JWT", wantAlg: "RS256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.client(s)
			token := s.ClientCredentialsToken(t, c, tc.style, tc.scopes, tc.params)
			payload := checkJWT(t, s, token, tc, c.ID)
			if payload["grant_type"] != "client_credentials" {
				t.Errorf("grant_type claim %v", payload["grant_type"])
			}
		})
	}
	t.Run("unknown audience", func(t *testing.T) {
		_, err := s.FetchToken(context.Background(), s.PostClient, Post, nil, audience("https://other.example.test"))
		wantRetrieveError(t, err, "invalid_target")
	})
	t.Run("wrong auth method", func(t *testing.T) {
		_, err := s.FetchToken(context.Background(), s.PostClient, Basic, nil, nil)
		wantRetrieveError(t, err, "invalid_client")
	})
	t.Run("openid-configuration", func(t *testing.T) {
		var md metadata
		if err := getJSON(s.Issuer+"/.well-known/openid-configuration", &md); err != nil {
			t.Fatal(err)
		}
		if md.Issuer != s.Issuer || md.JWKSURI != s.JWKSURL || md.TokenEndpoint != s.TokenURL {
			t.Errorf("openid-configuration %+v differs from %s", md, s.MetadataURL)
		}
	})
}

func TestAuthlibStopStart(t *testing.T) {
	t.Parallel()
	s := NewAuthlibStopped(t)
	issuer := s.Issuer
	s.Start()
	kids := s.KeyIDs(t)
	s.Stop()
	if _, err := http.Get(s.MetadataURL); err == nil {
		t.Fatal("metadata still served after Stop")
	}
	s.Start()
	if s.Issuer != issuer {
		t.Errorf("issuer after restart %s, want %s", s.Issuer, issuer)
	}
	if got := s.KeyIDs(t); !slices.Equal(got, kids) || len(got) != 1 {
		t.Errorf("kids after restart %v, want %v", got, kids)
	}
	token := s.ClientCredentialsToken(t, s.BasicClient, Basic, []string{ScopeRead}, audience(ResourceRS256))
	header, _ := DecodeUnverified(t, token)
	if header["kid"] != kids[0] {
		t.Errorf("kid %v, want %s", header["kid"], kids[0])
	}
}
