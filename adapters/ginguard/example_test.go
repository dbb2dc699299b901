package ginguard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bearerguard/bearerguard/adapters/ginguard"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// call sends a request with token (none if empty) to h and prints the
// status, the body and any challenge.
func call(h http.Handler, method, path, token string) {
	r := httptest.NewRequest(method, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	if c := w.Header().Get("WWW-Authenticate"); c != "" {
		fmt.Println("  WWW-Authenticate:", c)
	}
}

// A Gin application protects a route with Authenticate; refusals are
// aborted with the RFC 6750 challenge and a JSON body. The test issuer
// stands in for Auth0, Logto, Keycloak or Entra ID.
func Example() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the validator's key refresh

	guard, err := ginguard.New(ctx, ginguard.Config{
		Issuer:    iss.URL,
		Audiences: []string{"https://api.example.test"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/me", guard.Authenticate(), func(c *gin.Context) {
		cl, _ := ginguard.Claims(c)
		c.String(http.StatusOK, "hello "+cl.Subject)
	})

	// Until the issuer's keys are fetched, tokens are answered 503; a
	// readiness probe would wait like this.
	if err := guard.Validator().WaitReady(ctx); err != nil {
		fmt.Println(err)
		return
	}
	call(r, "GET", "/me", iss.Token(middlewaretest.Spec{Subject: "alice"}))
	call(r, "GET", "/me", "")
	call(r, "GET", "/me", "not-a-jwt")
	// Output:
	// 200 hello alice
	// 401 {"error":"unauthorized","error_description":"a bearer token is required"}
	//   WWW-Authenticate: Bearer
	// 401 {"error":"invalid_token","error_description":"the token is malformed"}
	//   WWW-Authenticate: Bearer error="invalid_token", error_description="the token is malformed"
}

// RequireScope takes alternatives: any one is enough, and the scopes
// inside one alternative, separated by spaces, are all needed. Here an
// admin token, or a token with both users:write and users:delete, may
// delete users. A refusal names every scope that would do.
func ExampleGuard_RequireScope() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	guard, err := ginguard.New(ctx, ginguard.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = guard.Validator().WaitReady(ctx)

	r := gin.New()
	r.DELETE("/users/:id", guard.RequireScope("admin", "users:write users:delete"), func(c *gin.Context) {
		c.String(http.StatusOK, "deleted "+c.Param("id"))
	})

	token := func(scopes ...string) string { return iss.Token(middlewaretest.Spec{Scopes: scopes}) }
	call(r, "DELETE", "/users/42", token("admin"))
	call(r, "DELETE", "/users/42", token("users:write", "users:delete"))
	call(r, "DELETE", "/users/42", token("users:write"))
	// Output:
	// 200 deleted 42
	// 200 deleted 42
	// 403 {"error":"insufficient_scope","error_description":"the token lacks the required scope","scope":"admin users:write users:delete"}
	//   WWW-Authenticate: Bearer error="insufficient_scope", error_description="the token lacks the required scope", scope="admin users:write users:delete"
}

// AuthenticateOptional serves anonymous requests too, for pages that are
// public but personalised for signed-in users. Only a missing token is
// tolerated: a bad token is still refused, so a client learns that its
// token has expired.
func ExampleGuard_AuthenticateOptional() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	guard, err := ginguard.New(ctx, ginguard.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = guard.Validator().WaitReady(ctx)

	r := gin.New()
	r.GET("/feed", guard.AuthenticateOptional(), func(c *gin.Context) {
		if cl, ok := ginguard.Claims(c); ok {
			c.String(http.StatusOK, "feed of "+cl.Subject)
			return
		}
		c.String(http.StatusOK, "public feed")
	})

	call(r, "GET", "/feed", "")
	call(r, "GET", "/feed", iss.Token(middlewaretest.Spec{Subject: "alice"}))
	call(r, "GET", "/feed", iss.Token(middlewaretest.Spec{Subject: "alice", Lifetime: -time.Hour}))
	// Output:
	// 200 public feed
	// 200 feed of alice
	// 401 {"error":"invalid_token","error_description":"the token has expired"}
	//   WWW-Authenticate: Bearer error="invalid_token", error_description="the token has expired"
}

// A refusal is recorded in c.Errors, where logging middleware finds the
// *ginguard.Error with the RFC 6750 code and the cause.
func Example_errors() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	guard, err := ginguard.New(ctx, ginguard.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = guard.Validator().WaitReady(ctx)

	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		var ge *ginguard.Error
		if last := c.Errors.Last(); last != nil && errors.As(last, &ge) {
			fmt.Printf("refused: status %d, code %q\n", ge.Status, ge.Code)
		}
	})
	r.GET("/me", guard.Authenticate(), func(c *gin.Context) { c.Status(http.StatusOK) })

	call(r, "GET", "/me", iss.Token(middlewaretest.Spec{Audience: []string{"https://other.example.test"}}))
	// Output:
	// refused: status 401, code "invalid_token"
	// 401 {"error":"invalid_token","error_description":"the token audience is not accepted"}
	//   WWW-Authenticate: Bearer error="invalid_token", error_description="the token audience is not accepted"
}
