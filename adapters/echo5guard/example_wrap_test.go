package echo5guard_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/bearerguard/bearerguard/adapters/echo5guard"
	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// Wrap shares one validator, with its keys and token cache, between plain
// net/http handlers and Echo routes. Handlers written for net/http find
// the claims with claims.FromContext in either place.
func ExampleWrap() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = v.WaitReady(ctx)

	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		fmt.Fprint(w, c.Subject)
	})

	guard := echo5guard.Wrap(v)
	e := echo.New()
	e.GET("/v2/whoami", echo.WrapHandler(whoami), guard.Authenticate())

	mux := http.NewServeMux()
	mux.Handle("GET /v1/whoami", v.Authenticate(whoami))
	mux.Handle("/v2/", e)

	token := iss.Token(middlewaretest.Spec{Subject: "alice"})
	call(mux, "GET", "/v1/whoami", token)
	call(mux, "GET", "/v2/whoami", token)
	// Output:
	// 200 alice
	// 200 alice
}
