package middleware

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/scopes"
)

// Defaults and limits of [Config]. They are part of the documented behaviour.
const (
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway is the largest Config.Leeway accepted by [New].
	MaxLeeway = 5 * time.Minute
	// DefaultMaxTokenSize is the largest token accepted, in bytes. Larger
	// tokens are refused before any parsing.
	DefaultMaxTokenSize = 16 << 10
	// DefaultRefreshInterval is how often the issuer's JWKS is refreshed.
	DefaultRefreshInterval = 15 * time.Minute
	// DefaultMinRefreshInterval is the least time between the starts of two
	// JWKS fetches of one issuer asked for by tokens with an unknown "kid"
	// (the fetches at start-up, the periodic ones and retries after a
	// failure come on top). A flood of forged kids causes at most one fetch
	// per interval; a key published by a rotation is found within about
	// this long.
	DefaultMinRefreshInterval = time.Second
	// DefaultKeyWait is the longest a request waits for keys: the first
	// fetch after start-up, or a fetch for an unknown kid. A request whose
	// key cannot be fetched within it is answered 503 with Retry-After,
	// never 401: the token may well be valid.
	DefaultKeyWait = 2 * time.Second
	// DefaultFetchTimeout bounds each discovery or JWKS HTTP request.
	DefaultFetchTimeout = 10 * time.Second
	// MaxJWKSSize is the largest JWKS document read, in bytes.
	MaxJWKSSize = 512 << 10
	// MaxDiscoverySize is the largest discovery document read, in bytes.
	MaxDiscoverySize = 256 << 10
	// DefaultTokenCacheSize is the default number of verified tokens kept
	// by the token cache.
	DefaultTokenCacheSize = 4096
	// MaxTokenCacheTTL is the longest a verified token stays cached, even if
	// it expires later.
	MaxTokenCacheTTL = 5 * time.Minute
)

// Limits of token extraction from a form body (Config.AllowFormToken).
const (
	// MaxFormTokenBody is the largest form body read to find a token, in
	// bytes. A larger body without a token in the request's headers is
	// refused with 400 invalid_request ([ErrFormUnreadable]).
	MaxFormTokenBody = 64 << 10
	// DefaultFormTokenTimeout is the default of Config.FormTokenTimeout.
	DefaultFormTokenTimeout = 5 * time.Second
)

// supportedAlgorithms are the JWS algorithms bearerguard can accept: every
// asymmetric algorithm of RFC 7518 §3 and RFC 8037. Config.Algorithms may
// only narrow this list.
var supportedAlgorithms = [...]string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// DefaultAlgorithms returns the algorithm allowlist used when
// Config.Algorithms is empty: every asymmetric JWS algorithm of RFC 7518 and
// RFC 8037. The slice is a new copy on each call.
func DefaultAlgorithms() []string { return append([]string(nil), supportedAlgorithms[:]...) }

// Config configures a [Validator]. The zero value of every optional field is
// the secure choice.
type Config struct {
	// Issuer is the issuer identifier of the authorization server, compared
	// exactly with the "iss" claim and with the "issuer" of its discovery
	// document (mind the trailing slash: Auth0's ends with one).
	// Required, unless ExtraIssuers, Introspection or LookupToken is set
	// (an API whose tokens are all opaque needs no JWT issuer). It must be
	// an https URL, or http on a loopback host. The rules of this Config
	// (Audiences, ClientIDs, Algorithms, ScopeClaims, ACRClaim,
	// RequireAccessTokenType) are its rules, and the defaults of every
	// issuer of ExtraIssuers.
	Issuer string

	// JWKSURL is the URL of the issuer's JWK Set. Optional: by default it is
	// discovered from the issuer's OpenID Connect discovery document, or
	// from its RFC 8414 metadata.
	JWKSURL string

	// ExtraIssuers are further trusted issuers, each with its own rules
	// (see [Issuer]; a rule it leaves unset is this Config's). Optional.
	// Each JWT is routed by its "iss" claim to its own issuer, and judged
	// only by that issuer's keys and rules: one issuer's keys never verify
	// another issuer's tokens, and an audience trusted for one issuer is
	// not trusted for another that has its own.
	ExtraIssuers []Issuer

	// Audiences are the identifiers of this API. A token is accepted if any
	// of its "aud" values is one of them (RFC 7519 §4.1.3, RFC 9068 §4).
	// Required, unless ClientIDs is set.
	Audiences []string

	// Resource is the resource identifier of this API (RFC 8707 §2, RFC
	// 9728 §1.2), such as "https://api.example.com" or
	// "https://api.example.com/mcp": the "resource" of its protected
	// resource metadata ([Validator.ResourceMetadataHandler]). Optional.
	// When set, it must be an https URL without fragment (http only on a
	// loopback host) and one of Audiences, since it is what clients ask
	// tokens for; and every WWW-Authenticate challenge then carries
	// resource_metadata with the URL of the metadata (RFC 9728 §5.1).
	// When empty, no metadata is served and challenges are as before.
	Resource string

	// ResourceMetadata holds the members of the protected resource metadata
	// (RFC 9728 §2) that cannot be derived from the rest of this Config.
	// Optional; used only with Resource.
	ResourceMetadata ResourceMetadata

	// ClientIDs, if set, restricts the clients whose tokens are accepted
	// (the client id of [claims.Claims]). Optional. It is the audience
	// check for issuers whose access tokens carry no "aud" claim, such as
	// Amazon Cognito; with both fields set, both checks apply.
	ClientIDs []string

	// Algorithms is the allowlist of JWS algorithms. Optional, default
	// [DefaultAlgorithms]() (every asymmetric algorithm). Only asymmetric algorithms are accepted: "none"
	// and HS256/384/512 are refused by [New].
	Algorithms []string

	// Leeway is the clock skew tolerated when checking exp, nbf and iat.
	// Optional, default [DefaultLeeway]; at most [MaxLeeway]. A negative
	// value means no leeway.
	Leeway time.Duration

	// RequireAccessTokenType makes the validator accept only tokens whose
	// "typ" header is "at+jwt" (RFC 9068 §2.1). Optional, default false:
	// tokens typed "JWT" or untyped, as issued by Auth0, Entra ID, Okta,
	// Keycloak and Cognito, are accepted unless they carry ID-token claims.
	RequireAccessTokenType bool

	// ScopeClaims are the claims the granted scopes are read from, all of
	// them merged. A claim holds a space-delimited string or an array of
	// strings. A name that is not a top-level claim is read as a dotted path
	// into nested objects, such as "realm_access.roles" (Keycloak).
	// Optional, default ["scope", "scp"]. Auth0 RBAC uses "permissions",
	// Entra ID application roles "roles".
	ScopeClaims []string

	// ACRClaim is the claim a route's Policy.ACRValues are compared with
	// (RFC 9470): a string, or an array of strings any element of which
	// may match; a name that is not a top-level claim is read as a dotted
	// path, as ScopeClaims. Optional, default "acr" (OpenID Connect Core
	// §2, RFC 9068 §2.2.1). Entra ID puts authentication contexts in
	// "acrs", an array.
	ACRClaim string

	// AllowQueryToken accepts a token in the "access_token" URI query
	// parameter (RFC 6750 §2.3). Optional, default false: such tokens end up
	// in logs and browser history.
	AllowQueryToken bool

	// AllowFormToken accepts a token in an "access_token" field of a
	// form-encoded POST, PUT or PATCH body (RFC 6750 §2.2). Optional,
	// default false. The body is read only for requests that carry no
	// token in their headers (Authorization, TokenCookie) or from
	// TokenFunc: a request with a header token is decided without its
	// body, which the handler gets untouched (an access_token field in it
	// is then not looked at: handlers take the token's claims from the
	// context, never the form). Otherwise at most [MaxFormTokenBody] bytes
	// are read, within FormTokenTimeout, and given back to the handler; a
	// larger, slower or unreadable body is refused with 400 invalid_request
	// ([ErrFormUnreadable]). A form the application already parsed
	// (r.PostForm set, as Gin's c.PostForm does) is read from r.PostForm.
	AllowFormToken bool

	// FormTokenTimeout bounds the time spent receiving a body searched for
	// a form token (AllowFormToken), so that a client sending its body
	// slowly cannot hold the request; the request's context bounds it too.
	// Optional, default [DefaultFormTokenTimeout]. Set the http.Server's
	// ReadTimeout as well: the connection is held until the read ends.
	FormTokenTimeout time.Duration

	// TokenCookie names a cookie that may carry the token, for browser
	// apps that keep the access token in an HttpOnly cookie. Optional,
	// default "": cookies are not read. The cookie is read as r.Cookie
	// reads it; its value must be a token68, or the request is refused
	// with 400 invalid_request ([ErrMalformedCredentials]). The cookie sent
	// twice, or together with another token (an Authorization header, the
	// query, TokenFunc), is refused as a token sent twice
	// ([ErrMultipleTokens]). It must be a valid cookie name (RFC 6265
	// §4.1.1). A cookie is sent by the browser on cross-site requests its
	// SameSite attribute allows: see SECURITY.md.
	TokenCookie string

	// TokenFunc, if set, is asked for the token of every request, in
	// addition to the Authorization header and the other sources set
	// here: it returns "" and nil when it finds none. Optional, default
	// nil. Its token must be a token68 and is subject to the same rules as
	// the others: found together with another one, it is refused as a
	// token sent twice, so it must not read the "Authorization: Bearer"
	// header itself. An [*Error] it returns (see [NewError]) is answered as
	// it is; any other error is 400 invalid_request
	// ([ErrMalformedCredentials]), its text logged, never sent.
	TokenFunc func(r *http.Request) (string, error)

	// AllowUnauthenticatedPreflight lets CORS preflight requests through
	// without a token, as auth0/go-jwt-middleware's
	// WithValidateOnOptions(false) does: an OPTIONS request with Origin and
	// Access-Control-Request-Method headers reaches the next handler
	// (normally a CORS handler) without claims, whatever its headers; no
	// token in it is looked at. Other OPTIONS requests are checked as
	// usual. Optional, default false: preflights are checked like any
	// request, and get 401 since browsers send no credentials with them.
	// Leave it off when CORS is answered before the guard runs.
	AllowUnauthenticatedPreflight bool

	// MaxTokenSize is the largest token accepted, in bytes. Optional,
	// default [DefaultMaxTokenSize].
	MaxTokenSize int

	// Validate is called with the claims of every token that passed all
	// other checks. Optional. A non-nil error refuses the token: an [*Error]
	// (see [NewError]) is answered as it is, any other error as 401
	// invalid_token matching [ErrClaimsRejected]. The error text is logged,
	// never sent to the client.
	Validate func(ctx context.Context, c *claims.Claims) error

	// Realm is the realm attribute of the WWW-Authenticate challenge.
	// Optional; no realm attribute if empty.
	Realm string

	// ErrorHandler writes the body of the answer to a refused request in
	// the net/http middleware. Optional, default [Validator.WriteError]:
	// RFC 6750 headers and a small JSON body. Before it runs, the headers
	// of [Validator.SetHeaders] (WWW-Authenticate, Cache-Control: no-store,
	// Retry-After for 503) are set and the status is e.Status: a handler
	// that writes only a body, or nothing, answers with the refusal's
	// status. It may still change a header, or call WriteHeader with
	// another status. The framework adapters use their framework's own
	// error path instead.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err *Error)

	// Logger receives one record per refused request, at RefusalLogLevel,
	// and JWKS or discovery failures, at warn level. Optional, default: no
	// logging. A refusal record says which check refused the request
	// ("check": parse, header, type, issuer, key, signature, times,
	// binding, audience, claims, validate, user_authentication, scope, ...),
	// the error, and the non-secret facts found and expected: the token's
	// alg, kid, typ, iss, aud, exp, nbf, iat and client id (group
	// "token"), now and the leeway, what the check wanted (group "want":
	// the audiences, trusted issuers, allowed algorithms or required
	// scope), and, when a route's requirement refused a valid token, the
	// scopes granted and which ScopeClaims were present or absent. It never
	// receives the token, its signature, or the value of any other claim.
	Logger *slog.Logger

	// RefusalLogLevel is the level of the refusal records of Logger.
	// Optional, default slog.LevelDebug, so that a logger at Info (such as
	// slog.Default()) shows them only when asked: set slog.LevelInfo to
	// see them there. A slog.Leveler, so that the zero value is the
	// default and a slog.LevelVar can change it while running.
	RefusalLogLevel slog.Leveler

	// HTTPClient fetches discovery documents and JWK Sets. Optional,
	// default a client with [DefaultFetchTimeout]. bearerguard uses a copy
	// that refuses redirects to another origin.
	HTTPClient *http.Client

	// RefreshInterval is how often the JWKS is fetched again. Optional,
	// default [DefaultRefreshInterval].
	RefreshInterval time.Duration

	// MinRefreshInterval is the least time between the starts of two JWKS
	// fetches of one issuer asked for by tokens with an unknown key id (the
	// fetches at start-up, the periodic ones and retries come on top).
	// Optional, default
	// [DefaultMinRefreshInterval]. Fetches asked for by unknown key ids
	// space out further while they find no new key (up to
	// [MaxKeyFetchBackoff] times). A request with an unknown key id waits
	// (within KeyWait) only for a fetch that may start at once or is in
	// flight for its key id; otherwise it is answered 503 with Retry-After
	// at once.
	MinRefreshInterval time.Duration

	// KeyWait is the longest a request waits for keys being fetched.
	// Optional, default [DefaultKeyWait]. It is also bounded by the
	// request's context.
	KeyWait time.Duration

	// TokenCacheSize is the number of verified tokens remembered so that a
	// token presented again (machine clients reuse one token for its whole
	// lifetime) skips signature verification. Optional, default
	// [DefaultTokenCacheSize]; a negative value turns the cache off. Only
	// the identical token string hits; an entry lives at most until the
	// token's exp and at most [MaxTokenCacheTTL], and an entry counts only
	// while its issuer still holds the very key that verified it (not
	// removed, not replaced under the same kid). exp, nbf, scopes and
	// Validate are checked on every request, hit or not, and each request
	// gets its own copy of the claims.
	TokenCacheSize int

	// Introspection configures RFC 7662 introspection of opaque access
	// tokens. Optional; nil is off: a token that is not a compact JWS is
	// refused as malformed (401). When set, a token that is not a compact
	// JWS is sent to the introspection endpoint of one trusted issuer
	// (Introspection.Issuer, default Issuer), and its answer is held to the
	// rules of JWT access tokens wherever it has the member (see
	// [Introspection]). Compact JWS tokens are verified as JWTs, as
	// without it. It cannot be set together with LookupToken. Issuers of
	// ExtraIssuers may have their own (Issuer.Introspection).
	Introspection *Introspection

	// LookupToken looks an opaque token up in the application's own store,
	// as Authlib's BearerTokenValidator.authenticate_token does. Optional,
	// default nil. It is called for every token that is not a compact JWS
	// (its results are not cached: the store is the application's), and
	// the claims it returns go through the same rules as introspected ones:
	// a non-empty Issuer must be a trusted issuer, ExpiresAt, NotBefore and
	// IssuedAt hold with the Leeway where set, a "cnf" in Payload binds
	// the token as a JWT's does (refused as a bearer token; refused however
	// it is presented if bound in a way that cannot be checked, see
	// [ErrUnsupportedConfirmation]), Audiences and ClientIDs apply as for
	// JWTs, then Validate. Its errors: an [*Error] (see [NewError]) is
	// answered as it is; one matching [ErrInvalidToken] (such as a token
	// not found or revoked) is 401 invalid_token; any other error (the
	// store is down) is 503 with Retry-After, its text logged, never sent.
	// It returns nil claims and nil error for a token it does not know,
	// answered 401 [ErrTokenInactive]. It cannot be set together with
	// Introspection.
	LookupToken func(ctx context.Context, token string) (*claims.Claims, error)

	// ResolveIssuer adds issuers at run time, for APIs that onboard
	// tenants (a realm or an Auth0 tenant per customer): it is asked for
	// the settings of the issuer a JWT names when no configured issuer or
	// template matches, and returns them (as an ExtraIssuers entry: its
	// rules, JWKSURL or discovery from the issuer; Issuer may be left
	// empty), or nil to refuse (401 [ErrInvalidIssuer], remembered for
	// [ResolverRefusalTTL]). An error is 503 ([ErrResolverFailed]) unless
	// it is an [*Error]. Optional. Only "iss" values that are https URLs
	// (http on loopback) of at most 1 KiB are asked about, at most
	// [MaxResolutionsPerSecond] times a second; no URL derived from a token
	// is fetched unless the resolver returned settings for it. The issuers
	// returned are held, at most MaxResolvedIssuers of them (the least
	// recently used evicted, its refresh stopped), their keys fetched at
	// their first token; [Validator.ForgetIssuer] drops one. It is called
	// from requests: it must be safe for concurrent use, and ctx bounds it.
	ResolveIssuer func(ctx context.Context, iss string) (*Issuer, error)

	// MaxResolvedIssuers bounds the issuers of ResolveIssuer held at once.
	// Optional, default [DefaultMaxResolvedIssuers].
	MaxResolvedIssuers int

	// OpaqueTokenIssuer picks the issuer whose source (Introspection or
	// LookupToken) an opaque token goes to, when several issuers have one:
	// it returns that issuer's identifier, or "" when the token is none of
	// theirs (refused as malformed, 401). Optional; by default a token goes
	// to the source whose Issuer.OpaqueTokenPrefix it begins with, else to
	// the one source without a prefix. A token is never sent to more than
	// one source: that would hand one issuer's tokens to another.
	OpaqueTokenIssuer func(token string) string

	// DPoP configures DPoP-bound tokens (RFC 9449): "Authorization: DPoP"
	// with a proof of possession of the token's key in a "DPoP" header.
	// Optional; the zero value is off: the DPoP scheme counts as no token
	// and a DPoP-bound token sent as Bearer is refused. Policy.DPoP
	// overrides the mode per route.
	DPoP DPoP

	// MTLS configures certificate-bound tokens (RFC 8705 §3): a token whose
	// "cnf" has "x5t#S256" is accepted only from a client that presented
	// that certificate. Optional; by default only the certificate of the
	// request's own TLS connection (r.TLS.PeerCertificates[0]) counts.
	MTLS MTLS

	// Observer receives what the validator does, as events: requests
	// accepted and refused, key fetches, introspection calls and cache
	// hits, DPoP replay checks (see [Observer]; package otelguard turns
	// them into OpenTelemetry metrics). Optional; the zero value observes
	// nothing and costs nothing.
	Observer Observer

	// Now returns the current time, for tests. Optional, default time.Now.
	Now func() time.Time

	// InsecureAllowHTTPIssuer allows an http issuer, JWKS URL or discovered
	// jwks_uri on a host other than loopback. Optional, default false.
	// Tokens and keys then travel unprotected: anyone on the network path
	// can substitute keys and forge tokens.
	InsecureAllowHTTPIssuer bool
}

// DPoPMode says which authorization schemes a route accepts (RFC 9449 §7).
type DPoPMode int

const (
	// DPoPDefault is the zero value. In a [Policy] it means the route
	// takes Config.DPoP.Mode; as Config.DPoP.Mode it means [DPoPOff].
	DPoPDefault DPoPMode = iota
	// DPoPOff accepts Bearer only, as without DPoP support: the DPoP
	// scheme counts as no token.
	DPoPOff
	// DPoPAllowed accepts unbound tokens as Bearer and DPoP-bound tokens
	// with the DPoP scheme and a valid proof. A DPoP-bound token is never
	// accepted as Bearer.
	DPoPAllowed
	// DPoPRequired accepts only DPoP-bound tokens with the DPoP scheme and
	// a valid proof; a Bearer request is refused with 401 invalid_token
	// ([ErrDPoPRequired]).
	DPoPRequired
)

// Defaults and limits of DPoP proofs.
const (
	// DefaultDPoPProofLifetime is the default of DPoP.ProofLifetime: a
	// minute, as Duende IdentityServer's default, within the "seconds or
	// minutes" of RFC 9449 §11.1; see SECURITY.md.
	DefaultDPoPProofLifetime = time.Minute
	// MaxDPoPProofSize is the largest DPoP header accepted, in bytes.
	MaxDPoPProofSize = 8 << 10
	// DefaultReplayRate is the rate of DPoP requests, per second and
	// process, the default in-memory ReplayStore is sized for: it remembers
	// that many proof identifiers per second for as long as a proof is
	// accepted (ProofLifetime and twice Config.Leeway; with NonceSecrets,
	// at most two DPoPNonceStep and twice the leeway), one DPoP key at most
	// a sixteenth of them ([ErrReplayKeyLimit]).
	DefaultReplayRate = 10_000
	// DefaultReplayBytes bounds the memory of the default in-memory
	// ReplayStore's tables, 8 bytes an entry. When it cannot remember one
	// more proof identifier, requests with new proofs are refused with 503
	// ([ErrReplayStoreFailed]) rather than forget an identifier early.
	// With the defaults, DefaultReplayRate fills at most about half of it.
	DefaultReplayBytes = 64 << 20
)

// DPoP configures DPoP (RFC 9449), see Config.DPoP.
type DPoP struct {
	// Mode is the default of every route: [DPoPOff] (the zero value,
	// [DPoPDefault], means off), [DPoPAllowed] or [DPoPRequired].
	// Policy.DPoP overrides it per route.
	Mode DPoPMode

	// Algorithms are the JWS algorithms a proof may be signed with, sent
	// in the algs attribute of the DPoP challenge. Optional, default
	// [DefaultAlgorithms](); only asymmetric algorithms are accepted.
	Algorithms []string

	// ProofLifetime is how long a proof is accepted after its "iat"
	// (RFC 9449 §11.1), plus Config.Leeway either side. Optional, default
	// [DefaultDPoPProofLifetime]. Proof identifiers are remembered as long
	// as their proof could be accepted: until iat + ProofLifetime +
	// leeway, or with NonceSecrets until the proof's nonce expires if that
	// is sooner.
	ProofLifetime time.Duration

	// ReplayStore remembers proof identifiers so that a proof is accepted
	// once. Optional, default an in-memory store sized for
	// [DefaultReplayRate] and bounded by [DefaultReplayBytes], whose
	// entries expire: it protects one process only. With several replicas, share one store
	// (such as the Redis store of module
	// github.com/bearerguard/bearerguard/replay/redisstore).
	ReplayStore ReplayStore

	// Nonces turns on server nonces (RFC 9449 §9) for one process: New
	// draws a secret from crypto/rand, held in memory only. Optional,
	// default false. Replicas behind one load balancer do not accept the
	// nonces of the others (a client would be asked for a nonce again and
	// again): give them NonceSecrets instead, the same on each. With
	// NonceSecrets set, Nonces changes nothing.
	Nonces bool

	// NonceSecrets turn on server nonces (RFC 9449 §9) with secrets shared
	// by every replica. Optional; default none: proofs need no nonce
	// (unless Nonces is set). With secrets, a DPoP request whose proof
	// lacks a valid "nonce" claim is refused with 401 use_dpop_nonce
	// ([ErrUseDPoPNonce]) and a fresh nonce in a DPoP-Nonce header. Nonces
	// are stateless, minted with the first secret and accepted with any,
	// for [DPoPNonceStep] to twice that: give every replica the same
	// secrets, and rotate by putting a new secret first, dropping the old
	// one a few minutes later. Each secret must be random and at least
	// [MinDPoPNonceSecretSize] bytes (New refuses a shorter one, or one
	// whose bytes are all the same, such as a buffer never filled), for
	// example 32 bytes of crypto/rand kept in a secret store and
	// base64-decoded at start-up. A proof with a nonce near its end
	// is accepted and answered with a fresh DPoP-Nonce
	// ([Validator.SetSuccessHeaders]).
	NonceSecrets [][]byte

	// PublicBaseURL is the scheme and host clients use to reach this API,
	// such as "https://api.example.com", for the "htu" check behind a proxy
	// that changes them. Optional, default: the scheme of the request's
	// connection (https with r.TLS, else http) and r.Host. Forwarded
	// headers are never read. It must be an http or https URL without
	// path, query or fragment: the path is always that of the
	// request-target as received (r.RequestURI), whatever the routing
	// makes of r.URL (http.StripPrefix, a rewriting middleware).
	PublicBaseURL string
}

// ReplayStore remembers proof identifiers (RFC 9449 §11.1) across replicas.
// Implementations must be safe for concurrent use.
type ReplayStore interface {
	// Add records key until until; it reports false if key was already
	// recorded and not expired. An error refuses the request with 503
	// (fail closed). The key is the RFC 7638 SHA-256 thumbprint of the
	// proof key (base64url), ".", and base64url(SHA-256(jti)): a store
	// can bound what one DPoP key holds by the part before the ".", as the
	// in-memory default does ([ErrReplayKeyLimit]). An error matching
	// ErrReplayKeyLimit is answered as such, still with 503. An error with
	// a method RetryAfter() time.Duration (in its chain, as errors.As
	// finds it) sets the answer's Retry-After, rounded up to whole
	// seconds, at least one; else it is one second.
	Add(ctx context.Context, key string, until time.Time) (added bool, err error)
}

// MTLS configures certificate-bound tokens (RFC 8705), see Config.MTLS.
type MTLS struct {
	// CertificateHeader names a header a TLS-terminating proxy puts the
	// client certificate in. Optional, default "": only
	// r.TLS.PeerCertificates[0] counts. When set, only the header counts:
	// the proxy must remove the header from what clients send.
	CertificateHeader string
	// CertificateHeaderFormat is the format of CertificateHeader:
	// "pem-urlencoded" (nginx $ssl_client_escaped_cert) or "xfcc" (Envoy
	// X-Forwarded-Client-Cert, its Hash= or Cert=; one element only).
	// Required with CertificateHeader.
	CertificateHeaderFormat string
}

// ResourceMetadata are the optional members of the protected resource
// metadata document (RFC 9728 §2) that bearerguard cannot derive. The
// other members come from [Config]: "resource" from Resource,
// "authorization_servers" from Issuer and ExtraIssuers,
// "bearer_methods_supported" from AllowQueryToken and AllowFormToken.
type ResourceMetadata struct {
	// ScopesSupported is "scopes_supported": the scopes clients may
	// request for this API. Optional; the member is omitted when empty
	// (it is not collected from the routes). Each must be a valid scope
	// token (RFC 6749 §3.3).
	ScopesSupported []string
	// ResourceName is "resource_name", a human-readable name of the API.
	// Optional.
	ResourceName string
	// ResourceDocumentation is "resource_documentation", the URL of
	// documentation for developers. Optional; an absolute http(s) URL.
	ResourceDocumentation string
	// ResourcePolicyURI is "resource_policy_uri", the URL of the policy on
	// how client data is used. Optional; an absolute http(s) URL.
	ResourcePolicyURI string
	// ResourceTOSURI is "resource_tos_uri", the URL of the terms of
	// service. Optional; an absolute http(s) URL.
	ResourceTOSURI string
}

// Introspection configures RFC 7662 token introspection, see
// Config.Introspection. An introspection answer is held to the rules of JWT
// access tokens wherever it has the member: "active" must be true (else 401
// [ErrTokenInactive]); "iss", if present ("" or null too), must equal
// Issuer exactly; "aud" is checked
// by Audience; "exp", "nbf" and "iat" with Config.Leeway; "token_type", if
// present, must name an access token ("access_token" or "Bearer", in any
// case, or "DPoP" for a token whose "cnf" has "jkt", RFC 9449 §6.2); a "cnf" binds the token as a JWT's does; Config.ClientIDs
// applies to "client_id". Scopes come from Config.ScopeClaims ("scope" by
// default) and the whole answer is the claims' Payload, for Decode and
// Lookup. Member names must be unique and exact in case: a member whose
// name differs only in case from one read ("ACTIVE", "Token_Type", "ISS")
// refuses the token as malformed.
//
// An endpoint that cannot be reached, answers late (Timeout), with a
// status other than 200 or with anything but a JSON object with a boolean
// "active" makes the request 503 with Retry-After, never 401 and never an
// accept. A 401 or 403 from the endpoint (our client credentials are
// wrong) is a 503 too, and is logged at warn level, at most once a minute.
type Introspection struct {
	// Issuer is the trusted issuer whose tokens are introspected: the
	// answers' "iss", when present, must equal it. In Config.Introspection:
	// Config.Issuer or one of Config.ExtraIssuers, default Config.Issuer;
	// without Config.Issuer it is required, and names an issuer trusted
	// for opaque tokens only. In Issuer.Introspection: that issuer,
	// optional.
	Issuer string

	// Endpoint is the URL of the introspection endpoint. Optional, default
	// the "introspection_endpoint" of the issuer's discovery document
	// (OpenID Connect Discovery 1.0, RFC 8414 §2), fetched at the first
	// opaque token. It must be https (http on a loopback host, or with
	// Config.InsecureAllowHTTPIssuer).
	Endpoint string

	// ClientID is the client identifier this API authenticates with at
	// the endpoint (RFC 7662 §2.1). Required.
	ClientID string

	// ClientSecret is the client secret, for client_secret_basic and
	// client_secret_post. Required for those methods.
	ClientSecret string

	// AuthMethod is how the client authenticates (RFC 6749 §2.3.1, RFC
	// 7523 §2.2): "client_secret_basic" (HTTP Basic, id and secret
	// form-urlencoded first), "client_secret_post" (in the form body) or
	// "private_key_jwt" (a client assertion signed with PrivateKey).
	// Optional, default "client_secret_basic".
	AuthMethod string

	// PrivateKey signs the client assertion of private_key_jwt (RFC 7523
	// §3): iss and sub the ClientID, aud the Endpoint, a fresh jti, exp a
	// minute ahead. An RSA key signs with RS256, an ECDSA key with ES256,
	// ES384 or ES512 by its curve, an Ed25519 key with EdDSA. Required for
	// private_key_jwt.
	PrivateKey crypto.Signer

	// KeyID is the "kid" of the client assertion's header. Optional.
	KeyID string

	// Audience is how the answer's "aud" is checked. Optional; the zero
	// value, [AudienceRequired], requires one of Config.Audiences.
	Audience AudienceRule

	// CacheTTL is the longest an answer is remembered. Optional, default 0:
	// every request asks the endpoint (concurrent requests with one token
	// still share one call). A positive value caches an active answer
	// until the token's "exp", at most CacheTTL, and an inactive or
	// refused one for at most [IntrospectionNegativeTTL] (and CacheTTL):
	// a token revoked at the issuer may be accepted until its entry
	// expires. The cache holds at most Config.TokenCacheSize entries (a
	// negative TokenCacheSize turns it off) and [MaxTokenCacheBytes]
	// bytes, and keeps a SHA-256 hash of the endpoint and the token, never
	// the token.
	CacheTTL time.Duration

	// Timeout bounds one introspection call, and the discovery of the
	// endpoint. Optional, default [DefaultIntrospectionTimeout]. A request
	// waits at most this long, and as long as its context allows.
	Timeout time.Duration
}

// AudienceRule says how the "aud" of an introspection answer is checked,
// see Introspection.Audience. Issuers differ: oidc-provider (Logto) omits
// "aud" when no resource was asked for, Authlib's documented example
// answers the client id, Keycloak the audience mapper's values. A token
// without an audience naming this API may be meant for another service,
// so the zero value requires it.
type AudienceRule int

const (
	// AudienceRequired, the zero value, requires one "aud" value to be one
	// of Config.Audiences, as for JWTs (with ClientIDs and no Audiences,
	// the client check stands in for it, as for JWTs).
	AudienceRequired AudienceRule = iota

	// AudienceClientID also accepts an answer whose "aud" or "client_id"
	// is one of Config.ClientIDs, for issuers such as Authlib's documented
	// introspection endpoint that answer with the client id as audience.
	// It requires Config.ClientIDs. Any token issued to those clients is
	// then accepted, whatever API it was meant for.
	AudienceClientID

	// AudienceAbsentOK accepts an answer without "aud" at all, for issuers
	// that omit it (oidc-provider and Logto without a resource
	// indicator); an "aud" that is present must still name one of
	// Config.Audiences. Any active token of the issuer without audience is
	// then accepted, including those meant for its userinfo endpoint.
	AudienceAbsentOK
)

// String returns the rule's name, such as "AudienceRequired".
func (r AudienceRule) String() string {
	switch r {
	case AudienceRequired:
		return "AudienceRequired"
	case AudienceClientID:
		return "AudienceClientID"
	case AudienceAbsentOK:
		return "AudienceAbsentOK"
	}
	return "AudienceRule(" + strconv.Itoa(int(r)) + ")"
}

// The client authentication methods of Introspection.AuthMethod.
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
)

// Defaults and limits of introspection (Config.Introspection).
const (
	// DefaultIntrospectionTimeout is the default of Introspection.Timeout.
	DefaultIntrospectionTimeout = 5 * time.Second
	// IntrospectionNegativeTTL is the longest an inactive or refused
	// introspection answer is cached (and at most Introspection.CacheTTL).
	IntrospectionNegativeTTL = 10 * time.Second
	// MaxIntrospectionSize is the largest introspection answer read, in
	// bytes; a larger one is a failed call (503).
	MaxIntrospectionSize = 64 << 10
)

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// The accessors below apply the defaults where a setting is used, so that
// each setting has one name: the Config field.

func (c *Config) leeway() time.Duration {
	switch {
	case c.Leeway < 0:
		return 0
	case c.Leeway == 0:
		return DefaultLeeway
	}
	return c.Leeway
}

func (c *Config) maxTokenSize() int {
	if c.MaxTokenSize <= 0 {
		return DefaultMaxTokenSize
	}
	return c.MaxTokenSize
}

var defaultScopeClaims = []string{"scope", "scp"}

func (c *Config) scopeClaims() []string {
	if len(c.ScopeClaims) == 0 {
		return defaultScopeClaims
	}
	return c.ScopeClaims
}

func (c *Config) acrClaim() string {
	if c.ACRClaim == "" {
		return "acr"
	}
	return c.ACRClaim
}

func (c *Config) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Config) refreshInterval() time.Duration {
	if c.RefreshInterval <= 0 {
		return DefaultRefreshInterval
	}
	return c.RefreshInterval
}

func (c *Config) minRefreshInterval() time.Duration {
	if c.MinRefreshInterval <= 0 {
		return DefaultMinRefreshInterval
	}
	return c.MinRefreshInterval
}

func (c *Config) keyWait() time.Duration {
	if c.KeyWait <= 0 {
		return DefaultKeyWait
	}
	return c.KeyWait
}

func (c *Config) formTokenTimeout() time.Duration {
	if c.FormTokenTimeout <= 0 {
		return DefaultFormTokenTimeout
	}
	return c.FormTokenTimeout
}

func (c *Config) tokenCacheSize() int {
	if c.TokenCacheSize == 0 {
		return DefaultTokenCacheSize
	}
	return max(c.TokenCacheSize, 0)
}

func (in *Introspection) issuer(c *Config) string {
	if in.Issuer == "" {
		return c.Issuer
	}
	return in.Issuer
}

func (in *Introspection) authMethod() string {
	if in.AuthMethod == "" {
		return AuthClientSecretBasic
	}
	return in.AuthMethod
}

func (in *Introspection) timeout() time.Duration {
	if in.Timeout <= 0 {
		return DefaultIntrospectionTimeout
	}
	return in.Timeout
}

// negativeTTL is the lifetime of a cached inactive or refused answer.
func (in *Introspection) negativeTTL() time.Duration {
	return min(in.CacheTTL, IntrospectionNegativeTTL)
}

// check checks an issuer's introspection settings; clientIDs are the
// issuer's ClientIDs.
func (in *Introspection) check(clientIDs []string, insecure bool) error {
	if in.ClientID == "" {
		return configError("Introspection.ClientID is required")
	}
	if in.Endpoint != "" {
		if err := checkURL(in.Endpoint, insecure); err != nil {
			return configError("Introspection.Endpoint %q: %v", in.Endpoint, err)
		}
	}
	switch in.authMethod() {
	case AuthClientSecretBasic, AuthClientSecretPost:
		if in.ClientSecret == "" {
			return configError("Introspection.ClientSecret is required for %s", in.authMethod())
		}
		if in.PrivateKey != nil {
			return configError("Introspection.PrivateKey is set, but AuthMethod is %s", in.authMethod())
		}
	case AuthPrivateKeyJWT:
		if in.PrivateKey == nil {
			return configError("Introspection.PrivateKey is required for private_key_jwt")
		}
		if _, err := assertionAlg(in.PrivateKey); err != nil {
			return configError("Introspection.PrivateKey: %v", err)
		}
		if in.ClientSecret != "" {
			return configError("Introspection.ClientSecret is set, but AuthMethod is private_key_jwt")
		}
	default:
		return configError("Introspection.AuthMethod %q is not client_secret_basic, client_secret_post or private_key_jwt", in.AuthMethod)
	}
	switch in.Audience {
	case AudienceRequired, AudienceAbsentOK:
	case AudienceClientID:
		if len(clientIDs) == 0 {
			return configError("Introspection.Audience AudienceClientID requires ClientIDs")
		}
	default:
		return configError("Introspection.Audience %v is not a known rule", in.Audience)
	}
	if in.CacheTTL < 0 {
		return configError("Introspection.CacheTTL is negative")
	}
	return nil
}

// check reports the first missing or contradictory setting of c, and
// returns every trusted issuer with its settings (see trustedIssuers).
func (c *Config) check() (issuers []Issuer, err error) {
	if contains(c.Audiences, "") {
		return nil, configError("empty audience")
	}
	if contains(c.ClientIDs, "") {
		return nil, configError("empty client id")
	}
	if c.Leeway > MaxLeeway {
		return nil, configError("Leeway %v exceeds %v", c.Leeway, MaxLeeway)
	}
	if contains(c.ScopeClaims, "") {
		return nil, configError("empty scope claim name")
	}
	if c.TokenCookie != "" && !isToken(c.TokenCookie) {
		return nil, configError("TokenCookie %q is not a cookie name", c.TokenCookie)
	}
	if err := c.checkResource(); err != nil {
		return nil, err
	}
	if err := c.checkDPoP(); err != nil {
		return nil, err
	}
	if err := c.checkMTLS(); err != nil {
		return nil, err
	}
	for _, a := range c.Algorithms {
		if !contains(supportedAlgorithms[:], a) {
			return nil, configError("algorithm %q is not an allowed asymmetric JWS algorithm", a)
		}
	}
	if issuers, err = c.trustedIssuers(); err != nil {
		return nil, err
	}
	if err := c.checkIssuers(issuers); err != nil {
		return nil, err
	}
	return issuers, nil
}

// checkDPoP checks DPoP.
func (c *Config) checkDPoP() error {
	d := &c.DPoP
	if d.Mode < DPoPDefault || d.Mode > DPoPRequired {
		return configError("DPoP.Mode %d is not a known mode", d.Mode)
	}
	for _, a := range d.Algorithms {
		if !contains(supportedAlgorithms[:], a) {
			return configError("DPoP.Algorithms: %q is not an allowed asymmetric JWS algorithm", a)
		}
	}
	if d.ProofLifetime < 0 {
		return configError("DPoP.ProofLifetime is negative")
	}
	for i, s := range d.NonceSecrets {
		if len(s) < MinDPoPNonceSecretSize {
			return configError("DPoP.NonceSecrets[%d]: shorter than %d bytes", i, MinDPoPNonceSecretSize)
		}
		if uniformSecret(s) {
			return configError("DPoP.NonceSecrets[%d]: every byte is the same: not a random secret", i)
		}
	}
	if d.PublicBaseURL != "" {
		u, err := url.Parse(d.PublicBaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return configError("DPoP.PublicBaseURL %q: must be an http or https URL without path, query or fragment", d.PublicBaseURL)
		}
	}
	return nil
}

// dpopAlgorithms returns DPoP.Algorithms or its default.
func (c *Config) dpopAlgorithms() []string {
	if len(c.DPoP.Algorithms) > 0 {
		return c.DPoP.Algorithms
	}
	return supportedAlgorithms[:]
}

// proofLifetime returns DPoP.ProofLifetime or its default.
func (c *Config) proofLifetime() time.Duration {
	if c.DPoP.ProofLifetime > 0 {
		return c.DPoP.ProofLifetime
	}
	return DefaultDPoPProofLifetime
}

// checkMTLS checks MTLS.
func (c *Config) checkMTLS() error {
	m := &c.MTLS
	if m.CertificateHeader == "" {
		if m.CertificateHeaderFormat != "" {
			return configError("MTLS.CertificateHeaderFormat is set without CertificateHeader")
		}
		return nil
	}
	if !isToken(m.CertificateHeader) {
		return configError("MTLS.CertificateHeader %q is not a header name", m.CertificateHeader)
	}
	switch m.CertificateHeaderFormat {
	case certPEMURLEncoded, certXFCC:
		return nil
	}
	return configError("MTLS.CertificateHeaderFormat %q is not pem-urlencoded or xfcc", m.CertificateHeaderFormat)
}

// checkResource checks Resource and ResourceMetadata (RFC 9728 §2, RFC
// 8707 §2).
func (c *Config) checkResource() error {
	m := &c.ResourceMetadata
	if c.Resource == "" {
		if len(m.ScopesSupported) > 0 || m.ResourceName != "" || m.ResourceDocumentation != "" ||
			m.ResourcePolicyURI != "" || m.ResourceTOSURI != "" {
			return configError("ResourceMetadata is set without Resource")
		}
		return nil
	}
	if err := checkURL(c.Resource, false); err != nil {
		return configError("Resource %q: %v", c.Resource, err)
	}
	if !contains(c.Audiences, c.Resource) {
		return configError("Resource %q is not one of Audiences: tokens requested for it would be refused", c.Resource)
	}
	for _, s := range m.ScopesSupported {
		if !scopes.Valid(s) {
			return configError("ResourceMetadata.ScopesSupported: %q is not a scope token", s)
		}
	}
	for name, raw := range map[string]string{
		"ResourceDocumentation": m.ResourceDocumentation,
		"ResourcePolicyURI":     m.ResourcePolicyURI,
		"ResourceTOSURI":        m.ResourceTOSURI,
	} {
		if raw == "" {
			continue
		}
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return configError("ResourceMetadata.%s %q: must be an absolute http or https URL", name, raw)
		}
	}
	return nil
}

// checkURL requires an absolute https URL without fragment, or http on a
// loopback host, or http anywhere with the insecure opt-in.
func checkURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Host == "" || u.Fragment != "" || u.User != nil {
		return errors.New("must be an absolute URL without user info or fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if insecure || isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("must use https (http is only allowed on loopback hosts, or with InsecureAllowHTTPIssuer)")
	default:
		return errors.New("scheme must be https")
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
