package readme

import (
	"context"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/bearerguard/bearerguard/adapters/echo5guard"
)

// The README's Echo v5 snippet, in the Usage section beside Echo v4's.
func echo5Snippet(ctx context.Context) *echo.Echo {
	g, err := echo5guard.New(ctx, echo5guard.Config{
		Issuer:    "https://tenant.eu.auth0.com/",
		Audiences: []string{"https://api.example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.GET("/me", meEcho5, g.Authenticate())
	e.GET("/users", listUsersEcho5, g.RequireScope("read:users"))
	e.DELETE("/users/:id", deleteUserEcho5, g.RequireScope("admin", "users:write users:delete"))
	return e
}

func meEcho5(c *echo.Context) error         { return nil }
func listUsersEcho5(c *echo.Context) error  { return nil }
func deleteUserEcho5(c *echo.Context) error { return nil }

// TestEcho5SnippetRuns: the app the Echo v5 snippet builds refuses a
// request without a token with a bare challenge, as the other frameworks'
// snippets do (TestSnippetsRun).
func TestEcho5SnippetRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no validator reaches the network
	w := httptest.NewRecorder()
	echo5Snippet(ctx).ServeHTTP(w, httptest.NewRequest("GET", "/users", nil))
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("%d %q, want 401 with a bare challenge", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}
