package readme

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
)

// TestSnippetsRun runs the README's snippets with a context that is already
// done, so that no validator reaches the network: the apps they build
// refuse a request without token with a bare challenge, and the configs
// they show are accepted by New.
func TestSnippetsRun(t *testing.T) {
	if len(snippets) != 14 {
		t.Fatalf("%d snippets, want 14: keep the list in step with the README", len(snippets))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	t.Setenv("INTROSPECTION_SECRET", "from the environment")
	if _, err := opaqueSnippet(ctx); err != nil {
		t.Errorf("opaque tokens snippet: New: %v", err)
	}
	if _, err := mtlsSnippet(ctx); err != nil {
		t.Errorf("mTLS snippet: New: %v", err)
	}
	// The DPoP snippet: its /payments route requires DPoP (RFC 9449 §7.1).
	if _, err := dpopSnippet(ctx, nil, http.NotFoundHandler()); err != nil {
		t.Errorf("DPoP snippet: New: %v", err)
	}
	pw := httptest.NewRecorder()
	http.DefaultServeMux.ServeHTTP(pw, httptest.NewRequest("GET", "/payments", nil))
	if c := pw.Header().Get("WWW-Authenticate"); pw.Code != http.StatusUnauthorized || !strings.HasPrefix(c, "DPoP algs=") {
		t.Errorf("DPoP snippet: %d %q, want 401 with a DPoP challenge", pw.Code, c)
	}
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
	// The claims snippet: its routes register (no panic) and refuse a
	// request without token like every route.
	cv, err := middleware.New(ctx, middleware.Config{Issuer: "https://tenant.eu.auth0.com/", Audiences: []string{"https://api.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	ch := claimsSnippet(cv)
	for _, path := range []string{"GET /invoices", "PUT /users/1", "GET /reports"} {
		method, target, _ := strings.Cut(path, " ")
		w := httptest.NewRecorder()
		ch.ServeHTTP(w, httptest.NewRequest(method, target, nil))
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("claims snippet %s: %d %q, want 401 with a bare challenge", path, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	for _, path := range []string{"/users", "/invoices"} {
		w := httptest.NewRecorder()
		auth0Snippet(ctx).ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("Auth0 recipe %s: %d %q, want 401 with a bare challenge", path, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	// The one-literal policy: its route requires DPoP (a DPoP challenge
	// alone, RFC 9449 §7.1).
	w = httptest.NewRecorder()
	policyLiteralSnippet(cv).ServeHTTP(w, httptest.NewRequest("DELETE", "/orgs/org_123/users/7", nil))
	if c := w.Header().Get("WWW-Authenticate"); w.Code != http.StatusUnauthorized || !strings.HasPrefix(c, "DPoP algs=") {
		t.Errorf("policy literal snippet: %d %q, want 401 with a DPoP challenge", w.Code, c)
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
