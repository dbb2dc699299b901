// An Echo v5 application.
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/bearerguard/bearerguard/adapters/echo5guard"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
)

func main() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := echo5guard.New(ctx, echo5guard.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		panic(err)
	}
	if err := g.Validator().WaitReady(ctx); err != nil {
		panic(err)
	}
	e := echo.New()
	e.Use(middleware.Recover())
	e.GET("/users", func(c *echo.Context) error {
		cl, _ := echo5guard.Claims(c)
		return c.String(http.StatusOK, cl.Subject)
	}, g.RequireScope("read:users"))
	for _, token := range []string{iss.Token(middlewaretest.Spec{Subject: "alice", Scopes: []string{"read:users"}}), ""} {
		r := httptest.NewRequest("GET", "/users", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String() != "", w.Header().Get("WWW-Authenticate"))
	}
}
