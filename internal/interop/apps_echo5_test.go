package interop

import (
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/bearerguard/bearerguard/adapters/echo5guard"
	"github.com/bearerguard/bearerguard/middleware"
)

// echo5App is the test API with Echo v5.
func echo5App(v *middleware.Validator) http.Handler {
	g := echo5guard.Wrap(v)
	h := func(c *echo.Context) error {
		cl, ok := echo5guard.Claims(c)
		if !ok {
			return echo.NewHTTPError(http.StatusInternalServerError, "no claims")
		}
		return c.JSON(http.StatusOK, viewOf(cl))
	}
	e := echo.New()
	e.GET("/users", h, g.RequireScope(ScopeRead))
	e.POST("/users", h, g.RequireScope(ScopeWrite))
	e.GET("/me", h, g.Authenticate())
	return e
}
