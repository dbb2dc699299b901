package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestResourceMetadataURL: the well-known suffix goes between the host and
// the path of the resource (RFC 9728 §3.1).
func TestResourceMetadataURL(t *testing.T) {
	kit := hgKit(t)
	for _, tc := range []struct{ resource, url, path string }{
		{"https://api.example.test", "https://api.example.test/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource"},
		{"https://api.example.test/", "https://api.example.test/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource"},
		{"https://api.example.test/mcp", "https://api.example.test/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource/mcp"},
		{"https://api.example.test:8443/a/b/", "https://api.example.test:8443/.well-known/oauth-protected-resource/a/b/", "/.well-known/oauth-protected-resource/a/b/"},
		{"https://api.example.test/t?x=1", "https://api.example.test/.well-known/oauth-protected-resource/t?x=1", "/.well-known/oauth-protected-resource/t"},
		{"http://127.0.0.1:8080/mcp", "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource/mcp"},
	} {
		t.Run(tc.resource, func(t *testing.T) {
			v := hgNew(t, kit, middleware.Config{Resource: tc.resource, Audiences: []string{tc.resource}})
			if got := v.ResourceMetadataURL(); got != tc.url {
				t.Errorf("ResourceMetadataURL() = %q, want %q", got, tc.url)
			}
			if got := v.ResourceMetadataPath(); got != tc.path {
				t.Errorf("ResourceMetadataPath() = %q, want %q", got, tc.path)
			}
		})
	}
	v := hgNew(t, kit, middleware.Config{})
	if v.ResourceMetadataURL() != "" || v.ResourceMetadataPath() != "" {
		t.Errorf("without Resource: URL %q path %q, want none", v.ResourceMetadataURL(), v.ResourceMetadataPath())
	}
}

// TestResourceMetadataDocument: the document (RFC 9728 §2) is derived
// from the Config, plus the configured optional members.
func TestResourceMetadataDocument(t *testing.T) {
	kit := hgKit(t)
	const other = "https://other-issuer.example.test"
	for _, tc := range []struct {
		name string
		cfg  middleware.Config
		want map[string]any
	}{
		{"minimal", middleware.Config{Resource: hgAudience}, map[string]any{
			"resource":                 hgAudience,
			"authorization_servers":    []any{kit.URL},
			"bearer_methods_supported": []any{"header"},
		}},
		{"everything", middleware.Config{
			Resource:        hgAudience,
			ExtraIssuers:    []middleware.Issuer{{Issuer: other, JWKSURL: kit.JWKSURL()}},
			AllowQueryToken: true,
			AllowFormToken:  true,
			ResourceMetadata: middleware.ResourceMetadata{
				ScopesSupported:       []string{"read:users", "write:users"},
				ResourceName:          "Users API",
				ResourceDocumentation: "https://docs.example.test/api",
				ResourcePolicyURI:     "https://example.test/policy",
				ResourceTOSURI:        "https://example.test/tos",
			},
		}, map[string]any{
			"resource":                 hgAudience,
			"authorization_servers":    []any{kit.URL, other},
			"bearer_methods_supported": []any{"header", "body", "query"},
			"scopes_supported":         []any{"read:users", "write:users"},
			"resource_name":            "Users API",
			"resource_documentation":   "https://docs.example.test/api",
			"resource_policy_uri":      "https://example.test/policy",
			"resource_tos_uri":         "https://example.test/tos",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := hgNew(t, kit, tc.cfg)
			w := hgServe(v.ResourceMetadataHandler(), httptest.NewRequest(http.MethodGet, v.ResourceMetadataPath(), nil))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := w.Header().Get("Cache-Control"); cc == "" || cc == "no-store" {
				t.Errorf("Cache-Control %q, want cacheable", cc)
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("document %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestResourceMetadataMethods: GET and HEAD only; 404 without Resource.
func TestResourceMetadataMethods(t *testing.T) {
	kit := hgKit(t)
	v := hgNew(t, kit, middleware.Config{Resource: hgAudience})
	h := v.ResourceMetadataHandler()
	for _, tc := range []struct {
		method string
		status int
		allow  string
	}{
		{http.MethodGet, http.StatusOK, ""},
		{http.MethodHead, http.StatusOK, ""},
		{http.MethodPost, http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodDelete, http.StatusMethodNotAllowed, "GET, HEAD"},
	} {
		w := hgServe(h, httptest.NewRequest(tc.method, v.ResourceMetadataPath(), nil))
		if w.Code != tc.status || w.Header().Get("Allow") != tc.allow {
			t.Errorf("%s: status %d Allow %q, want %d %q", tc.method, w.Code, w.Header().Get("Allow"), tc.status, tc.allow)
		}
		if tc.method == http.MethodHead && w.Body.Len() != 0 {
			t.Errorf("HEAD with a body")
		}
	}
	none := hgNew(t, kit, middleware.Config{})
	if w := hgServe(none.ResourceMetadataHandler(), httptest.NewRequest(http.MethodGet, middleware.WellKnownResourceMetadata, nil)); w.Code != http.StatusNotFound {
		t.Errorf("without Resource: status %d, want 404", w.Code)
	}
}

// TestResourceMetadataChallenge: with Resource set, every challenge
// carries resource_metadata (RFC 9728 §5.1): no token, invalid token,
// malformed request, insufficient scope and step-up; without it, none
// does. 503 has no challenge at all.
func TestResourceMetadataChallenge(t *testing.T) {
	kit := hgKit(t)
	const url = hgAudience + "/.well-known/oauth-protected-resource"
	valid := hgToken(kit, middlewaretest.Spec{Scopes: []string{"read:users"}})
	expired := kit.Sign(nil, hgClaims(kit, map[string]any{"exp": hgNow.Add(-time.Hour).Unix()}))
	bad := hgRequest("")
	bad.Header.Set("Authorization", "Bearer")
	step := middleware.Policy{ACRValues: []string{"urn:example:mfa"}}
	for _, resource := range []string{hgAudience, ""} {
		v := hgReady(t, kit, middleware.Config{Resource: resource, Realm: "api"})
		want := ""
		if resource != "" {
			want = url
		}
		for _, tc := range []struct {
			name string
			p    middleware.Policy
			r    *http.Request
			cat  error
		}{
			{"no token", middleware.Policy{}, hgRequest(""), middleware.ErrNoToken},
			{"invalid token", middleware.Policy{}, hgRequest(expired), middleware.ErrInvalidToken},
			{"malformed request", middleware.Policy{}, bad, middleware.ErrInvalidRequest},
			{"insufficient scope", middleware.ScopePolicy("admin"), hgRequest(valid), middleware.ErrInsufficientScope},
			{"step-up", step, hgRequest(valid), middleware.ErrInsufficientUserAuthentication},
		} {
			t.Run(tc.name+" resource="+resource, func(t *testing.T) {
				w := hgServe(v.Require(tc.p)(hgOK), tc.r)
				hgCheckChallenge(t, w.Result().Header, tc.cat)
				attrs := hgChallengeAttrs(t, w.Header().Get("WWW-Authenticate"))
				if attrs["resource_metadata"] != want || attrs["realm"] != "api" {
					t.Errorf("resource_metadata=%q realm=%q, want %q api", attrs["resource_metadata"], attrs["realm"], want)
				}
			})
		}
	}
}
