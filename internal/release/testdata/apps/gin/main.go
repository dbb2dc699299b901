// A Gin application.
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/bearerguard/bearerguard/adapters/ginguard"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/gin-gonic/gin"
)

func main() {
	gin.SetMode(gin.ReleaseMode)
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := ginguard.New(ctx, ginguard.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		panic(err)
	}
	if err := g.Validator().WaitReady(ctx); err != nil {
		panic(err)
	}
	r := gin.New()
	r.GET("/users", g.RequireScope("read:users"), func(c *gin.Context) {
		cl, _ := ginguard.Claims(c)
		c.String(http.StatusOK, cl.Subject)
	})
	for _, token := range []string{iss.Token(middlewaretest.Spec{Subject: "alice", Scopes: []string{"read:users"}}), ""} {
		req := httptest.NewRequest("GET", "/users", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(w.Code, w.Body.String() != "", w.Header().Get("WWW-Authenticate"))
	}
}
