package readme

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestSnippetsRun runs the README's snippets with a context that is already
// done, so that no validator reaches the network: the apps they build
// refuse a request without token with a bare challenge, and the configs
// they show are accepted by New.
func TestSnippetsRun(t *testing.T) {
	if len(snippets) != 9 {
		t.Fatalf("%d snippets, want 9: keep the list in step with the README", len(snippets))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, h := range map[string]http.Handler{
		"net/http": netHTTPSnippet(ctx),
		"echo":     echoSnippet(ctx),
		"gin":      ginSnippet(ctx),
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/users", nil))
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("%s: %d %q, want 401 with a bare challenge", name, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	// The resource snippet: its metadata document, and a challenge that
	// points at it (RFC 9728 §3.1, §5.1).
	rh := resourceSnippet(ctx)
	w := httptest.NewRecorder()
	rh.ServeHTTP(w, httptest.NewRequest("GET", "/.well-known/oauth-protected-resource/mcp", nil))
	if w.Code != http.StatusOK {
		t.Errorf("resource snippet: metadata status %d, want 200", w.Code)
	}
	w = httptest.NewRecorder()
	rh.ServeHTTP(w, httptest.NewRequest("DELETE", "/mcp/users/42", nil))
	if want := `Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"`; w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != want {
		t.Errorf("resource snippet: %d %q, want 401 %q", w.Code, w.Header().Get("WWW-Authenticate"), want)
	}
	if _, err := auth0Snippet(ctx); err != nil {
		t.Errorf("Auth0 recipe: %v", err)
	}
	if _, err := multiIssuerSnippet(ctx); err != nil {
		t.Errorf("multi-issuer recipe: %v", err)
	}
	kitCtx, kitCancel := context.WithCancel(context.Background())
	defer kitCancel()
	if _, token := testKitSnippet(kitCtx); token == "" {
		t.Error("test kit snippet minted no token")
	}
}
