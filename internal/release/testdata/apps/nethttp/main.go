// An application of the root module only: net/http with the test issuer.
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

func main() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		panic(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		panic(err)
	}
	h := v.RequireScope("read:users")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		fmt.Fprint(w, c.Subject)
	}))
	for _, token := range []string{iss.Token(middlewaretest.Spec{Subject: "alice", Scopes: []string{"read:users"}}), ""} {
		r := httptest.NewRequest("GET", "/users", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String() != "", w.Header().Get("WWW-Authenticate"))
	}
}
