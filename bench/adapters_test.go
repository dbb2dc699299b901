package bench

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/bearerguard/bearerguard/adapters/echoguard"
	"github.com/bearerguard/bearerguard/adapters/ginguard"
	"github.com/bearerguard/bearerguard/middleware"
)

func init() {
	gin.SetMode(gin.ReleaseMode)
	impls = append(impls,
		impl{"echo-harness", func(e *env, alg string) (http.Handler, error) { return echoApp(nil), nil }},
		impl{"echo-bearerguard-uncached", func(e *env, alg string) (http.Handler, error) { return echoApp(e.uncached), nil }},
		impl{"echo-bearerguard-cached", func(e *env, alg string) (http.Handler, error) { return echoApp(e.cached), nil }},
		impl{"gin-harness", func(e *env, alg string) (http.Handler, error) { return ginApp(nil), nil }},
		impl{"gin-bearerguard-uncached", func(e *env, alg string) (http.Handler, error) { return ginApp(e.uncached), nil }},
		impl{"gin-bearerguard-cached", func(e *env, alg string) (http.Handler, error) { return ginApp(e.cached), nil }},
	)
}

// echoApp is an Echo app with GET / behind echoguard's RequireScope, or
// unprotected if v is nil.
func echoApp(v *middleware.Validator) http.Handler {
	e := echo.New()
	if v == nil {
		e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "anonymous") })
		return e
	}
	e.GET("/", func(c echo.Context) error {
		cl, ok := echoguard.Claims(c)
		if !ok {
			return echo.ErrInternalServerError
		}
		return c.String(http.StatusOK, cl.Subject)
	}, echoguard.Wrap(v).RequireScope(Scope))
	return e
}

// ginApp is a Gin engine with GET / behind ginguard's RequireScope, or
// unprotected if v is nil.
func ginApp(v *middleware.Validator) http.Handler {
	r := gin.New()
	if v == nil {
		r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "anonymous") })
		return r
	}
	r.GET("/", ginguard.Wrap(v).RequireScope(Scope), func(c *gin.Context) {
		cl, ok := ginguard.Claims(c)
		if !ok {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		c.String(http.StatusOK, cl.Subject)
	})
	return r
}
