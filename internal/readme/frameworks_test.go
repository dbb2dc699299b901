package readme

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/bearerguard/bearerguard/adapters/echoguard"
	"github.com/bearerguard/bearerguard/adapters/ginguard"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestFrameworkBehaviours holds what the README says, under "Where a guard
// applies", about where a guard runs in each framework: what unknown routes
// and wrong methods answer, guards added after routes, and claims lost by a
// middleware that replaces the request's context.
func TestFrameworkBehaviours(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	v, err := middleware.New(t.Context(), middleware.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	token := iss.Token(middlewaretest.Spec{})
	eg, gg := echoguard.Wrap(v), ginguard.Wrap(v)
	gin.SetMode(gin.ReleaseMode)
	ok := func(w http.ResponseWriter, r *http.Request) {}

	// net/http
	routeMux := http.NewServeMux()
	routeMux.Handle("GET /users", v.Authenticate(http.HandlerFunc(ok)))
	wholeMux := http.NewServeMux()
	wholeMux.HandleFunc("GET /users", ok)
	wrapped := v.Authenticate(wholeMux)

	// Echo
	echoRoute := echo.New()
	echoRoute.GET("/users", func(echo.Context) error { return nil }, eg.Authenticate())
	echoGlobal := echo.New()
	echoGlobal.Use(eg.Authenticate())
	echoGlobal.GET("/users", func(echo.Context) error { return nil })
	echoGroup := echo.New()
	api := echoGroup.Group("/api", eg.Authenticate())
	api.GET("/users", func(echo.Context) error { return nil })
	echoLate := echo.New()
	late := echoLate.Group("/api")
	late.GET("/users", func(echo.Context) error { return nil })
	late.Use(eg.Authenticate()) // too late for /api/users
	late.GET("/orders", func(echo.Context) error { return nil })

	// Gin
	ginRoute := gin.New()
	ginRoute.GET("/users", gg.Authenticate(), func(*gin.Context) {})
	ginGlobal := gin.New()
	ginGlobal.Use(gg.Authenticate())
	ginGlobal.GET("/users", func(*gin.Context) {})
	ginGroup := gin.New()
	ginGroup.Group("/api", gg.Authenticate()).GET("/users", func(*gin.Context) {})
	ginLate := gin.New()
	gl := ginLate.Group("/api")
	gl.GET("/users", func(*gin.Context) {})
	gl.Use(gg.Authenticate()) // too late for /api/users
	gl.GET("/orders", func(*gin.Context) {})
	ginUseLate := gin.New()
	ginUseLate.GET("/users", func(*gin.Context) {})
	ginUseLate.Use(gg.Authenticate()) // too late for /users
	ginUseLate.GET("/orders", func(*gin.Context) {})
	ginMethods := gin.New()
	ginMethods.HandleMethodNotAllowed = true
	ginMethods.GET("/users", gg.Authenticate(), func(*gin.Context) {})

	for _, c := range []struct {
		name   string
		h      http.Handler
		method string
		path   string
		token  string
		want   int
	}{
		{"net/http route guard, unknown route", routeMux, "GET", "/nope", "", 404},
		{"net/http route guard, wrong method", routeMux, "POST", "/users", "", 405},
		{"net/http guard around the mux, unknown route", wrapped, "GET", "/nope", "", 401},
		{"net/http guard around the mux, unknown route, token", wrapped, "GET", "/nope", token, 404},

		{"Echo route guard, unknown route", echoRoute, "GET", "/nope", "", 404},
		{"Echo route guard, wrong method", echoRoute, "POST", "/users", "", 405},
		{"Echo e.Use guard, unknown route", echoGlobal, "GET", "/nope", "", 401},
		{"Echo e.Use guard, wrong method", echoGlobal, "POST", "/users", "", 401},
		{"Echo group guard, unknown route in the group", echoGroup, "GET", "/api/nope", "", 401},
		{"Echo group guard, unknown route in the group, token", echoGroup, "GET", "/api/nope", token, 404},
		{"Echo group guard, wrong method", echoGroup, "POST", "/api/users", "", 401},
		{"Echo group guard, outside the group", echoGroup, "GET", "/nope", "", 404},
		{"Echo Group.Use after a route: that route is open", echoLate, "GET", "/api/users", "", 200},
		{"Echo Group.Use after a route: later routes guarded", echoLate, "GET", "/api/orders", "", 401},

		{"Gin r.Use after a route: that route is open", ginUseLate, "GET", "/users", "", 200},
		{"Gin r.Use after a route: later routes guarded", ginUseLate, "GET", "/orders", "", 401},
		{"Gin route guard, unknown route", ginRoute, "GET", "/nope", "", 404},
		{"Gin route guard, wrong method", ginRoute, "POST", "/users", "", 404},
		{"Gin route guard, wrong method, HandleMethodNotAllowed", ginMethods, "POST", "/users", "", 405},
		{"Gin r.Use guard, unknown route", ginGlobal, "GET", "/nope", "", 401},
		{"Gin r.Use guard, unknown route, token", ginGlobal, "GET", "/nope", token, 404},
		{"Gin group guard, unknown route in the group", ginGroup, "GET", "/api/nope", "", 404},
		{"Gin group.Use after a route: that route is open", ginLate, "GET", "/api/users", "", 200},
		{"Gin group.Use after a route: later routes guarded", ginLate, "GET", "/api/orders", "", 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.path, nil)
			if c.token != "" {
				r.Header.Set("Authorization", "Bearer "+c.token)
			}
			w := httptest.NewRecorder()
			c.h.ServeHTTP(w, r)
			if w.Code != c.want {
				t.Errorf("%s %s: %d, want %d", c.method, c.path, w.Code, c.want)
			}
		})
	}

	// Gin: a middleware after the guard that gives c.Request a context not
	// derived from the request's own loses the claims; one that derives it
	// keeps them.
	type key struct{}
	for _, c := range []struct {
		name string
		mw   gin.HandlerFunc
		want bool
	}{
		{"fresh context", func(c *gin.Context) {
			c.Request = c.Request.WithContext(context.WithValue(context.Background(), key{}, 1))
		}, false},
		{"derived context", func(c *gin.Context) {
			c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), key{}, 1))
		}, true},
	} {
		t.Run("Gin claims after a middleware with a "+c.name, func(t *testing.T) {
			var got bool
			r := gin.New()
			r.GET("/me", gg.Authenticate(), c.mw, func(c *gin.Context) { _, got = ginguard.Claims(c) })
			req := httptest.NewRequest("GET", "/me", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != 200 || got != c.want {
				t.Errorf("status %d, claims found %t, want 200 and %t", w.Code, got, c.want)
			}
		})
	}
}
