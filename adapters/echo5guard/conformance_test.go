package echo5guard_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/labstack/echo/v5"
	echomw "github.com/labstack/echo/v5/middleware"

	"github.com/bearerguard/bearerguard/adapters/echo5guard"
	"github.com/bearerguard/bearerguard/internal/conformance"
	"github.com/bearerguard/bearerguard/middleware"
)

// echoApp serves the conformance routes with Echo v5's default error
// handler.
func echoApp(v *middleware.Validator) http.Handler {
	g := echo5guard.Wrap(v)
	e := echo.New()
	done := func(c *echo.Context) error { return c.JSON(http.StatusOK, map[string]any{"ok": true}) }
	e.GET("/health", done)
	e.GET("/me", func(c *echo.Context) error {
		cl, _ := echo5guard.Claims(c)
		return c.JSON(http.StatusOK, map[string]any{"sub": cl.Subject, "client_id": cl.ClientID, "scopes": cl.Scopes})
	}, g.Authenticate())
	e.OPTIONS("/me", done, g.Authenticate())
	e.GET("/users", done, g.RequireScope("read:users"))
	e.POST("/users", done, g.RequireScope("write:users"))
	e.DELETE("/users/:id", done, g.RequireScope("admin", "users:write users:delete"))
	e.GET("/optional", func(c *echo.Context) error {
		if cl, ok := echo5guard.Claims(c); ok {
			return c.JSON(http.StatusOK, map[string]any{"sub": cl.Subject})
		}
		return c.JSON(http.StatusOK, map[string]any{"anonymous": true})
	}, g.AuthenticateOptional())
	e.GET("/stepup/mfa", done, g.Require(echo5guard.Policy{ACRValues: []string{"urn:example:mfa"}}))
	e.GET("/stepup/fresh", done, g.Require(echo5guard.Policy{MaxAge: 5 * time.Minute}))
	e.Any(conformance.MetadataPath, g.ResourceMetadata())
	e.GET("/claims/org", done, g.RequireClaim("org_id", "org_a", "org_b"))
	e.GET("/claims/permissions", done, g.RequireClaim("permissions", "admin", "read:users write:users"))
	e.GET("/claims/roles", done, g.RequireClaim("realm_access.roles", "auditor"))
	e.GET("/claims/checked", done, g.Require(echo5guard.Policy{
		Claims: []echo5guard.ClaimRequirement{echo5guard.ClaimValues("org_id", "org_a")},
		Check:  conformance.RouteCheck,
	}))
	return e
}

func TestConformance(t *testing.T) {
	conformance.Run(t, echoApp)
}

// echoMe is the /me handler of the mounted apps; it refuses a request whose
// path is not the one the app's routing should hand it.
func echoMe(path string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		if c.Request().URL.Path != path {
			return c.String(http.StatusInternalServerError, "routed as "+c.Request().URL.Path)
		}
		cl, _ := echo5guard.Claims(c)
		return c.JSON(http.StatusOK, map[string]any{"sub": cl.Subject, "client_id": cl.ClientID, "scopes": cl.Scopes})
	}
}

// TestConformanceMounted: DPoP proofs name the URI the client requested in
// an Echo v5 group and behind Echo v5's Rewrite middleware, which rewrites
// r.URL (not r.RequestURI) before routing.
func TestConformanceMounted(t *testing.T) {
	t.Run("group", func(t *testing.T) {
		conformance.RunMounted(t, func(v *middleware.Validator) http.Handler {
			e := echo.New()
			api := e.Group("/api", echo5guard.Wrap(v).Authenticate())
			api.GET("/me", echoMe("/api/me"))
			return e
		})
	})
	t.Run("rewrite", func(t *testing.T) {
		conformance.RunMounted(t, func(v *middleware.Validator) http.Handler {
			e := echo.New()
			e.Pre(echomw.Rewrite(map[string]string{"/api/*": "/$1"}))
			e.GET("/me", echoMe("/me"), echo5guard.Wrap(v).Authenticate())
			return e
		})
	})
}
