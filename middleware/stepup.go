package middleware

import (
	"strings"

	"github.com/bearerguard/bearerguard/claims"
)

// checkUserAuthentication applies a route's step-up requirements (RFC 9470)
// to the claims of a valid token: a user token, an accepted "acr" (or
// Config.ACRClaim) and an "auth_time" within p.MaxAge, with Config.Leeway
// of clock skew. A refusal carries every requirement of the route, so that
// the client asks for all of them at once (RFC 9470 §4).
func (v *Validator) checkUserAuthentication(c *claims.Claims, ti *trust, p Policy) *Error {
	if len(p.ACRValues) == 0 && p.MaxAge <= 0 {
		return nil
	}
	var reason error
	switch {
	case c.Machine:
		reason = ErrMachineToken
	case len(p.ACRValues) > 0 && !anyIn(acrValues(c, ti), p.ACRValues):
		reason = ErrACRNotAccepted
	case p.MaxAge > 0 && !v.recentEnough(c, p):
		reason = ErrAuthenticationTooOld
	default:
		return nil
	}
	e := newError(ErrInsufficientUserAuthentication, reason, nil)
	e.ACRValues = strings.Join(p.ACRValues, " ")
	e.MaxAge = max(p.MaxAge, 0)
	return e
}

// acrValues returns the token's authentication context classes, read from
// the ACRClaim of ti, the issuer that accepted it (Config.ACRClaim by
// default): a string or an array of strings.
func acrValues(c *claims.Claims, ti *trust) []string {
	name := ti.acrClaim
	if name == "acr" {
		if c.ACR == "" {
			return nil
		}
		return []string{c.ACR}
	}
	val, ok := c.Lookup(name)
	if !ok {
		return nil
	}
	switch val := val.(type) {
	case string:
		return []string{val}
	case []any:
		out := make([]string, 0, len(val))
		for _, e := range val {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// recentEnough reports whether the user authenticated at most p.MaxAge
// ago (and not in the future), with Config.Leeway of clock skew either way.
// A token without "auth_time" is not.
func (v *Validator) recentEnough(c *claims.Claims, p Policy) bool {
	if c.AuthTime.IsZero() {
		return false
	}
	now, leeway := v.cfg.now(), v.cfg.leeway()
	if now.Add(leeway).Before(c.AuthTime) {
		return false
	}
	return !now.After(c.AuthTime.Add(p.MaxAge + leeway))
}
