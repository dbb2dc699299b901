package scopes_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bearerguard/bearerguard/scopes"
)

// FuzzParse checks that Parse never panics and returns only valid scope
// tokens that occur in the input as space-separated fields.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", " ", "read:users", "a  b", `a"b c\d e`, "a\tb", "\xff\xfe", "a b a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := scopes.Parse(s)
		fields := strings.Split(s, " ")
		for _, g := range got {
			if !scopes.Valid(g) {
				t.Fatalf("Parse(%q) returned invalid scope %q", s, g)
			}
			found := false
			for _, f := range fields {
				if f == g {
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("Parse(%q) returned %q, which is not a field of the input", s, g)
			}
		}
		n := 0
		for _, f := range fields {
			if scopes.Valid(f) {
				n++
			}
		}
		if len(got) != n {
			t.Fatalf("Parse(%q) returned %d scopes, want %d", s, len(got), n)
		}
	})
}

// FuzzRequirement checks that NewRequirement never panics, that it either
// returns an error matching ErrInvalidScope or a Requirement whose
// challenge satisfies it, and that a requirement never allows scopes that
// are not in its challenge.
func FuzzRequirement(f *testing.F) {
	for _, seed := range []struct{ a, b, granted string }{
		{"read:users", "", "read:users"},
		{"admin", "users:write users:delete", "users:write"},
		{`a"b`, "", "a"},
		{"", "", ""},
		{"  a  b ", "c", "a b c"},
		{`x\y`, "z", "z"},
	} {
		f.Add(seed.a, seed.b, seed.granted)
	}
	f.Fuzz(func(t *testing.T, a, b, granted string) {
		alts := []string{a}
		if b != "" {
			alts = append(alts, b)
		}
		r, err := scopes.NewRequirement(alts...)
		if err != nil {
			if !errors.Is(err, scopes.ErrInvalidScope) {
				t.Fatalf("NewRequirement(%q) error %v does not match ErrInvalidScope", alts, err)
			}
			if r.Allows(scopes.Parse(granted)) {
				t.Fatalf("invalid requirement %q allows %q", alts, granted)
			}
			return
		}
		// Every alternative is non-empty and made of valid scopes.
		for _, alt := range r.Alternatives() {
			if len(alt) == 0 {
				t.Fatalf("NewRequirement(%q) has an empty alternative", alts)
			}
			for _, s := range alt {
				if !scopes.Valid(s) {
					t.Fatalf("NewRequirement(%q) accepted invalid scope %q", alts, s)
				}
			}
		}
		challenge := scopes.Parse(r.Challenge())
		if !r.Allows(challenge) {
			t.Fatalf("NewRequirement(%q): challenge %q does not satisfy it", alts, r.Challenge())
		}
		g := scopes.Parse(granted)
		if r.Allows(g) {
			// Some alternative is fully granted.
			ok := false
			for _, alt := range r.Alternatives() {
				all := true
				for _, s := range alt {
					if !contains(g, s) {
						all = false
					}
				}
				ok = ok || all
			}
			if !ok {
				t.Fatalf("%v allows %q without any complete alternative", r, g)
			}
		}
		if r.Allows(nil) {
			t.Fatalf("%v allows no scopes at all", r)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
