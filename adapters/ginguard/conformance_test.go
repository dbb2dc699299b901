package ginguard_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bearerguard/bearerguard/adapters/ginguard"
	"github.com/bearerguard/bearerguard/internal/conformance"
	"github.com/bearerguard/bearerguard/middleware"
)

// ginApp serves the conformance routes.
func ginApp(v *middleware.Validator) http.Handler {
	g := ginguard.Wrap(v)
	r := gin.New()
	done := func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"ok": true}) }
	r.GET("/health", done)
	r.GET("/me", g.Authenticate(), func(c *gin.Context) {
		cl, _ := ginguard.Claims(c)
		c.JSON(http.StatusOK, gin.H{"sub": cl.Subject, "client_id": cl.ClientID, "scopes": cl.Scopes})
	})
	r.OPTIONS("/me", g.Authenticate(), done)
	r.GET("/users", g.RequireScope("read:users"), done)
	r.POST("/users", g.RequireScope("write:users"), done)
	r.DELETE("/users/:id", g.RequireScope("admin", "users:write users:delete"), done)
	r.GET("/optional", g.AuthenticateOptional(), func(c *gin.Context) {
		if cl, ok := ginguard.Claims(c); ok {
			c.JSON(http.StatusOK, gin.H{"sub": cl.Subject})
			return
		}
		c.JSON(http.StatusOK, gin.H{"anonymous": true})
	})
	r.GET("/stepup/mfa", g.Require(ginguard.Policy{ACRValues: []string{"urn:example:mfa"}}), done)
	r.GET("/stepup/fresh", g.Require(ginguard.Policy{MaxAge: 5 * time.Minute}), done)
	r.Any(conformance.MetadataPath, g.ResourceMetadata())
	r.GET("/claims/org", g.RequireClaim("org_id", "org_a", "org_b"), done)
	r.GET("/claims/permissions", g.RequireClaim("permissions", "admin", "read:users write:users"), done)
	r.GET("/claims/roles", g.RequireClaim("realm_access.roles", "auditor"), done)
	r.GET("/claims/checked", g.Require(ginguard.Policy{
		Claims: []ginguard.ClaimRequirement{ginguard.ClaimValues("org_id", "org_a")},
		Check:  conformance.RouteCheck,
	}), done)
	return r
}

func TestConformance(t *testing.T) {
	conformance.Run(t, ginApp)
}

// TestConformanceMounted: DPoP proofs name the URI the client requested
// when a Gin handler re-routes the request with HandleContext, which
// changes r.URL (not r.RequestURI).
func TestConformanceMounted(t *testing.T) {
	conformance.RunMounted(t, func(v *middleware.Validator) http.Handler {
		r := gin.New()
		r.GET("/me", ginguard.Wrap(v).Authenticate(), func(c *gin.Context) {
			if c.Request.URL.Path != "/me" {
				c.String(http.StatusInternalServerError, "routed as "+c.Request.URL.Path)
				return
			}
			cl, _ := ginguard.Claims(c)
			c.JSON(http.StatusOK, gin.H{"sub": cl.Subject, "client_id": cl.ClientID, "scopes": cl.Scopes})
		})
		r.GET("/api/me", func(c *gin.Context) {
			c.Request.URL.Path = "/me"
			r.HandleContext(c)
		})
		return r
	})
}
