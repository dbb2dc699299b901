package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

func TestSmoke(t *testing.T) {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{Issuer: iss.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	h := v.RequireScope("read:users")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		w.Write([]byte(c.Subject))
	}))
	for _, tc := range []struct {
		name   string
		token  string
		status int
	}{
		{"generic", iss.Token(middlewaretest.Spec{Scopes: []string{"read:users"}}), 200},
		{"es256", iss.Token(middlewaretest.Spec{Alg: "ES256", Scopes: []string{"read:users"}}), 200},
		{"eddsa", iss.Token(middlewaretest.Spec{Alg: "EdDSA", Scopes: []string{"read:users"}}), 200},
		{"noscope", iss.Token(middlewaretest.Spec{Scopes: []string{"x"}}), 403},
		{"id", iss.Token(middlewaretest.Spec{Kind: middlewaretest.IDToken, Audience: []string{"https://api.example.test"}}), 401},
		{"auth0", iss.Token(middlewaretest.Spec{Profile: middlewaretest.Auth0, Scopes: []string{"read:users"}}), 200},
		{"none", "", 401},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d; %s %s", tc.name, w.Code, tc.status, w.Header(), w.Body)
		}
	}
}
