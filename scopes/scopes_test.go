package scopes_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/bearerguard/bearerguard/scopes"
)

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"read:users", true},
		{"!", true},
		{"#$%&'()*+,-./0123456789:;<=>?@[]^_`{|}~", true},
		{"https://api.example.com/read", true},
		{"", false},
		{" ", false},
		{"read users", false},
		{`read"users`, false},
		{`read\users`, false},
		{"read\tusers", false},
		{"read\x7fusers", false},
		{"lecture:été", false},
		{"\x00", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := scopes.Valid(tc.in); got != tc.want {
				t.Errorf("Valid(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"spaces only", "   ", nil},
		{"one", "read:users", []string{"read:users"}},
		{"two", "read:users write:users", []string{"read:users", "write:users"}},
		{"runs of spaces", "  read:users   write:users  ", []string{"read:users", "write:users"}},
		{"invalid entries dropped", `read:users bad"quote bad\slash ok`, []string{"read:users", "ok"}},
		{"tab is not a separator", "a\tb c", []string{"c"}},
		{"duplicates kept", "a a", []string{"a", "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := scopes.Parse(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("Parse(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNewRequirementAllows(t *testing.T) {
	for _, tc := range []struct {
		name    string
		alts    []string
		granted []string
		want    bool
	}{
		{"single granted", []string{"read:users"}, []string{"read:users"}, true},
		{"single among others", []string{"read:users"}, []string{"openid", "read:users", "profile"}, true},
		{"single missing", []string{"read:users"}, []string{"write:users"}, false},
		{"nothing granted", []string{"read:users"}, nil, false},
		{"OR first", []string{"admin", "users:write users:delete"}, []string{"admin"}, true},
		{"OR second complete", []string{"admin", "users:write users:delete"}, []string{"users:delete", "users:write"}, true},
		{"AND incomplete", []string{"admin", "users:write users:delete"}, []string{"users:write"}, false},
		{"AND needs every scope", []string{"a b c"}, []string{"a", "c"}, false},
		{"AND complete", []string{"a b c"}, []string{"c", "b", "a"}, true},
		{"repeated spaces inside alternative", []string{"  a   b  "}, []string{"a", "b"}, true},
		{"duplicate scope in alternative", []string{"a a"}, []string{"a"}, true},
		// Look-alikes never match: comparison is exact and case-sensitive.
		{"prefix look-alike", []string{"read:users"}, []string{"read:user"}, false},
		{"case look-alike", []string{"read:users"}, []string{"READ:USERS"}, false},
		{"suffix look-alike", []string{"read:users"}, []string{"read:users:extra"}, false},
		{"joined look-alike", []string{"read:users"}, []string{"read:users write:users"}, false},
		{"padded look-alike", []string{"read:users"}, []string{" read:users"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := scopes.NewRequirement(tc.alts...)
			if err != nil {
				t.Fatalf("NewRequirement(%q): %v", tc.alts, err)
			}
			if got := r.Allows(tc.granted); got != tc.want {
				t.Errorf("NewRequirement(%q).Allows(%q) = %v, want %v", tc.alts, tc.granted, got, tc.want)
			}
		})
	}
}

func TestNewRequirementInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		alts []string
	}{
		{"no alternative", nil},
		{"empty alternative", []string{""}},
		{"blank alternative", []string{"   "}},
		{"empty among valid", []string{"admin", ""}},
		{"double quote", []string{`read"users`}},
		{"backslash", []string{`read\users`}},
		{"control character", []string{"read\nusers"}},
		{"tab", []string{"read\tusers"}},
		{"DEL", []string{"read\x7f"}},
		{"non-ASCII", []string{"lire:é"}},
		{"invalid in second alternative", []string{"admin", `a b"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := scopes.NewRequirement(tc.alts...)
			if !errors.Is(err, scopes.ErrInvalidScope) {
				t.Fatalf("NewRequirement(%q) error = %v, want ErrInvalidScope", tc.alts, err)
			}
			if r.Allows([]string{"admin", "read", "users"}) {
				t.Error("the zero Requirement returned with the error allows a token")
			}
		})
	}
}

func TestMustRequirementPanics(t *testing.T) {
	for _, alts := range [][]string{nil, {""}, {`a"b`}, {`a\b`}} {
		func() {
			defer func() {
				r := recover()
				err, ok := r.(error)
				if !ok || !errors.Is(err, scopes.ErrInvalidScope) {
					t.Errorf("MustRequirement(%q) panicked with %v, want an error matching ErrInvalidScope", alts, r)
				}
			}()
			scopes.MustRequirement(alts...)
		}()
	}
	// Valid literals do not panic.
	r := scopes.MustRequirement("admin", "a b")
	if !r.Allows([]string{"admin"}) {
		t.Error("MustRequirement(admin) does not allow admin")
	}
}

func TestZeroRequirementAllowsNothing(t *testing.T) {
	var r scopes.Requirement
	for _, granted := range [][]string{nil, {}, {"admin"}, {""}} {
		if r.Allows(granted) {
			t.Errorf("zero Requirement allows %q", granted)
		}
	}
	if r.Challenge() != "" || len(r.Alternatives()) != 0 {
		t.Errorf("zero Requirement: Challenge %q, Alternatives %q", r.Challenge(), r.Alternatives())
	}
}

func TestChallenge(t *testing.T) {
	for _, tc := range []struct {
		name string
		alts []string
		want string
	}{
		{"one", []string{"read:users"}, "read:users"},
		{"OR of ANDs", []string{"admin", "users:write users:delete"}, "admin users:write users:delete"},
		{"deduplicated in order of first appearance", []string{"b a", "a c", "b"}, "b a c"},
		{"spaces normalised", []string{"  x   y ", "z"}, "x y z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := scopes.MustRequirement(tc.alts...)
			if got := r.Challenge(); got != tc.want {
				t.Errorf("Challenge() = %q, want %q", got, tc.want)
			}
			// A token granted everything the challenge lists satisfies r.
			if !r.Allows(scopes.Parse(r.Challenge())) {
				t.Errorf("the scopes of Challenge() %q do not satisfy %v", r.Challenge(), r)
			}
		})
	}
}

func TestAlternativesIsACopy(t *testing.T) {
	r := scopes.MustRequirement("admin", "a b")
	want := [][]string{{"admin"}, {"a", "b"}}
	got := r.Alternatives()
	if !slices.EqualFunc(got, want, slices.Equal[[]string]) {
		t.Fatalf("Alternatives() = %q, want %q", got, want)
	}
	got[0][0] = "nobody"
	got[1] = nil
	if !r.Allows([]string{"admin"}) || r.Allows([]string{"nobody"}) {
		t.Error("changing the result of Alternatives changed the Requirement")
	}
}

func TestString(t *testing.T) {
	r := scopes.MustRequirement("admin", "users:write users:delete")
	if got, want := r.String(), `"admin" or "users:write users:delete"`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}
