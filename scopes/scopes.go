package scopes

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidScope reports a scope literal that is not an RFC 6749 §3.3
// scope-token, or a requirement without any alternative.
var ErrInvalidScope = errors.New("scopes: invalid scope")

// Valid reports whether s is exactly one RFC 6749 §3.3 scope-token:
// one or more of the characters %x21 / %x23-5B / %x5D-7E (printable ASCII
// except space, double quote and backslash).
func Valid(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar(s[i]) {
			return false
		}
	}
	return true
}

func tokenChar(c byte) bool {
	return c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)
}

// Parse splits a space-delimited scope value, as found in the "scope" claim
// of an access token, into its scope tokens. Runs of spaces are tolerated and
// empty entries are dropped. Entries that are not valid scope tokens are
// dropped too: they can never satisfy a [Requirement], whose scopes are all
// valid. The returned strings share memory with s.
func Parse(s string) []string {
	n := 0
	for rest := s; rest != ""; {
		var f string
		f, rest, _ = strings.Cut(rest, " ")
		if Valid(f) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for rest := s; rest != ""; {
		var f string
		f, rest, _ = strings.Cut(rest, " ")
		if Valid(f) {
			out = append(out, f)
		}
	}
	return out
}

// Requirement is a parsed scope requirement: a list of alternatives, each a
// set of scopes that must all be granted. It is immutable and safe for
// concurrent use. The zero value has no alternatives and allows nothing.
type Requirement struct {
	alts      [][]string
	challenge string
}

// NewRequirement builds a Requirement from alternatives in the style of
// Authlib's require_oauth: a token is allowed if it holds every scope of at
// least one alternative; the scopes of one alternative are separated by
// single or repeated spaces. For example NewRequirement("admin",
// "users:write users:delete") allows a token with "admin", or with both
// "users:write" and "users:delete".
//
// It returns an error wrapping [ErrInvalidScope] if no alternative is given,
// if an alternative is empty, or if a scope is not a valid RFC 6749 §3.3
// scope-token.
func NewRequirement(alternatives ...string) (Requirement, error) {
	if len(alternatives) == 0 {
		return Requirement{}, fmt.Errorf("%w: no alternative given", ErrInvalidScope)
	}
	var r Requirement
	var union []string
	for i, alt := range alternatives {
		var set []string
		for _, f := range strings.Split(alt, " ") {
			if f == "" {
				continue
			}
			if !Valid(f) {
				return Requirement{}, fmt.Errorf("%w: alternative %d contains %q", ErrInvalidScope, i, f)
			}
			if !contains(set, f) {
				set = append(set, f)
			}
			if !contains(union, f) {
				union = append(union, f)
			}
		}
		if len(set) == 0 {
			return Requirement{}, fmt.Errorf("%w: alternative %d is empty", ErrInvalidScope, i)
		}
		r.alts = append(r.alts, set)
	}
	r.challenge = strings.Join(union, " ")
	return r, nil
}

// MustRequirement is like [NewRequirement] but panics if the alternatives are
// invalid. It is meant for route registration, where an invalid scope literal
// is a programmer error.
func MustRequirement(alternatives ...string) Requirement {
	r, err := NewRequirement(alternatives...)
	if err != nil {
		panic(err)
	}
	return r
}

// Allows reports whether the granted scopes satisfy at least one alternative
// of r. Comparison is exact and case-sensitive (RFC 6749 §3.3).
func (r Requirement) Allows(granted []string) bool {
	for _, alt := range r.alts {
		if containsAll(granted, alt) {
			return true
		}
	}
	return false
}

// Alternatives returns a copy of the alternatives of r, each a list of scopes
// that must all be granted.
func (r Requirement) Alternatives() [][]string {
	out := make([][]string, len(r.alts))
	for i, alt := range r.alts {
		out[i] = append([]string(nil), alt...)
	}
	return out
}

// Challenge returns the value for the "scope" attribute of an RFC 6750 §3
// insufficient_scope challenge: every scope mentioned by r, once, in the
// order of first appearance, separated by spaces. A token granted all of them
// satisfies r.
func (r Requirement) Challenge() string { return r.challenge }

// String returns r in a readable form, for example
// `"admin" or "users:write users:delete"`.
func (r Requirement) String() string {
	var b strings.Builder
	for i, alt := range r.alts {
		if i > 0 {
			b.WriteString(" or ")
		}
		b.WriteByte('"')
		b.WriteString(strings.Join(alt, " "))
		b.WriteByte('"')
	}
	return b.String()
}

func containsAll(granted, required []string) bool {
	for _, s := range required {
		if !contains(granted, s) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
