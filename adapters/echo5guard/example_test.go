package echo5guard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/bearerguard/bearerguard/adapters/echo5guard"
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

// An Echo v5 application protects a route with Authenticate. echo5guard sits
// next to labstack's own middleware package without an import alias, and
// refusals go through Echo's error handler. The test issuer stands in for
// Auth0, Logto, Keycloak or Entra ID.
func Example() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the validator's key refresh

	guard, err := echo5guard.New(ctx, echo5guard.Config{
		Issuer:    iss.URL,
		Audiences: []string{"https://api.example.test"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	e := echo.New()
	e.Use(middleware.Recover())
	e.GET("/me", func(c *echo.Context) error {
		cl, _ := echo5guard.Claims(c)
		return c.String(http.StatusOK, "hello "+cl.Subject)
	}, guard.Authenticate())

	// Until the issuer's keys are fetched, tokens are answered 503; a
	// readiness probe would wait like this.
	if err := guard.Validator().WaitReady(ctx); err != nil {
		fmt.Println(err)
		return
	}
	call(e, "GET", "/me", iss.Token(middlewaretest.Spec{Subject: "alice"}))
	call(e, "GET", "/me", "")
	call(e, "GET", "/me", "not-a-jwt")
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
	guard, err := echo5guard.New(ctx, echo5guard.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = guard.Validator().WaitReady(ctx)

	e := echo.New()
	e.DELETE("/users/:id", func(c *echo.Context) error {
		return c.String(http.StatusOK, "deleted "+c.Param("id"))
	}, guard.RequireScope("admin", "users:write users:delete"))

	token := func(scopes ...string) string { return iss.Token(middlewaretest.Spec{Scopes: scopes}) }
	call(e, "DELETE", "/users/42", token("admin"))
	call(e, "DELETE", "/users/42", token("users:write", "users:delete"))
	call(e, "DELETE", "/users/42", token("users:write"))
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
	guard, err := echo5guard.New(ctx, echo5guard.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = guard.Validator().WaitReady(ctx)

	e := echo.New()
	e.GET("/feed", func(c *echo.Context) error {
		if cl, ok := echo5guard.Claims(c); ok {
			return c.String(http.StatusOK, "feed of "+cl.Subject)
		}
		return c.String(http.StatusOK, "public feed")
	}, guard.AuthenticateOptional())

	call(e, "GET", "/feed", "")
	call(e, "GET", "/feed", iss.Token(middlewaretest.Spec{Subject: "alice"}))
	call(e, "GET", "/feed", iss.Token(middlewaretest.Spec{Subject: "alice", Lifetime: -time.Hour}))
	// Output:
	// 200 public feed
	// 200 feed of alice
	// 401 {"error":"invalid_token","error_description":"the token has expired"}
	//   WWW-Authenticate: Bearer error="invalid_token", error_description="the token has expired"
}

// An application's HTTPErrorHandler sees the error of a refusal: it
// unwraps to the *echo5guard.Error with the RFC 6750 code and the cause,
// for logs, and echo.StatusCode reads its status. The challenge header is
// already set, and Echo's default handler renders the JSON body.
func Example_errorHandler() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	guard, err := echo5guard.New(ctx, echo5guard.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = guard.Validator().WaitReady(ctx)

	e := echo.New()
	render := echo.DefaultHTTPErrorHandler(false)
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		if ge, ok := errors.AsType[*echo5guard.Error](err); ok {
			fmt.Printf("refused: status %d, code %q\n", echo.StatusCode(err), ge.Code)
		}
		render(c, err)
	}
	e.GET("/me", func(c *echo.Context) error { return c.NoContent(http.StatusOK) }, guard.Authenticate())

	call(e, "GET", "/me", iss.Token(middlewaretest.Spec{Audience: []string{"https://other.example.test"}}))
	// Output:
	// refused: status 401, code "invalid_token"
	// 401 {"error":"invalid_token","error_description":"the token audience is not accepted"}
	//   WWW-Authenticate: Bearer error="invalid_token", error_description="the token audience is not accepted"
}
