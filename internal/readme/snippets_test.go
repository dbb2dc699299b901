package readme

// Every ```go block of README.md, verbatim, so that the compiler checks
// them. They are compiled, not run: they name real providers' hosts.

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/bearerguard/bearerguard/adapters/echoguard"
	"github.com/bearerguard/bearerguard/adapters/ginguard"
	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"
)

var snippets = []any{
	netHTTPSnippet, echoSnippet, ginSnippet, me, decodeSnippet,
	auth0Snippet, multiIssuerSnippet, testKitSnippet, resourceSnippet,
	claimsSnippet, opaqueSnippet, dpopSnippet, mtlsSnippet, policyLiteralSnippet,
}

func opaqueSnippet(ctx context.Context) (*middleware.Validator, error) {
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    "https://auth.example.com",
		Audiences: []string{"https://api.example.com"},
		Introspection: &middleware.Introspection{
			ClientID:     "api-resource-server",
			ClientSecret: os.Getenv("INTROSPECTION_SECRET"),
			CacheTTL:     30 * time.Second, // a revoked token may pass for up to 30 s
		},
	})
	return v, err
}

func netHTTPSnippet(ctx context.Context) http.Handler {
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    "https://tenant.eu.auth0.com/",
		Audiences: []string{"https://api.example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /me", v.Authenticate(http.HandlerFunc(me)))
	mux.Handle("GET /users", v.RequireScope("read:users")(http.HandlerFunc(listUsers)))
	mux.Handle("DELETE /users/{id}", v.RequireScope("admin", "users:write users:delete")(http.HandlerFunc(deleteUser)))
	return mux
}

func echoSnippet(ctx context.Context) *echo.Echo {
	g, err := echoguard.New(ctx, echoguard.Config{
		Issuer:    "https://tenant.eu.auth0.com/",
		Audiences: []string{"https://api.example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.GET("/me", meEcho, g.Authenticate())
	e.GET("/users", listUsersEcho, g.RequireScope("read:users"))
	e.DELETE("/users/:id", deleteUserEcho, g.RequireScope("admin", "users:write users:delete"))
	return e
}

func ginSnippet(ctx context.Context) *gin.Engine {
	g, err := ginguard.New(ctx, ginguard.Config{
		Issuer:    "https://tenant.eu.auth0.com/",
		Audiences: []string{"https://api.example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.GET("/me", g.Authenticate(), meGin)
	r.GET("/users", g.RequireScope("read:users"), listUsersGin)
	r.DELETE("/users/:id", g.RequireScope("admin", "users:write users:delete"), deleteUserGin)
	return r
}

func me(w http.ResponseWriter, r *http.Request) {
	c, ok := claims.FromContext(r.Context()) // echoguard.Claims(c) / ginguard.Claims(c) in Echo and Gin
	if !ok {
		// the route was registered without a guard
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "subject %s, client %s, machine %t, scopes %v\n", c.Subject, c.ClientID, c.Machine, c.Scopes)
}

func decodeSnippet(w http.ResponseWriter, c *claims.Claims) {
	var custom struct {
		OrgID string `json:"org_id"`
	}
	if err := c.Decode(&custom); err != nil {
		http.Error(w, "bad claims", http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, custom.OrgID)
}

func auth0Snippet(ctx context.Context) http.Handler {
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:      "https://tenant.eu.auth0.com/",
		Audiences:   []string{"https://api.example.com"},
		ScopeClaims: []string{"scope", "permissions"},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /users", v.RequireScope("read:users")(http.HandlerFunc(listUsers)))
	mux.Handle("GET /invoices", v.Require(middleware.Policy{
		Scopes: []string{"read:invoices"},
		Claims: []middleware.ClaimRequirement{middleware.ClaimValues("org_id", "org_123")},
	})(http.HandlerFunc(listInvoices)))
	return mux
}

func policyLiteralSnippet(v *middleware.Validator) http.Handler {
	mux := http.NewServeMux()
	route := v.Require(middleware.Policy{
		Scopes:    []string{"admin", "users:write users:delete"}, // as RequireScope
		Claims:    []middleware.ClaimRequirement{middleware.ClaimValues("org_id", "org_123")},
		ACRValues: []string{"urn:example:mfa"},
		DPoP:      middleware.DPoPRequired,
	})
	mux.Handle("DELETE /orgs/org_123/users/{id}", route(http.HandlerFunc(deleteUser)))
	return mux
}

func multiIssuerSnippet(ctx context.Context) (*middleware.Validator, error) {
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:       "https://tenant.eu.auth0.com/",
		ExtraIssuers: []middleware.Issuer{{Issuer: "https://tenant.logto.app/oidc"}},
		Audiences:    []string{"https://api.example.com"},
	})
	return v, err
}

func testKitSnippet(ctx context.Context) (*middleware.Validator, string) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	v, err := middleware.New(ctx, middleware.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		log.Fatal(err)
	}
	token := iss.Token(middlewaretest.Spec{Profile: middlewaretest.Auth0, Scopes: []string{"read:users"}})
	return v, token
}

func resourceSnippet(ctx context.Context) http.Handler {
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    "https://tenant.eu.auth0.com/",
		Audiences: []string{"https://api.example.com/mcp"},
		Resource:  "https://api.example.com/mcp",
		ResourceMetadata: middleware.ResourceMetadata{
			ScopesSupported: []string{"read:users", "admin"},
			ResourceName:    "Example API",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	// GET /.well-known/oauth-protected-resource/mcp
	mux.Handle(v.ResourceMetadataPath(), v.ResourceMetadataHandler())
	mux.Handle("GET /mcp/me", v.Authenticate(http.HandlerFunc(me)))
	mux.Handle("DELETE /mcp/users/{id}", v.Require(middleware.Policy{
		ACRValues: []string{"http://schemas.openid.net/pape/policies/2007/06/multi-factor"},
		MaxAge:    10 * time.Minute,
	})(http.HandlerFunc(deleteUser)))
	return mux
}

func claimsSnippet(v *middleware.Validator) http.Handler {
	mux := http.NewServeMux()
	// Auth0 Organization: the token's org_id must be org_123.
	mux.Handle("GET /invoices", v.RequireClaim("org_id", "org_123")(http.HandlerFunc(listInvoices)))
	// Auth0 RBAC, read apart from the scopes: "admin", or both others.
	mux.Handle("PUT /users/{id}", v.RequireClaim("permissions", "admin", "read:users write:users")(http.HandlerFunc(updateUser)))
	// A Keycloak realm role, and a rule of your own.
	mux.Handle("GET /reports", v.Require(middleware.Policy{
		Claims: []middleware.ClaimRequirement{middleware.ClaimValues("realm_access.roles", "auditor")},
		Check: func(ctx context.Context, c *claims.Claims) error {
			if c.Machine {
				return errors.New("reports are for people") // logged, never sent: 403
			}
			return nil
		},
	})(http.HandlerFunc(reports)))
	return mux
}

func listInvoices(w http.ResponseWriter, r *http.Request) {}
func updateUser(w http.ResponseWriter, r *http.Request)   {}
func reports(w http.ResponseWriter, r *http.Request)      {}
func listUsers(w http.ResponseWriter, r *http.Request)    {}
func deleteUser(w http.ResponseWriter, r *http.Request)   {}
func meEcho(c echo.Context) error                         { return nil }
func listUsersEcho(c echo.Context) error                  { return nil }
func deleteUserEcho(c echo.Context) error                 { return nil }
func meGin(c *gin.Context)                                {}
func listUsersGin(c *gin.Context)                         {}
func deleteUserGin(c *gin.Context)                        {}
