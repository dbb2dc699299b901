package middleware

import (
	"testing"

	"github.com/bearerguard/bearerguard/scopes"
)

// FuzzScopesLikeRequirement: the route's scope check and challenge, which
// read Policy.Scopes in place without allocating, decide as
// scopes.Requirement does for every requirement Policy.Validate accepts
// (scopes.NewRequirement): one rule, two readings, held in step.
func FuzzScopesLikeRequirement(f *testing.F) {
	for _, s := range [][3]string{
		{"read", "", "read"},
		{"read write", "admin", "read write"},
		{"read  write", "admin", "admin"},
		{"a b", "b c", "c"},
		{"a", "a", "a a"},
		{"x:y", "", "x:y z"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, alt1, alt2, granted string) {
		alts := []string{alt1}
		if alt2 != "" {
			alts = append(alts, alt2)
		}
		req, err := scopes.NewRequirement(alts...)
		if err != nil {
			return // a route Policy.Validate refuses
		}
		g := scopes.Parse(granted)
		if got, want := scopesAllow(alts, g), req.Allows(g); got != want {
			t.Fatalf("scopesAllow(%q, %q) = %v, Requirement.Allows %v", alts, g, got, want)
		}
		if got, want := scopeChallenge(alts), req.Challenge(); got != want {
			t.Fatalf("scopeChallenge(%q) = %q, Requirement.Challenge %q", alts, got, want)
		}
	})
}
