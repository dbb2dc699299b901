package middleware_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
)

// TestHookDescriptionSanitised: a description given to NewError is reduced
// to the RFC 6750 character set.
func TestHookDescriptionSanitised(t *testing.T) {
	e := middleware.NewError(middleware.ErrInsufficientScope, "org \"admin\"\\ only\n\x00é", nil)
	if e.Status != http.StatusForbidden || e.Code != middleware.CodeInsufficientScope {
		t.Errorf("Status %d Code %q", e.Status, e.Code)
	}
	for _, c := range []byte(e.Description) {
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			t.Fatalf("Description %q has character %q", e.Description, c)
		}
	}
	if e.Description != "org admin only" {
		t.Errorf("Description = %q", e.Description)
	}
}

func TestNewErrorCategories(t *testing.T) {
	for _, tc := range []struct {
		category error
		status   int
		code     string
	}{
		{middleware.ErrNoToken, http.StatusUnauthorized, ""},
		{middleware.ErrInvalidRequest, http.StatusBadRequest, middleware.CodeInvalidRequest},
		{middleware.ErrInvalidToken, http.StatusUnauthorized, middleware.CodeInvalidToken},
		{middleware.ErrInsufficientScope, http.StatusForbidden, middleware.CodeInsufficientScope},
		{middleware.ErrInsufficientClaims, http.StatusForbidden, middleware.CodeInsufficientClaims},
		{middleware.ErrInsufficientUserAuthentication, http.StatusUnauthorized, middleware.CodeInsufficientUserAuthentication},
		{middleware.ErrKeysUnavailable, http.StatusServiceUnavailable, middleware.CodeUnavailable},
		{errors.New("other"), http.StatusUnauthorized, middleware.CodeInvalidToken},
	} {
		t.Run(tc.category.Error(), func(t *testing.T) {
			cause := errors.New("cause")
			e := middleware.NewError(tc.category, "", cause)
			if e.Status != tc.status || e.Code != tc.code {
				t.Errorf("Status %d Code %q; want %d %q", e.Status, e.Code, tc.status, tc.code)
			}
			if !errors.Is(e, cause) {
				t.Error("cause not matched")
			}
			if e.Description == "" && tc.code != middleware.CodeInvalidRequest {
				t.Error("no default description")
			}
			// Exactly one category.
			if n := hgCategoryCount(e); n != 1 {
				t.Errorf("matches %d categories", n)
			}
		})
	}
}
