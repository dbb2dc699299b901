package middleware

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// RFC 6750 §3.1 error codes, as carried by [Error.Code].
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
	// CodeInsufficientUserAuthentication is the RFC 9470 §3 error code: the
	// user's authentication behind the token is not strong or recent
	// enough for the route.
	CodeInsufficientUserAuthentication = "insufficient_user_authentication"
	// CodeInsufficientClaims is the error code of a 403 answer to a valid
	// token whose claims do not meet a route's claim requirements
	// (Policy.Claims) or custom check (Policy.Check). It is an extension
	// code, as RFC 6750 §3 allows: insufficient_scope is kept for missing
	// scopes, which a client can ask for. Entra ID sends the same code in a
	// 401 with a "claims" attribute for its claims challenges; bearerguard
	// answers 403, since the token is valid, with the "claim" and
	// "claim_values" attributes instead.
	CodeInsufficientClaims = "insufficient_claims"
	// CodeInvalidDPoPProof is the RFC 9449 §7.1 error code of a DPoP
	// request whose proof is missing or not acceptable.
	CodeInvalidDPoPProof = "invalid_dpop_proof"
	// CodeUseDPoPNonce is the RFC 9449 §9 error code of a DPoP request
	// whose proof lacks a server nonce, or carries one that is not
	// accepted; the answer carries a fresh one in the DPoP-Nonce header.
	CodeUseDPoPNonce = "use_dpop_nonce"
	// CodeUnavailable is not an RFC 6750 code: it is used in the JSON body of
	// a 503 answer when the issuer's keys could not be obtained. No
	// WWW-Authenticate error attribute is sent with it.
	CodeUnavailable = "temporarily_unavailable"
)

// Categories. Every error returned by a [Validator] matches exactly one of
// these with [errors.Is], and usually a more specific sentinel below too.
var (
	// ErrNoToken: the request carries no bearer token (RFC 6750 §3.1:
	// 401 with a challenge that has no error code).
	ErrNoToken = errors.New("bearerguard: no bearer token")
	// ErrInvalidRequest: the request is malformed (400 invalid_request).
	ErrInvalidRequest = errors.New("bearerguard: invalid request")
	// ErrInvalidToken: the token is not acceptable (401 invalid_token).
	ErrInvalidToken = errors.New("bearerguard: invalid token")
	// ErrInsufficientScope: the token lacks the scope the route requires
	// (403 insufficient_scope).
	ErrInsufficientScope = errors.New("bearerguard: insufficient scope")
	// ErrInsufficientClaims: the token is valid, but its claims do not meet
	// the route's claim requirements or custom check (403
	// insufficient_claims, with claim and claim_values for a claim
	// requirement).
	ErrInsufficientClaims = errors.New("bearerguard: insufficient claims")
	// ErrInsufficientUserAuthentication: the token is valid, but how the
	// user authenticated does not meet the route's requirements (RFC 9470
	// §3: 401 insufficient_user_authentication, with acr_values and
	// max_age).
	ErrInsufficientUserAuthentication = errors.New("bearerguard: insufficient user authentication")
	// ErrKeysUnavailable: the issuer's signing keys have not been obtained,
	// so no token can be checked yet, or the source of an opaque token
	// (introspection, Config.LookupToken) could not answer (503 with
	// Retry-After).
	ErrKeysUnavailable = errors.New("bearerguard: issuer keys unavailable")
	// ErrInvalidDPoPProof: the request uses the DPoP scheme (RFC 9449 §7)
	// and its proof is missing, sent more than once, malformed, or fails
	// a check of RFC 9449 §4.3: typ, alg, jwk, signature, htm, htu, iat,
	// ath, the token's jkt, or a jti seen before (401 invalid_dpop_proof,
	// with a DPoP challenge naming the accepted algs).
	ErrInvalidDPoPProof = errors.New("bearerguard: invalid DPoP proof")
)

// ErrInvalidConfig is matched by every error [New] returns for a Config that
// is missing a required field or contradicts itself.
var ErrInvalidConfig = errors.New("bearerguard: invalid config")

// ErrStopped is matched by the error of [Validator.Ready] once the context
// given to [New] has ended: the validator no longer fetches keys. Keys
// already held keep verifying tokens; a token that needs a key not held is
// answered 503 ([ErrKeysUnavailable]), and its error matches ErrStopped too.
var ErrStopped = errors.New("bearerguard: validator stopped (the context given to New has ended)")

// Causes of ErrKeysUnavailable: why an issuer's keys are not held. The
// error of [Validator.Ready] joins one [*KeysError] per issuer, which
// matches one or two of these; a 503 answer's error matches the cause of
// the fetch it waited for.
var (
	// ErrKeysNotFetchedYet: the first fetch of the issuer's keys has not
	// ended yet.
	ErrKeysNotFetchedYet = errors.New("bearerguard: issuer keys not fetched yet")
	// ErrDiscoveryFailed: the issuer's discovery document (OpenID Connect
	// Discovery 1.0, RFC 8414) was not obtained: the issuer did not answer,
	// answered with an HTTP status other than 200 (KeysError.Status), or
	// sent a document that is not JSON or names no usable jwks_uri.
	ErrDiscoveryFailed = errors.New("bearerguard: discovery failed")
	// ErrIssuerMismatch: the discovery document's "issuer" is not the
	// configured issuer (OpenID Connect Discovery 1.0 §4.3, RFC 8414 §3.3):
	// mind the trailing slash.
	ErrIssuerMismatch = errors.New("bearerguard: discovery document names another issuer")
	// ErrJWKSUnusable: the JWK Set was not obtained (an HTTP status other
	// than 200 is in KeysError.Status), is not a JWK Set, or has no usable
	// signature key (symmetric, encryption and unsupported keys are never
	// used).
	ErrJWKSUnusable = errors.New("bearerguard: JWK Set unusable")
	// ErrFetchTimeout: the discovery or JWKS request timed out
	// (Config.HTTPClient's Timeout, at most DefaultFetchTimeout). It is
	// matched together with ErrDiscoveryFailed or ErrJWKSUnusable.
	ErrFetchTimeout = errors.New("bearerguard: fetch timed out")
)

// KeysError says why one issuer's keys are not held, as found by the last
// fetch. It matches one of [ErrKeysNotFetchedYet], [ErrDiscoveryFailed],
// [ErrIssuerMismatch] and [ErrJWKSUnusable], [ErrFetchTimeout] if the
// fetch timed out, and the underlying cause.
type KeysError struct {
	// Issuer is the issuer whose keys are missing.
	Issuer string
	// URL is the document whose fetch failed, empty if none was tried.
	URL string
	// Status is the HTTP status the issuer answered with, if it answered
	// and the status was not 200; else 0.
	Status int

	reason  error // one of the sentinels above
	timeout bool
	cause   error
}

// Error describes the failure for logs.
func (e *KeysError) Error() string {
	s := "issuer " + e.Issuer + ": " + e.reason.Error()
	if e.URL != "" {
		s += ": GET " + e.URL
	}
	if e.Status != 0 {
		s += ": status " + strconv.Itoa(e.Status)
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the sentinels the error matches and its cause.
func (e *KeysError) Unwrap() []error {
	errs := []error{e.reason}
	if e.timeout {
		errs = append(errs, ErrFetchTimeout)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// Causes of ErrInvalidRequest.
var (
	// ErrMalformedHeader: the Authorization header is not "Bearer" followed
	// by a token68 (RFC 6750 §2.1), or the token is empty.
	ErrMalformedHeader = errors.New("bearerguard: malformed authorization header")
	// ErrMultipleHeaders: more than one Authorization header.
	ErrMultipleHeaders = errors.New("bearerguard: more than one authorization header")
	// ErrMultipleTokens: the token was sent in more than one way
	// (RFC 6750 §2: clients must not use more than one method).
	ErrMultipleTokens = errors.New("bearerguard: token sent more than once")
	// ErrMalformedCredentials: the token in the cookie named by
	// Config.TokenCookie, or returned by Config.TokenFunc, is not a token68
	// (RFC 9110 §11.2), or TokenFunc returned an error.
	ErrMalformedCredentials = errors.New("bearerguard: malformed credentials")
	// ErrFormUnreadable: with Config.AllowFormToken, a form body searched
	// for the token (no token in the headers) is larger than
	// [MaxFormTokenBody], was not received within Config.FormTokenTimeout,
	// or could not be read (such as a framework's body limit); the cause
	// says which.
	ErrFormUnreadable = errors.New("bearerguard: form body unreadable")
)

// Causes of ErrInvalidToken.
var (
	// ErrTokenTooLarge: the token exceeds Config.MaxTokenSize.
	ErrTokenTooLarge = errors.New("bearerguard: token too large")
	// ErrMalformedToken: the token is not a well-formed compact JWS
	// (RFC 7515 §7.1), or its header or claims are not valid JSON of the
	// expected types. JWE tokens are refused with this error.
	ErrMalformedToken = errors.New("bearerguard: malformed token")
	// ErrUnsupportedAlgorithm: the "alg" header is not in the allowlist, or
	// does not fit the key.
	ErrUnsupportedAlgorithm = errors.New("bearerguard: unsupported algorithm")
	// ErrUnsupportedCritical: the token has a "crit" header (RFC 7515
	// §4.1.11) naming extensions bearerguard does not implement.
	ErrUnsupportedCritical = errors.New("bearerguard: unsupported critical header")
	// ErrUnknownKey: no key of the issuer matches the token's "kid".
	ErrUnknownKey = errors.New("bearerguard: unknown signing key")
	// ErrInvalidSignature: the signature does not verify.
	ErrInvalidSignature = errors.New("bearerguard: invalid signature")
	// ErrInvalidIssuer: the "iss" claim is missing or not a trusted issuer.
	ErrInvalidIssuer = errors.New("bearerguard: untrusted issuer")
	// ErrInvalidAudience: no "aud" value is one of Config.Audiences, or the
	// client is not one of Config.ClientIDs.
	ErrInvalidAudience = errors.New("bearerguard: invalid audience")
	// ErrTokenExpired: "exp" is missing or in the past beyond the leeway.
	ErrTokenExpired = errors.New("bearerguard: token expired")
	// ErrTokenNotYetValid: "nbf" or "iat" is in the future beyond the leeway.
	ErrTokenNotYetValid = errors.New("bearerguard: token not yet valid")
	// ErrNotAccessToken: the token is an ID token or another kind of JWT
	// (RFC 8725 §3.11, RFC 9068 §4).
	ErrNotAccessToken = errors.New("bearerguard: not an access token")
	// ErrSenderConstrained: the token is bound to a key ("cnf", RFC 9449
	// §7.2, RFC 8705 §3) but was sent as a plain bearer token.
	ErrSenderConstrained = errors.New("bearerguard: sender-constrained token sent as bearer")
	// ErrUnsupportedConfirmation: the token is bound to its sender in a
	// way bearerguard cannot check, so possession cannot be confirmed (RFC
	// 7800 §3): its "cnf" names a confirmation method other than "jkt"
	// (DPoP, RFC 9449 §6) and "x5t#S256" (a client certificate, RFC 8705
	// §3), such as "jwk", "jwe", "jku", "kid" or a member bearerguard does
	// not know, alone or beside one it knows; or it names none (an empty
	// object); or an introspection answer says "token_type": "DPoP"
	// without a "cnf" "jkt". The token is refused however it is presented.
	ErrUnsupportedConfirmation = errors.New("bearerguard: token bound by a confirmation method that cannot be checked")
	// ErrClaimsRejected: Config.Validate refused the claims.
	ErrClaimsRejected = errors.New("bearerguard: claims rejected")
	// ErrDPoPRequired: a Bearer request on a route whose DPoP mode is
	// DPoPRequired (RFC 9449 §7.1).
	ErrDPoPRequired = errors.New("bearerguard: DPoP required")
	// ErrNotDPoPBound: a DPoP request whose token is not bound to a DPoP
	// key (no "cnf" "jkt", RFC 9449 §6).
	ErrNotDPoPBound = errors.New("bearerguard: token not bound to a DPoP key")
	// ErrCertificateMismatch: the token is bound to a client certificate
	// ("cnf" "x5t#S256", RFC 8705 §3) and the request presents another one.
	// A request that presents none is refused with ErrSenderConstrained.
	ErrCertificateMismatch = errors.New("bearerguard: client certificate does not match the token")
	// ErrCertificateRequired: the token's issuer accepts only
	// certificate-bound tokens (Issuer.Binding [BindingCertificate]) and
	// the token has no "cnf" "x5t#S256" (RFC 8705 §3).
	ErrCertificateRequired = errors.New("bearerguard: certificate-bound token required")
	// ErrTokenInactive: an opaque token is not active: the introspection
	// endpoint answered "active": false (RFC 7662 §2.2), or
	// Config.LookupToken found no such token. It may be unknown, expired
	// or revoked: the issuer does not say which.
	ErrTokenInactive = errors.New("bearerguard: token not active")
)

// Causes of ErrInvalidDPoPProof.
var (
	// ErrUseDPoPNonce: with DPoP.NonceSecrets, the proof has no "nonce"
	// claim, or one the validator did not mint or no longer accepts (RFC
	// 9449 §9). The answer is 401 with the code use_dpop_nonce
	// ([CodeUseDPoPNonce]) in the DPoP challenge and the body, and
	// [Validator.SetHeaders] adds a fresh nonce in a DPoP-Nonce header, for
	// the client to retry with.
	ErrUseDPoPNonce = errors.New("bearerguard: DPoP nonce required")
)

// Causes of a 503 for an opaque token, in the category ErrKeysUnavailable.
var (
	// ErrIntrospectionFailed: the introspection endpoint (or the discovery
	// document naming it) could not be reached, did not answer within
	// Introspection.Timeout, answered with a status other than 200 (401
	// and 403 mean this API's client credentials are wrong) or with
	// something that is not an introspection answer. The token may well
	// be valid: it is never refused with 401 for this.
	ErrIntrospectionFailed = errors.New("bearerguard: token introspection failed")
	// ErrLookupFailed: Config.LookupToken returned an error that is not an
	// *Error and does not match ErrInvalidToken, such as its store being
	// down.
	ErrLookupFailed = errors.New("bearerguard: token lookup failed")
	// ErrResolverFailed: Config.ResolveIssuer returned an error that is
	// not an *Error, such as its store being down.
	ErrResolverFailed = errors.New("bearerguard: issuer resolver failed")
	// ErrResolverBusy: a token names an issuer that is neither configured
	// nor held, and Config.ResolveIssuer was already asked
	// MaxResolutionsPerSecond times this second.
	ErrResolverBusy = errors.New("bearerguard: issuer resolver busy")
	// ErrReplayStoreFailed: DPoP.ReplayStore returned an error, so whether
	// the proof was used before is unknown: the request is refused (fail
	// closed), with 503 and Retry-After.
	ErrReplayStoreFailed = errors.New("bearerguard: DPoP replay store failed")
	// ErrReplayKeyLimit: the DPoP replay store already holds as many
	// unexpired proof identifiers of the request's DPoP key as one key may
	// (in memory, a sixteenth of the store; the Redis store of
	// replay/redisstore, its Options.MaxProofsPerKey), so this key's new
	// proofs are refused until some expire, while other keys are served.
	// It comes with ErrReplayStoreFailed: 503 with Retry-After, the time
	// until the key's oldest identifiers expire. The token and the proof
	// are not at fault, so it is not a 401.
	ErrReplayKeyLimit = errors.New("bearerguard: DPoP key over its share of the replay store")
)

// Causes of ErrInsufficientUserAuthentication (RFC 9470), for routes whose
// [Policy] sets ACRValues or MaxAge.
var (
	// ErrACRNotAccepted: the token's authentication context class (the
	// "acr" claim, or Config.ACRClaim) is absent or not one of the route's
	// Policy.ACRValues.
	ErrACRNotAccepted = errors.New("bearerguard: authentication context class not accepted")
	// ErrAuthenticationTooOld: the token's "auth_time" is absent, or the
	// user authenticated longer ago than the route's Policy.MaxAge.
	ErrAuthenticationTooOld = errors.New("bearerguard: user authentication too old")
	// ErrMachineToken: the token was issued to a client acting on its own
	// behalf ([claims.Claims.Machine]), and the route requires a user
	// authentication.
	ErrMachineToken = errors.New("bearerguard: machine token where a user authentication is required")
)

// Causes of ErrInsufficientClaims, for routes whose [Policy] sets Claims or
// Check.
var (
	// ErrClaimMissing: the claim of one of the route's Policy.Claims is
	// absent, or neither a string nor an array.
	ErrClaimMissing = errors.New("bearerguard: required claim missing")
	// ErrClaimValuesNotAccepted: the claim of one of the route's
	// Policy.Claims holds none of its alternatives.
	ErrClaimValuesNotAccepted = errors.New("bearerguard: claim values not accepted")
	// ErrCheckRejected: the route's Policy.Check refused the claims with an
	// error that is not an [*Error].
	ErrCheckRejected = errors.New("bearerguard: route check rejected the claims")
)

// Error is the error returned by a [Validator]. It carries the RFC 6750
// fields of the answer and unwraps to a category sentinel (such as
// [ErrInvalidToken]), a specific sentinel (such as [ErrTokenExpired]) and the
// underlying cause, if any.
type Error struct {
	// Status is the HTTP status code of the answer.
	Status int
	// Code is the RFC 6750 §3.1 error code, empty for [ErrNoToken].
	Code string
	// Description is a fixed, human-readable text in the RFC 6750 character
	// set. It never contains token content or a dependency's error text.
	Description string
	// Scope is the scope attribute of an insufficient_scope challenge.
	Scope string
	// Claim is the claim attribute of an insufficient_claims challenge:
	// the name of the claim whose requirement failed; empty for a refusal
	// by Policy.Check.
	Claim string
	// ClaimValues is the claim_values attribute of an insufficient_claims
	// challenge: every value the failed requirement mentions, once,
	// space-separated, as Scope is for scopes.
	ClaimValues string
	// ACRValues is the acr_values attribute of an
	// insufficient_user_authentication challenge (RFC 9470 §3): the route's
	// acceptable authentication context classes, space-separated; empty if
	// the route requires none.
	ACRValues string
	// MaxAge is the max_age attribute of an insufficient_user_authentication
	// challenge (RFC 9470 §3), sent in whole seconds: the longest time since
	// the user's authentication the route accepts; zero if it sets none.
	MaxAge time.Duration
	// RetryAfter is how long a client should wait before retrying, for
	// [ErrKeysUnavailable]; it becomes the Retry-After header (whole seconds,
	// at least 1).
	RetryAfter time.Duration

	category error
	reason   error
	cause    error
	scheme   schemes     // the schemes of the challenge (set by Check)
	facts    *tokenFacts // for the refusal log (log.go); nil without a Logger
}

// Error returns the specific reason and the cause. It is meant for logs; it
// is never sent to clients.
func (e *Error) Error() string {
	s := e.reason.Error()
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the category sentinel, the specific sentinel and the cause.
func (e *Error) Unwrap() []error {
	errs := []error{e.category, e.reason}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// descriptions are the only texts sent to clients.
var descriptions = map[error]string{
	ErrNoToken:                        "a bearer token is required",
	ErrInvalidRequest:                 "the request is malformed",
	ErrMalformedHeader:                "malformed authorization header",
	ErrMultipleHeaders:                "more than one authorization header",
	ErrMultipleTokens:                 "the token was sent more than once",
	ErrMalformedCredentials:           "malformed credentials",
	ErrFormUnreadable:                 "the form body could not be read",
	ErrTokenTooLarge:                  "the token is too large",
	ErrMalformedToken:                 "the token is malformed",
	ErrUnsupportedAlgorithm:           "the token is signed with an unsupported algorithm",
	ErrUnsupportedCritical:            "the token has an unsupported critical header",
	ErrUnknownKey:                     "the token is signed with an unknown key",
	ErrInvalidSignature:               "the token signature is invalid",
	ErrInvalidIssuer:                  "the token issuer is not trusted",
	ErrInvalidAudience:                "the token audience is not accepted",
	ErrTokenExpired:                   "the token has expired",
	ErrTokenNotYetValid:               "the token is not valid yet",
	ErrNotAccessToken:                 "the token is not an access token",
	ErrSenderConstrained:              "the token is bound to a key and cannot be used as a bearer token",
	ErrUnsupportedConfirmation:        "the token is bound to a key in a way that cannot be checked",
	ErrClaimsRejected:                 "the token claims are not accepted",
	ErrInsufficientScope:              "the token lacks the required scope",
	ErrInsufficientClaims:             "the token claims do not meet the requirements of the resource",
	ErrClaimMissing:                   "the token lacks a claim the resource requires",
	ErrClaimValuesNotAccepted:         "the token lacks a claim value the resource requires",
	ErrCheckRejected:                  "the token is not authorized for the resource",
	ErrInsufficientUserAuthentication: "a different user authentication is required",
	ErrACRNotAccepted:                 "a stronger user authentication is required",
	ErrAuthenticationTooOld:           "a more recent user authentication is required",
	ErrMachineToken:                   "a user authentication is required",
	ErrKeysUnavailable:                "the issuer keys are temporarily unavailable",
	ErrTokenInactive:                  "the token is not active",
	ErrIntrospectionFailed:            "the token cannot be checked now",
	ErrLookupFailed:                   "the token cannot be checked now",
	ErrResolverFailed:                 "the token cannot be checked now",
	ErrResolverBusy:                   "the token cannot be checked now",
	ErrInvalidDPoPProof:               "the DPoP proof is invalid",
	ErrDPoPRequired:                   "a DPoP-bound token and proof are required",
	ErrNotDPoPBound:                   "the token is not bound to a DPoP key",
	ErrCertificateMismatch:            "the token is bound to another client certificate",
	ErrCertificateRequired:            "the token issuer requires a certificate-bound token",
	ErrReplayStoreFailed:              "the DPoP proof cannot be checked now",
	ErrUseDPoPNonce:                   "the DPoP proof must carry the nonce the server provided",
}

func newError(category, reason, cause error) *Error {
	e := &Error{category: category, reason: reason, cause: cause, Description: descriptions[reason]}
	switch category {
	case ErrNoToken:
		e.Status = http.StatusUnauthorized
	case ErrInvalidRequest:
		e.Status, e.Code = http.StatusBadRequest, CodeInvalidRequest
	case ErrInvalidToken:
		e.Status, e.Code = http.StatusUnauthorized, CodeInvalidToken
	case ErrInsufficientScope:
		e.Status, e.Code = http.StatusForbidden, CodeInsufficientScope
	case ErrInsufficientClaims:
		e.Status, e.Code = http.StatusForbidden, CodeInsufficientClaims
	case ErrInsufficientUserAuthentication:
		e.Status, e.Code = http.StatusUnauthorized, CodeInsufficientUserAuthentication
	case ErrInvalidDPoPProof:
		e.Status, e.Code = http.StatusUnauthorized, CodeInvalidDPoPProof
	default:
		e.Status, e.Code = http.StatusServiceUnavailable, CodeUnavailable
	}
	return e
}

// unavailable returns the 503 answer for keys that could not be obtained;
// clients are told to retry after retry, at least a second.
func unavailable(retry time.Duration, cause error) *Error {
	return unavailableFor(ErrKeysUnavailable, retry, cause)
}

// unavailableFor is unavailable with a specific reason, such as
// ErrIntrospectionFailed.
func unavailableFor(reason error, retry time.Duration, cause error) *Error {
	e := newError(ErrKeysUnavailable, reason, cause)
	e.RetryAfter = max(retry, time.Second)
	return e
}

// invalidProof returns the 401 invalid_dpop_proof answer; cause says which
// check failed, for the log.
func invalidProof(cause error) *Error {
	return newError(ErrInvalidDPoPProof, ErrInvalidDPoPProof, cause)
}

func invalidRequest(reason error) *Error { return newError(ErrInvalidRequest, reason, nil) }

func invalidToken(reason, cause error) *Error { return newError(ErrInvalidToken, reason, cause) }

// NewError returns an [Error] for the given category, one of [ErrNoToken],
// [ErrInvalidRequest], [ErrInvalidToken], [ErrInsufficientScope],
// [ErrInsufficientClaims], [ErrInsufficientUserAuthentication] and
// [ErrKeysUnavailable], with a description of the caller's choosing, which
// must not contain secrets or token content. Config.Validate hooks and
// Policy.Check functions use it to answer, for example, 403
// insufficient_scope instead of their default. An unknown category is
// treated as ErrInvalidToken.
func NewError(category error, description string, cause error) *Error {
	switch category {
	case ErrNoToken, ErrInvalidRequest, ErrInvalidToken, ErrInsufficientScope,
		ErrInsufficientClaims, ErrInsufficientUserAuthentication, ErrKeysUnavailable:
	default:
		category = ErrInvalidToken
	}
	reason := category
	if category == ErrInvalidToken {
		reason = ErrClaimsRejected
	}
	e := newError(category, reason, cause)
	if description != "" {
		e.Description = sanitize(description)
	}
	return e
}

// sanitize keeps only the characters RFC 6750 §3 allows in
// error_description: %x20-21 / %x23-5B / %x5D-7E.
func sanitize(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E) {
			b = append(b, c)
		}
	}
	return string(b)
}
