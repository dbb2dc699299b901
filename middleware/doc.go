// Package middleware is the core of bearerguard: a [Validator] that accepts
// only genuine OAuth 2.0 access tokens of trusted issuers, and net/http
// middleware built on it.
//
// # Keys
//
// The issuer's JWK Set (RFC 7517) is found through OpenID Connect Discovery
// 1.0 or RFC 8414 authorization server metadata, whose "issuer" must equal
// the configured issuer exactly, unless Config.JWKSURL names it. Each key of
// the set is decoded on its own by jwkset, so a malformed key is skipped
// without losing the others; symmetric keys, keys marked for encryption and
// keys of unknown type are never used. Keys may share a kid: the token's
// alg picks among them. Each issuer's usable keys are one immutable
// snapshot, swapped atomically when a fetch brings new keys; each issuer
// has its own refresh goroutine and readiness, so a stalled issuer holds up
// no other. Keys are refreshed periodically and fetched again when a token
// names an unknown kid, at most once per Config.MinRefreshInterval, less
// often while such fetches find nothing new (up to MaxKeyFetchBackoff
// times). A request with an unknown kid waits only for a fetch that starts
// at once or is in flight for its kid, at most Config.KeyWait, and at most
// MaxKeyWaiters requests of an issuer wait at once; any other is answered
// at once. A kid a fetch found absent is refused (401) for a short while.
// A token whose key cannot be obtained now is answered 503 with
// Retry-After, never 401;
// keys once obtained keep serving through issuer outages (a failed fetch,
// or a JWK Set without a usable key, keeps the keys held).
//
// # Tokens
//
// A token must be a compact JWS (RFC 7515 §7.1), decoded strictly
// (base64url without padding, one JSON object per part, case-sensitive
// claim names: "ISS" or "Scope" are refused, never read as "iss" or
// "scope"), signed with an allowlisted asymmetric algorithm (RFC 7518 §3,
// RFC 8037) by a key whose type fits the algorithm. Signatures are checked
// by golang-jwt's signing methods. Duplicate member names in the header or
// the claims refuse the token (RFC 7515 §4, RFC 7519 §4). "crit"
// extensions are refused (RFC 7515 §4.1.11); "jku", "x5u", "jwk" and "x5c"
// headers are ignored (RFC 8725 §3.10). "exp" is
// required; "nbf" and "iat" may not be in the future, with Config.Leeway of
// tolerance (RFC 7519 §4.1). "iss" must equal a trusted issuer and one
// "aud" value must be a configured audience (RFC 9068 §4).
//
// # Issuers
//
// Each trusted issuer ([Issuer], Config.ExtraIssuers) may carry its own
// rules: audiences and client IDs, algorithms, scope and ACR claims, the
// access-token type rule, required claims, how its tokens are bound, and
// its opaque-token source; a rule it leaves unset is Config's. A token is
// judged only by the rules of the issuer it names. A multi-tenant issuer
// is a template with {tenantid}, whose keys come from its one configured
// JWK Set; Config.ResolveIssuer adds issuers at run time. Presets such as
// [Entra], [Auth0] and [Cognito] give the settings of common providers.
//
// ID tokens and other JWTs are refused (RFC 8725 §3.11, RFC 9068 §4): a
// "typ" header other than "at+jwt" or "JWT", or ID-token claims ("nonce",
// "at_hash", "c_hash", Keycloak's "typ": "ID", Cognito's "token_use":
// "id"). Tokens bound to a key through "cnf" (RFC 9449 §7.2, RFC 8705 §3)
// are refused as bearer tokens (see below).
//
// # DPoP and certificate-bound tokens
//
// With Config.DPoP (or a route's Policy.DPoP) in mode DPoPAllowed or
// DPoPRequired, "Authorization: DPoP <token>" is read too (RFC 9449 §7.1).
// The token must be bound to a DPoP key ("cnf" "jkt", §6.1), and the
// request must carry exactly one "DPoP" header: a proof (§4.3) that is a
// compact JWS decoded as strictly as tokens, typed "dpop+jwt", signed
// with an allowlisted asymmetric algorithm by the public key in its "jwk"
// header (parsed by jwkset, private members refused; the signature
// checked by golang-jwt), for the request's method ("htm") and URI without
// query and fragment ("htu", compared after the §4.3 normalisation, the
// scheme and host from DPoP.PublicBaseURL behind a proxy, the path that of
// the request-target the client sent, r.RequestURI, never r.URL as
// http.StripPrefix or a framework's rewriting changes it), issued ("iat")
// within DPoP.ProofLifetime and the leeway, for this token ("ath"), by
// the key the token is bound to (its RFC 7638 thumbprint), and never seen
// before: its "jti" is recorded in DPoP.ReplayStore (§11.1), in memory by
// default. A refused proof is 401 invalid_dpop_proof with a DPoP challenge
// naming the accepted algorithms; a replay store that fails or is full is
// 503, and so is a DPoP key holding its share of the in-memory store. A
// DPoP-bound token is never accepted as Bearer, in any mode, and
// DPoPRequired refuses Bearer requests. A token with "cnf" "x5t#S256" is
// accepted only from a client that presented that certificate (RFC 8705
// §3): on the request's TLS connection, or, with Config.MTLS, in a header
// a TLS-terminating proxy sets. A "cnf" naming any other member ("jwk",
// "jwe", "jku", "kid", or one not known, alone or beside "jkt" or
// "x5t#S256"; names are exact in case) or none at all refuses the token
// however it is presented, with [ErrUnsupportedConfirmation]: possession
// that cannot be confirmed is not confirmed (RFC 7800 §3). A "cnf" that is
// not a JSON object is malformed.
//
// # Opaque tokens
//
// A token that is not a compact JWS is an opaque token. With
// Config.Introspection it is sent to an issuer's RFC 7662 introspection
// endpoint (§2.1; client_secret_basic, client_secret_post or
// private_key_jwt, RFC 7523 §3); with Config.LookupToken the application
// looks it up in its own store. The answer is held to the rules above
// wherever it has the member (§2.2): "active" must be true, "iss" the
// introspected issuer, "aud" per [AudienceRule], exp, nbf and iat with the
// leeway, "token_type" an access token, and "cnf" binds the token as a
// JWT's does. An endpoint that fails
// in any way is answered 503 with Retry-After, never 401. Answers may be
// cached (Introspection.CacheTTL, §4: a revoked token passes until its
// entry expires) under a SHA-256 hash of the token, and concurrent
// requests with one token share one call.
//
// # Requests and answers
//
// Tokens are read from the Authorization header (RFC 6750 §2.1); the query
// and form-body methods (§2.2, §2.3), a named cookie (Config.TokenCookie)
// and the application's own extractor (Config.TokenFunc) are opt-in, under
// the same rules: a token68, sent one way only. CORS preflights are checked
// like any request unless Config.AllowUnauthenticatedPreflight is set.
// Refusals follow RFC 6750 §3:
//
//	no token                    401  WWW-Authenticate: Bearer
//	malformed request           400  Bearer error="invalid_request", error_description="..."
//	invalid token               401  Bearer error="invalid_token", error_description="..."
//	invalid DPoP proof          401  DPoP error="invalid_dpop_proof", error_description="...", algs="..."
//	missing scope               403  Bearer error="insufficient_scope", error_description="...", scope="..."
//	claim requirement not met   403  Bearer error="insufficient_claims", error_description="...", claim="...", claim_values="..."
//	route's own check refused   403  Bearer error="insufficient_claims", error_description="..."
//	weak or old user login      401  Bearer error="insufficient_user_authentication", error_description="...", acr_values="...", max_age="N"
//	opaque token not active     401  Bearer error="invalid_token", error_description="the token is not active"
//	issuer keys not obtained    503  Retry-After: N
//	introspection failed        503  Retry-After: N
//	DPoP replay store failed    503  Retry-After: N
//	DPoP key over its share     503  Retry-After: N
//
// with a JSON body {"error": ..., "error_description": ...}. Every error is
// an [*Error] that matches a category sentinel such as [ErrInvalidToken]
// and a specific one such as [ErrTokenExpired] with [errors.Is].
//
// With Config.ErrorHandler set, the headers and the status above are set
// before it runs; it renders the body.
//
// The claims of an accepted token are in the request's context; see
// package claims. Scope requirements follow package scopes.
//
// # Per-route requirements
//
// A [Policy] adds to scopes requirements on claim values ([ClaimValues],
// [Validator.RequireClaim]: an Organization, a tenant, roles, RBAC
// permissions read apart from the scopes, with the OR-of-AND semantics of
// scopes) and a route's own check (Policy.Check). A token that fails them
// is valid, so the answer is 403, never 401; and it is not missing a scope
// it could ask for, so the code is insufficient_claims, an extension code
// as RFC 6750 §3 allows, rather than insufficient_scope.
//
// # Step-up and resource metadata
//
// A route may require how the user authenticated ([Policy] ACRValues and
// MaxAge, through [Validator.Require]): "acr" and "auth_time" are checked
// and a failing token gets the RFC 9470 §3 challenge. With Config.Resource
// set, [Validator.ResourceMetadataHandler] serves the RFC 9728 §2
// protected resource metadata at the §3.1 well-known path, and every
// challenge carries its URL in resource_metadata (§5.1).
//
// # Reading the code
//
// A request moves down through the files, never back up:
//
//	http.go        Authenticate, RequireScope, Check: request in, answer out
//	policy.go      a route's claim requirements and own check
//	stepup.go      a route's step-up requirements (RFC 9470)
//	metadata.go    protected resource metadata (RFC 9728)
//	extract.go     the token from the request (RFC 6750 §2)
//	validator.go   New and ValidateToken: the pipeline, one step per line:
//	               what kind of token, parse, header rules, issuer, the
//	               issuer's algorithms and token type, key and signature,
//	               times, binding, audience and claims, hook
//	issuers.go     what the API trusts, issuer by issuer: Issuer, the rules
//	               a token is judged by (trust), the one place that picks
//	               them (a JWT's iss, a template, an opaque token's source)
//	tenants.go     multi-tenant issuers: templates, tid, key issuer members
//	resolver.go    issuers added at run time (Config.ResolveIssuer)
//	presets.go     the settings of providers whose rules differ
//	opaque.go      an opaque token: its source, then the same steps from
//	               the issuer on; the shared call and the result cache
//	introspect.go  the RFC 7662 client: endpoint, client authentication,
//	               the answer decoded strictly
//	token.go       compact JWS to header and claims; knows no Validator
//	               (its JSON scanner is internal/jsonscan)
//	payload.go     the claims read, one table entry per claim
//	binding.go     how the token (JWT or opaque) is bound to its sender:
//	               bearer, DPoP or certificate; the request's facts it
//	               needs (a presentation, built by Check)
//	dpop.go        a DPoP proof (RFC 9449 §4.3)
//	nonce.go       stateless DPoP server nonces (RFC 9449 §9)
//	replay.go      the default, in-memory DPoP replay store
//	mtls.go        a certificate-bound token (RFC 8705 §3)
//	keys.go        one issuer's keys: snapshot, refresh, readiness, budget
//	discovery.go   discovery and JWKS fetches through the safe client
//	cache.go       the verified-token cache
//	config.go      Config and its defaults; errors.go: sentinels and answers
//	log.go         the refusal log: which check refused a request, what it
//	               found and what it wanted (facts handed over on *Error)
//	observe.go     the reporting seam: Config.Observer's events, one call
//	               at each place something happens (package otelguard
//	               makes them OpenTelemetry metrics)
//
// Adding a claim touches the table in payload.go; a new kind of token or
// binding is a step of ValidateToken.
package middleware
