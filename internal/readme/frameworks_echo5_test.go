package readme

import (
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/bearerguard/bearerguard/adapters/echo5guard"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestFrameworkBehavioursEcho5 holds what the README says under "Where a
// guard applies" about Echo to Echo v5 too: the same answers as Echo v4's
// rows of TestFrameworkBehaviours.
func TestFrameworkBehavioursEcho5(t *testing.T) {
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
	g := echo5guard.Wrap(v)
	done := func(*echo.Context) error { return nil }

	route := echo.New()
	route.GET("/users", done, g.Authenticate())
	global := echo.New()
	global.Use(g.Authenticate())
	global.GET("/users", done)
	group := echo.New()
	group.Group("/api", g.Authenticate()).GET("/users", done)
	lateApp := echo.New()
	late := lateApp.Group("/api")
	late.GET("/users", done)
	late.Use(g.Authenticate()) // too late for /api/users
	late.GET("/orders", done)

	for _, c := range []struct {
		name   string
		h      *echo.Echo
		method string
		path   string
		token  string
		want   int
	}{
		{"route guard, unknown route", route, "GET", "/nope", "", 404},
		{"route guard, wrong method", route, "POST", "/users", "", 405},
		{"e.Use guard, unknown route", global, "GET", "/nope", "", 401},
		{"e.Use guard, wrong method", global, "POST", "/users", "", 401},
		{"group guard, unknown route in the group", group, "GET", "/api/nope", "", 401},
		{"group guard, unknown route in the group, token", group, "GET", "/api/nope", token, 404},
		{"group guard, wrong method", group, "POST", "/api/users", "", 401},
		{"group guard, outside the group", group, "GET", "/nope", "", 404},
		{"Group.Use after a route: that route is open", lateApp, "GET", "/api/users", "", 200},
		{"Group.Use after a route: later routes guarded", lateApp, "GET", "/api/orders", "", 401},
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
}
