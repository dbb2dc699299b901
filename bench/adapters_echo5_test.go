package bench

import (
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/bearerguard/bearerguard/adapters/echo5guard"
	"github.com/bearerguard/bearerguard/middleware"
)

func init() {
	impls = append(impls,
		impl{"echo5-harness", func(e *env, alg string) (http.Handler, error) { return echo5App(nil), nil }},
		impl{"echo5-bearerguard-uncached", func(e *env, alg string) (http.Handler, error) { return echo5App(e.uncached), nil }},
		impl{"echo5-bearerguard-cached", func(e *env, alg string) (http.Handler, error) { return echo5App(e.cached), nil }},
	)
}

// echo5App is an Echo v5 app with GET / behind echo5guard's RequireScope,
// or unprotected if v is nil.
func echo5App(v *middleware.Validator) http.Handler {
	e := echo.New()
	if v == nil {
		e.GET("/", func(c *echo.Context) error { return c.String(http.StatusOK, "anonymous") })
		return e
	}
	e.GET("/", func(c *echo.Context) error {
		cl, ok := echo5guard.Claims(c)
		if !ok {
			return echo.ErrInternalServerError
		}
		return c.String(http.StatusOK, cl.Subject)
	}, echo5guard.Wrap(v).RequireScope(Scope))
	return e
}
