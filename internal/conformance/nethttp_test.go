package conformance_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/internal/conformance"
	"github.com/bearerguard/bearerguard/middleware"
)

// netHTTPApp serves the conformance routes with the net/http middleware.
func netHTTPApp(v *middleware.Validator) http.Handler {
	writeJSON := func(w http.ResponseWriter, body any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}
	done := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]bool{"ok": true})
	})
	mux := http.NewServeMux()
	mux.Handle("GET /health", done)
	mux.Handle("GET /me", v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		writeJSON(w, map[string]any{"sub": c.Subject, "client_id": c.ClientID, "scopes": c.Scopes})
	})))
	mux.Handle("OPTIONS /me", v.Authenticate(done))
	mux.Handle("GET /users", v.RequireScope("read:users")(done))
	mux.Handle("POST /users", v.RequireScope("write:users")(done))
	mux.Handle("DELETE /users/{id}", v.RequireScope("admin", "users:write users:delete")(done))
	mux.Handle("GET /optional", v.AuthenticateOptional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := claims.FromContext(r.Context()); ok {
			writeJSON(w, map[string]any{"sub": c.Subject})
			return
		}
		writeJSON(w, map[string]any{"anonymous": true})
	})))
	mux.Handle("GET /stepup/mfa", v.Require(middleware.Policy{ACRValues: []string{"urn:example:mfa"}})(done))
	mux.Handle("GET /stepup/fresh", v.Require(middleware.Policy{MaxAge: 5 * time.Minute})(done))
	mux.Handle(conformance.MetadataPath, v.ResourceMetadataHandler())
	mux.Handle("GET /claims/org", v.RequireClaim("org_id", "org_a", "org_b")(done))
	mux.Handle("GET /claims/permissions", v.RequireClaim("permissions", "admin", "read:users write:users")(done))
	mux.Handle("GET /claims/roles", v.RequireClaim("realm_access.roles", "auditor")(done))
	mux.Handle("GET /claims/checked", v.Require(middleware.Policy{
		Claims: []middleware.ClaimRequirement{middleware.ClaimValues("org_id", "org_a")},
		Check:  conformance.RouteCheck,
	})(done))
	return mux
}

// TestMain checks that no goroutine outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestNetHTTP(t *testing.T) {
	conformance.Run(t, netHTTPApp)
}

// TestNetHTTPMounted: the middleware under http.StripPrefix, the usual way
// of mounting a sub-API, which rewrites r.URL but not r.RequestURI.
func TestNetHTTPMounted(t *testing.T) {
	conformance.RunMounted(t, func(v *middleware.Validator) http.Handler {
		me := v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/me" {
				http.Error(w, "not stripped: "+r.URL.Path, http.StatusInternalServerError)
				return
			}
			c, _ := claims.FromContext(r.Context())
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"sub": c.Subject, "client_id": c.ClientID, "scopes": c.Scopes})
		}))
		mux := http.NewServeMux()
		mux.Handle("/api/", http.StripPrefix("/api", me))
		return mux
	})
}
