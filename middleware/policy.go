package middleware

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/scopes"
)

// ClaimRequirement is a requirement on the values of one claim of the
// token, for Policy.Claims: the claim must hold every value of at least
// one alternative, with the OR-of-AND semantics of
// [Validator.RequireScope]. A string claim holds one value (it is never
// split at spaces); an array claim holds its string elements. Values are
// compared exactly and case-sensitively. Build one with [ClaimValues]; the
// zero value allows nothing and is refused by [Policy.Validate].
//
// One requirement covers both "org_id is org_a or org_b" and "permissions
// include read:users and write:users":
//
//	middleware.ClaimValues("org_id", "org_a", "org_b")
//	middleware.ClaimValues("permissions", "read:users write:users")
//
// A refused request is answered 403 insufficient_claims with the claim's
// name and every value of the requirement in the challenge, as scopes are
// in an insufficient_scope challenge: a requirement whose values must not
// be shown to callers belongs in Policy.Check.
type ClaimRequirement struct {
	// Claim is the claim's name or, when no claim has that name, a dotted
	// path into nested objects such as "realm_access.roles", as
	// Config.ScopeClaims and [claims.Claims.Lookup] read it.
	Claim string
	// Values are the alternatives; see [scopes.NewRequirement].
	Values scopes.Requirement
}

// ClaimValues returns the requirement that claim hold every value of at
// least one alternative; each alternative is a space-separated list of
// values that are all required, as for [Validator.RequireScope]. Values
// are RFC 6749 §3.3 scope tokens (printable ASCII without space, quote or
// backslash), which fits identifiers, role names and permissions; values
// outside that set are for Policy.Check. It panics if claim is empty or an
// alternative is empty or holds an invalid value: that is a programmer
// error, caught when routes are registered.
func ClaimValues(claim string, alternatives ...string) ClaimRequirement {
	req := ClaimRequirement{Claim: claim, Values: scopes.MustRequirement(alternatives...)}
	if err := req.validate(); err != nil {
		panic(err)
	}
	return req
}

// Validate reports whether p can be answered: every scope alternative
// holding at least one scope and only RFC 6749 §3.3 scope tokens (its error
// then also matches [scopes.ErrInvalidScope]), every ACR value a non-empty
// string of the RFC 6750 challenge character set without space, MaxAge not
// negative, and every claim requirement naming a claim in the challenge
// character set and having at least one alternative. Its error matches
// [ErrInvalidConfig]; [Validator.Require] and the adapters' Require panic
// with it.
func (p Policy) Validate() error {
	for _, a := range p.ACRValues {
		if a == "" || sanitize(a) != a || strings.Contains(a, " ") {
			return configError("Policy.ACRValues: %s is empty or has a character not allowed in a challenge (space, quote, backslash, non-ASCII)", strconv.Quote(a))
		}
	}
	if p.MaxAge < 0 {
		return configError("Policy.MaxAge is negative")
	}
	if p.DPoP < DPoPDefault || p.DPoP > DPoPRequired {
		return configError("Policy.DPoP %d is not a known mode", p.DPoP)
	}
	if len(p.Scopes) > 0 {
		if _, err := scopes.NewRequirement(p.Scopes...); err != nil {
			return fmt.Errorf("%w: Policy.Scopes: %w", ErrInvalidConfig, err)
		}
	}
	for _, req := range p.Claims {
		if err := req.validate(); err != nil {
			return err
		}
	}
	return nil
}

func (req ClaimRequirement) validate() error {
	if req.Claim == "" || sanitize(req.Claim) != req.Claim {
		return configError("Policy.Claims: claim name %s is empty or has a character not allowed in a challenge (quote, backslash, non-ASCII)", strconv.Quote(req.Claim))
	}
	if len(req.Values.Alternatives()) == 0 {
		return configError("Policy.Claims: claim %s has no alternative: no token could meet it", strconv.Quote(req.Claim))
	}
	return nil
}

// checkClaims applies a route's claim requirements to the claims of a
// valid token, in order; the first that fails refuses the request, its
// claim and values in the challenge.
func checkClaims(c *claims.Claims, p Policy) *Error {
	if len(p.Claims) == 0 {
		return nil
	}
	m, _ := c.Map() // nil for a token without payload: every claim is missing
	for _, req := range p.Claims {
		var reason error
		switch values, ok := claimValues(m, req.Claim); {
		case !ok:
			reason = ErrClaimMissing
		case !req.Values.Allows(values):
			reason = ErrClaimValuesNotAccepted
		default:
			continue
		}
		e := newError(ErrInsufficientClaims, reason, nil)
		e.Claim, e.ClaimValues = req.Claim, req.Values.Challenge()
		return e
	}
	return nil
}

// claimValues returns the values of the claim at path: a string is one
// value, an array its string elements. The bool is false if the claim is
// absent or of another type.
func claimValues(m map[string]any, path string) ([]string, bool) {
	v, ok := claims.LookupMap(m, path)
	if !ok {
		return nil, false
	}
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out, true
	}
	return nil, false
}

// checkRoute runs the route's custom check, last: an [*Error] it returns is
// the answer; any other error is 403 insufficient_claims matching
// [ErrCheckRejected], its text logged, never sent.
func checkRoute(ctx context.Context, c *claims.Claims, p Policy) *Error {
	if p.Check == nil {
		return nil
	}
	err := p.Check(ctx, c)
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	return newError(ErrInsufficientClaims, ErrCheckRejected, err)
}

// commaValues returns the scope and claim values of p that contain a
// comma: legal, but almost always a list meant as separate values.
func commaValues(p Policy) []string {
	var out []string
	add := func(r scopes.Requirement) {
		for _, alt := range r.Alternatives() {
			for _, s := range alt {
				if strings.Contains(s, ",") {
					out = append(out, s)
				}
			}
		}
	}
	if len(p.Scopes) > 0 {
		if r, err := scopes.NewRequirement(p.Scopes...); err == nil {
			add(r)
		}
	}
	for _, req := range p.Claims {
		add(req.Values)
	}
	return out
}

// scopesAllow reports whether granted holds every scope of at least one of
// the alternatives, as [scopes.Requirement.Allows] does, reading the
// space-separated scopes in place (no allocation): an alternative without
// a scope allows nothing. Scopes compare exactly; [Policy.Validate] keeps
// scopes that are not scope tokens out of routes.
func scopesAllow(alternatives, granted []string) bool {
	for _, alt := range alternatives {
		ok, some := true, false
		for rest := alt; rest != "" && ok; {
			scope, after, _ := strings.Cut(rest, " ")
			if scope != "" {
				some, ok = true, slices.Contains(granted, scope)
			}
			rest = after
		}
		if ok && some {
			return true
		}
	}
	return false
}

// scopeChallenge returns the scope attribute of an insufficient_scope
// challenge for the alternatives: every scope token they name, once, in
// order of first appearance ([scopes.Requirement.Challenge]).
func scopeChallenge(alternatives []string) string {
	var union []string
	for _, alt := range alternatives {
		for f := range strings.SplitSeq(alt, " ") {
			if scopes.Valid(f) && !slices.Contains(union, f) {
				union = append(union, f)
			}
		}
	}
	return strings.Join(union, " ")
}
