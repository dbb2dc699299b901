package echoguard

import "github.com/bearerguard/bearerguard/middleware"

// The names below are those of package middleware, so that an application
// can answer like the library and tell refusals apart without importing
// package middleware under an alias (labstack's own middleware package
// takes that name in an Echo application). They are the same values:
// errors.Is matches either name.

// ClaimRequirement is a requirement on the values of one claim, for
// Policy.Claims; see [middleware.ClaimRequirement].
type ClaimRequirement = middleware.ClaimRequirement

// ClaimValues returns the requirement that claim hold every value of at
// least one alternative (OR of AND, as [Guard.RequireScope]); see
// [middleware.ClaimValues]. It panics if an argument is invalid.
func ClaimValues(claim string, alternatives ...string) ClaimRequirement {
	return middleware.ClaimValues(claim, alternatives...)
}

// DPoPMode is a route's DPoP mode, for Policy.DPoP; see
// [middleware.DPoPMode].
type DPoPMode = middleware.DPoPMode

// The DPoP modes of a route (RFC 9449), as in package middleware: the zero
// value DPoPDefault takes Config.DPoP.Mode.
const (
	DPoPDefault  = middleware.DPoPDefault
	DPoPOff      = middleware.DPoPOff
	DPoPAllowed  = middleware.DPoPAllowed
	DPoPRequired = middleware.DPoPRequired
)

// NewError returns an [*Error] of the given category with a description of
// the caller's choosing, for a Policy.Check function or for [Guard.Refuse];
// see [middleware.NewError].
func NewError(category error, description string, cause error) *Error {
	return middleware.NewError(category, description, cause)
}

// The categories of refusals: every [*Error] matches exactly one with
// errors.Is. The specific causes (such as middleware.ErrTokenExpired) are
// in package middleware, for logs.
var (
	// ErrNoToken: no bearer token (401); see [middleware.ErrNoToken].
	ErrNoToken = middleware.ErrNoToken
	// ErrInvalidRequest: malformed request (400 invalid_request); see
	// [middleware.ErrInvalidRequest].
	ErrInvalidRequest = middleware.ErrInvalidRequest
	// ErrInvalidToken: the token is not acceptable (401 invalid_token); see
	// [middleware.ErrInvalidToken].
	ErrInvalidToken = middleware.ErrInvalidToken
	// ErrInsufficientScope: a scope is missing (403 insufficient_scope);
	// see [middleware.ErrInsufficientScope].
	ErrInsufficientScope = middleware.ErrInsufficientScope
	// ErrInsufficientClaims: a claim requirement or the route's check
	// refused a valid token (403 insufficient_claims); see
	// [middleware.ErrInsufficientClaims].
	ErrInsufficientClaims = middleware.ErrInsufficientClaims
	// ErrInsufficientUserAuthentication: the user's authentication is not
	// strong or recent enough (401, RFC 9470); see
	// [middleware.ErrInsufficientUserAuthentication].
	ErrInsufficientUserAuthentication = middleware.ErrInsufficientUserAuthentication
	// ErrKeysUnavailable: the issuer's keys could not be obtained (503);
	// see [middleware.ErrKeysUnavailable].
	ErrKeysUnavailable = middleware.ErrKeysUnavailable
)
