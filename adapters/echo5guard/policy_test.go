package echo5guard_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/bearerguard/bearerguard/adapters/echo5guard"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// The re-exported categories are the core's values, and an error of either
// package matches both names.
func TestReexportedErrors(t *testing.T) {
	for _, tc := range []struct{ adapter, core error }{
		{echo5guard.ErrNoToken, middleware.ErrNoToken},
		{echo5guard.ErrInvalidRequest, middleware.ErrInvalidRequest},
		{echo5guard.ErrInvalidToken, middleware.ErrInvalidToken},
		{echo5guard.ErrInsufficientScope, middleware.ErrInsufficientScope},
		{echo5guard.ErrInsufficientClaims, middleware.ErrInsufficientClaims},
		{echo5guard.ErrInsufficientUserAuthentication, middleware.ErrInsufficientUserAuthentication},
		{echo5guard.ErrKeysUnavailable, middleware.ErrKeysUnavailable},
	} {
		if tc.adapter != tc.core || !errors.Is(echo5guard.NewError(tc.adapter, "", nil), tc.core) {
			t.Errorf("%v: not the core's sentinel", tc.core)
		}
	}
	if echo5guard.ClaimValues("org_id", "a").Claim != "org_id" {
		t.Error("ClaimValues")
	}
	for _, m := range [][2]middleware.DPoPMode{
		{echo5guard.DPoPDefault, middleware.DPoPDefault}, {echo5guard.DPoPOff, middleware.DPoPOff},
		{echo5guard.DPoPAllowed, middleware.DPoPAllowed}, {echo5guard.DPoPRequired, middleware.DPoPRequired},
	} {
		if m[0] != m[1] {
			t.Errorf("DPoP mode %d, want the core's %d", m[0], m[1])
		}
	}
}

// A handler that decides for itself refuses with Guard.Refuse exactly as
// the net/http middleware writes the same refusal: status, RFC 6750
// headers and JSON body.
func TestRefuse(t *testing.T) {
	g, iss := newGuard(t)
	refusal := func() *echo5guard.Error {
		e := echo5guard.NewError(echo5guard.ErrInsufficientClaims, "", nil)
		e.Claim, e.ClaimValues = "org_id", "org_a"
		return e
	}
	e := echo.New()
	e.GET("/", func(c *echo.Context) error { return g.Refuse(c, refusal()) }, g.Authenticate())
	got := get(e, "/", iss.Token(middlewaretest.Spec{}))
	want := httptest.NewRecorder()
	g.Validator().WriteError(want, refusal())
	if got.Code != http.StatusForbidden || got.Code != want.Code {
		t.Errorf("status %d, want %d", got.Code, want.Code)
	}
	for _, h := range []string{"WWW-Authenticate", "Cache-Control"} {
		if got.Header().Get(h) != want.Header().Get(h) {
			t.Errorf("%s: %q, want %q", h, got.Header().Get(h), want.Header().Get(h))
		}
	}
	var gb, wb map[string]any
	if json.Unmarshal(got.Body.Bytes(), &gb) != nil || json.Unmarshal(want.Body.Bytes(), &wb) != nil || !reflect.DeepEqual(gb, wb) {
		t.Errorf("body %s, want %s", got.Body, want.Body)
	}
}

func TestRequireClaimPanicsAtRegistration(t *testing.T) {
	g, _ := newGuard(t)
	for name, f := range map[string]func(){
		"no alternative":      func() { g.RequireClaim("org_id") },
		"empty claim":         func() { g.RequireClaim("", "a") },
		"zero requirement":    func() { g.Require(echo5guard.Policy{Claims: []echo5guard.ClaimRequirement{{}}}) },
		"quote in claim name": func() { g.RequireClaim(`a"b`, "a") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// get serves a GET of path with token (none if empty).
func get(h http.Handler, path, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
