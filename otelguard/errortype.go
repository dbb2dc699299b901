package otelguard

import (
	"github.com/bearerguard/bearerguard/middleware"
)

// errorTypes names the core's sentinels, the most specific first: the
// values of the error.type attribute.
var errorTypes = []struct {
	err  error
	name string
}{
	{middleware.ErrMalformedHeader, "malformed_header"},
	{middleware.ErrMultipleHeaders, "multiple_headers"},
	{middleware.ErrMultipleTokens, "multiple_tokens"},
	{middleware.ErrMalformedCredentials, "malformed_credentials"},
	{middleware.ErrFormUnreadable, "form_unreadable"},
	{middleware.ErrTokenTooLarge, "token_too_large"},
	{middleware.ErrMalformedToken, "malformed_token"},
	{middleware.ErrUnsupportedAlgorithm, "unsupported_algorithm"},
	{middleware.ErrUnsupportedCritical, "unsupported_critical"},
	{middleware.ErrUnknownKey, "unknown_key"},
	{middleware.ErrInvalidSignature, "invalid_signature"},
	{middleware.ErrInvalidIssuer, "invalid_issuer"},
	{middleware.ErrInvalidAudience, "invalid_audience"},
	{middleware.ErrTokenExpired, "token_expired"},
	{middleware.ErrTokenNotYetValid, "token_not_yet_valid"},
	{middleware.ErrNotAccessToken, "not_access_token"},
	{middleware.ErrUnsupportedConfirmation, "unsupported_confirmation"},
	{middleware.ErrSenderConstrained, "sender_constrained"},
	{middleware.ErrClaimsRejected, "claims_rejected"},
	{middleware.ErrDPoPRequired, "dpop_required"},
	{middleware.ErrNotDPoPBound, "not_dpop_bound"},
	{middleware.ErrCertificateMismatch, "certificate_mismatch"},
	{middleware.ErrCertificateRequired, "certificate_required"},
	{middleware.ErrTokenInactive, "token_inactive"},
	{middleware.ErrUseDPoPNonce, "use_dpop_nonce"},
	{middleware.ErrIntrospectionFailed, "introspection_failed"},
	{middleware.ErrLookupFailed, "lookup_failed"},
	{middleware.ErrResolverBusy, "resolver_busy"},
	{middleware.ErrResolverFailed, "resolver_failed"},
	{middleware.ErrReplayKeyLimit, "replay_key_limit"}, // before the store failure it is reported under
	{middleware.ErrReplayStoreFailed, "replay_store_failed"},
	{middleware.ErrACRNotAccepted, "acr_not_accepted"},
	{middleware.ErrAuthenticationTooOld, "authentication_too_old"},
	{middleware.ErrMachineToken, "machine_token"},
	{middleware.ErrClaimMissing, "claim_missing"},
	{middleware.ErrClaimValuesNotAccepted, "claim_values_not_accepted"},
	{middleware.ErrCheckRejected, "check_rejected"},
	{middleware.ErrKeysNotFetchedYet, "keys_not_fetched_yet"},
	{middleware.ErrIssuerMismatch, "issuer_mismatch"},
	{middleware.ErrDiscoveryFailed, "discovery_failed"},
	{middleware.ErrJWKSUnusable, "jwks_unusable"},
	{middleware.ErrFetchTimeout, "fetch_timeout"},
	{middleware.ErrStopped, "stopped"},
	// The categories, for errors with no specific sentinel above (a
	// route check's own *Error, for one).
	{middleware.ErrNoToken, "no_token"},
	{middleware.ErrInvalidRequest, "invalid_request"},
	{middleware.ErrInsufficientScope, "insufficient_scope"},
	{middleware.ErrInsufficientClaims, "insufficient_claims"},
	{middleware.ErrInsufficientUserAuthentication, "insufficient_user_authentication"},
	{middleware.ErrInvalidDPoPProof, "invalid_dpop_proof"},
	{middleware.ErrKeysUnavailable, "keys_unavailable"},
	{middleware.ErrInvalidToken, "invalid_token"},
}

// ErrorType returns the value of the error.type attribute for err: the
// name of the most specific sentinel of package middleware that err
// matches (as errors.Is would find it), such as "token_expired",
// "invalid_signature", "insufficient_scope" or "no_token"; "_OTHER"
// (OpenTelemetry's fallback) for an error that matches none. The names
// are fixed: the attribute's cardinality is bounded.
func ErrorType(err error) string {
	best := len(errorTypes)
	walk(err, &best)
	if best == len(errorTypes) {
		return "_OTHER"
	}
	return errorTypes[best].name
}

// walk finds the sentinels of the tree of err, as errors.Is walks it (the
// core's errors have no Is method), keeping in best the lowest index of
// errorTypes found. One walk unwraps each error once: errors.Is per
// sentinel would unwrap (and allocate) once per sentinel.
func walk(err error, best *int) {
	for err != nil {
		for i := range *best {
			if err == errorTypes[i].err {
				*best = i
				break
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e, best)
			}
			return
		default:
			return
		}
	}
}
