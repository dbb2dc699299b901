package mcpguard_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/adapters/mcpguard"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

const resource = "https://mcp.example.test/mcp"

func validator(t *testing.T, kit *middlewaretest.Issuer) *middleware.Validator {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := middleware.New(ctx, middleware.Config{Issuer: kit.URL, Audiences: []string{resource}, KeyWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNew(t *testing.T) {
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	v := validator(t, kit)
	for _, tc := range []struct {
		resource, metadataURL string
	}{
		{"https://mcp.example.test/mcp", "https://mcp.example.test/.well-known/oauth-protected-resource/mcp"},
		{"https://mcp.example.test/", "https://mcp.example.test/.well-known/oauth-protected-resource"},
		{"https://mcp.example.test", "https://mcp.example.test/.well-known/oauth-protected-resource"},
		{"http://127.0.0.1:8080/a/b/", "http://127.0.0.1:8080/.well-known/oauth-protected-resource/a/b"},
		{"http://mcp.example.test/mcp", ""},
		{"https://mcp.example.test/mcp?x=1", ""},
		{"https://mcp.example.test/mcp#f", ""},
		{"/mcp", ""},
		{"", ""},
	} {
		g, err := mcpguard.New(v, &oauthex.ProtectedResourceMetadata{Resource: tc.resource, AuthorizationServers: []string{kit.URL}})
		if tc.metadataURL == "" {
			if !errors.Is(err, middleware.ErrInvalidConfig) {
				t.Errorf("%q: error %v, want ErrInvalidConfig", tc.resource, err)
			}
			continue
		}
		if err != nil || g.MetadataURL() != tc.metadataURL {
			t.Errorf("%q: %v, metadata URL %q, want %q (RFC 9728 §3.1)", tc.resource, err, g.MetadataURL(), tc.metadataURL)
		}
	}
	if _, err := mcpguard.New(v, &oauthex.ProtectedResourceMetadata{Resource: resource}); !errors.Is(err, middleware.ErrInvalidConfig) {
		t.Errorf("no authorization server: %v, want ErrInvalidConfig", err)
	}
	// Config.Resource and the Guard's metadata: the same resource is
	// accepted, another refused (the challenges would point elsewhere than
	// the document the Guard serves).
	for _, tc := range []struct {
		core string
		ok   bool
	}{{resource, true}, {"https://mcp.example.test/other", false}} {
		ctx, cancel := context.WithCancel(t.Context())
		cv, err := middleware.New(ctx, middleware.Config{Issuer: kit.URL, Audiences: []string{resource, "https://mcp.example.test/other"}, Resource: tc.core})
		if err != nil {
			t.Fatal(err)
		}
		_, err = mcpguard.New(cv, &oauthex.ProtectedResourceMetadata{Resource: resource, AuthorizationServers: []string{kit.URL}})
		if tc.ok != (err == nil) || err != nil && !errors.Is(err, middleware.ErrInvalidConfig) {
			t.Errorf("Config.Resource %q: New error %v, want ok %t or ErrInvalidConfig", tc.core, err, tc.ok)
		}
		cancel()
	}
}

// TestVerifier: bearerguard's refusals become the SDK's error values.
func TestVerifier(t *testing.T) {
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	verify := mcpguard.Verifier(validator(t, kit))
	good := kit.Token(middlewaretest.Spec{Audience: []string{resource}, Scopes: []string{"a", "b"}})

	info, err := verify(context.Background(), good, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := mcpguard.Claims(info)
	if !ok || info.UserID != c.Subject || info.UserID == "" || !info.Expiration.Equal(c.ExpiresAt) || len(info.Scopes) != 2 {
		t.Errorf("TokenInfo %+v from claims %+v", info, c)
	}

	_, err = verify(context.Background(), kit.Token(middlewaretest.Spec{}), nil) // another audience
	if !errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, middleware.ErrInvalidAudience) {
		t.Errorf("other audience: %v, want auth.ErrInvalidToken and ErrInvalidAudience", err)
	}

	// Through the SDK's middleware: 401 with resource_metadata.
	h := auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{ResourceMetadataURL: "https://mcp.example.test/.well-known/oauth-protected-resource/mcp"})(http.NotFoundHandler())
	r := httptest.NewRequest("POST", resource, nil)
	r.Header.Set("Authorization", "Bearer "+kit.Token(middlewaretest.Spec{Lifetime: -time.Hour, Audience: []string{resource}}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("expired token through RequireBearerToken: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}

	// Issuer down: not an invalid token, whatever the SDK makes of it.
	down := middlewaretest.NewIssuer()
	defer down.Close()
	down.SetStatus(http.StatusInternalServerError)
	_, err = mcpguard.Verifier(validator(t, down))(context.Background(), down.Token(middlewaretest.Spec{Audience: []string{resource}}), nil)
	if !errors.Is(err, middleware.ErrKeysUnavailable) || errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("issuer down: %v, want ErrKeysUnavailable and not auth.ErrInvalidToken", err)
	}
}

func TestCheckScope(t *testing.T) {
	req := func(info *auth.TokenInfo) mcp.Request {
		return &mcp.CallToolRequest{Extra: &mcp.RequestExtra{TokenInfo: info}}
	}
	for _, tc := range []struct {
		name    string
		r       mcp.Request
		want    []string
		refused error
	}{
		{"granted", req(&auth.TokenInfo{Scopes: []string{"a", "b"}}), []string{"c", "a b"}, nil},
		{"lacking", req(&auth.TokenInfo{Scopes: []string{"a"}}), []string{"a b"}, middleware.ErrInsufficientScope},
		{"no token", req(nil), []string{"a"}, middleware.ErrNoToken},
		{"no extra", &mcp.CallToolRequest{}, []string{"a"}, middleware.ErrNoToken},
	} {
		err := mcpguard.CheckScope(tc.r, tc.want...)
		if (tc.refused == nil) != (err == nil) || (tc.refused != nil && !errors.Is(err, tc.refused)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.refused)
		}
	}
	var e *middleware.Error
	if err := mcpguard.CheckScope(req(&auth.TokenInfo{}), "x y"); !errors.As(err, &e) || e.Scope != "x y" || e.Status != http.StatusForbidden {
		t.Errorf("lacking scope: %v, want a 403 *middleware.Error with scope %q", err, "x y")
	}
}
