package middleware

import (
	"context"
	"slices"
	"testing"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestScpForms: an "scp" string is split on spaces (Entra ID); the elements
// of an "scp" array are scope tokens and never split (Okta), whatever their
// number.
func TestScpForms(t *testing.T) {
	kit := ktKit(t)
	v := ktReady(t, kit, Config{TokenCacheSize: -1})
	for _, tc := range []struct {
		name string
		scp  any
		want []string
	}{
		{"string", "read:users admin", []string{"read:users", "admin"}},
		{"array", []string{"read:users", "admin"}, []string{"read:users", "admin"}},
		{"array of one", []string{"read:users"}, []string{"read:users"}},
		{"one element with a space", []string{"read:users admin"}, []string{}},
		{"elements with spaces", []string{"a b", "c"}, []string{"c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := kit.Token(middlewaretest.Spec{Claims: map[string]any{"scope": nil, "scp": tc.scp}})
			c, err := v.ValidateToken(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Scopes, tc.want) && !(len(c.Scopes) == 0 && len(tc.want) == 0) {
				t.Errorf("Scopes = %q, want %q", c.Scopes, tc.want)
			}
		})
	}
}
