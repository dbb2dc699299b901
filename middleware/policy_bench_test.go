package middleware

import (
	"testing"

	"github.com/bearerguard/bearerguard/scopes"
)

// BenchmarkScopesAllow compares the route's scope check on Policy.Scopes
// (alternatives as strings, split as they are read) with the check on a
// parsed scopes.Requirement, in one run: the one-literal Policy must cost
// no allocation and about the same time.
func BenchmarkScopesAllow(b *testing.B) {
	granted := []string{"openid", "profile", "read:users", "users:write", "users:delete"}
	for name, alts := range map[string][]string{
		"one":       {"read:users"},
		"or-of-and": {"admin", "users:write users:delete"},
	} {
		b.Run(name, func(b *testing.B) { benchScopesAllow(b, alts, granted) })
	}
}

func benchScopesAllow(b *testing.B, alts, granted []string) {
	req := scopes.MustRequirement(alts...)
	b.Run("strings", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !scopesAllow(alts, granted) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("requirement", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !req.Allows(granted) {
				b.Fatal("refused")
			}
		}
	})
}
