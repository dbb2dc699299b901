package middleware

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/internal/jsonscan"
)

// This file holds what the API trusts, issuer by issuer: each trusted
// issuer's settings ([Issuer]) and the rules its tokens are judged by
// (trust), resolved once in New with the top-level fields of Config as the
// defaults. trustFor (a JWT, by its "iss") and opaqueTrust (an opaque
// token, by the rule of Config.OpaqueTokenIssuer or the sources' prefixes)
// are the one place that decides which rules apply to a token: every later
// step of the pipeline reads that issuer's rules, never Config's.

// Issuer is one trusted issuer and the rules its tokens are judged by, see
// Config.ExtraIssuers. Every rule left at its zero value is the one of the
// top-level field of Config of the same name: the one-issuer setup needs
// none of them.
type Issuer struct {
	// Issuer is the issuer identifier, compared exactly with the "iss"
	// claim. Required. It must be an https URL, or http on a loopback
	// host.
	//
	// A multi-tenant issuer is a template with one [TenantPlaceholder],
	// such as "https://login.microsoftonline.com/{tenantid}/v2.0": a token
	// matches it when its "iss" is the template with a tenant identifier
	// (letters, digits, "-", "." and "_") in place of the placeholder, its
	// "tid" claim is that tenant, and the tenant is accepted by Tenants or
	// AllowTenant (one of them is required). Its keys come from JWKSURL
	// (required: never a URL made from the token), and a key with an
	// "issuer" member must name the token's issuer once the placeholder
	// is replaced by the tenant (see SECURITY.md).
	Issuer string

	// JWKSURL is the issuer's JWK Set URL. Optional, discovered by default;
	// required for a template.
	JWKSURL string

	// Tenants are the tenants a multi-tenant issuer's tokens are accepted
	// from. AllowTenant, instead, is the application's function deciding
	// it. Exactly one of them is required for a template, and neither may
	// be set otherwise.
	Tenants     []string
	AllowTenant func(tenant string) bool

	// RequiredClaims are top-level claims that this issuer's tokens must
	// carry with exactly these string values, such as Cognito's
	// "token_use": "access". Optional. A token without one, or with
	// another value, is refused with 401 [ErrNotAccessToken].
	RequiredClaims map[string]string

	// Audiences are the identifiers of this API at this issuer: a token of
	// the issuer is accepted if any of its "aud" values is one of them.
	// ClientIDs restricts the clients whose tokens are accepted. Optional:
	// when both are empty, Config.Audiences and Config.ClientIDs apply.
	// They are one rule: an issuer that sets either has its own audience
	// check, and the other is then empty unless set too (Cognito: ClientIDs
	// alone, its access tokens carry no "aud").
	Audiences []string
	ClientIDs []string

	// Algorithms is the allowlist of JWS algorithms of this issuer's tokens.
	// Optional, default Config.Algorithms.
	Algorithms []string

	// ScopeClaims are the claims the granted scopes are read from.
	// Optional, default Config.ScopeClaims.
	ScopeClaims []string

	// ACRClaim is the claim a route's Policy.ACRValues are compared with.
	// Optional, default Config.ACRClaim.
	ACRClaim string

	// AccessTokenType says which "typ" headers declare an access token of
	// this issuer. Optional, default [TokenTypeDefault]:
	// Config.RequireAccessTokenType.
	AccessTokenType TokenTypeRule

	// Binding says how this issuer's tokens must be bound to their sender,
	// on top of the route's DPoP mode. Optional, default [BindingAsRoute].
	Binding BindingRule

	// Introspection is this issuer's RFC 7662 introspection endpoint for
	// opaque tokens (see [Introspection]). Optional; nil: none. It cannot
	// be set together with LookupToken.
	Introspection *Introspection

	// LookupToken looks this issuer's opaque tokens up in the
	// application's own store, as Config.LookupToken. Optional.
	LookupToken func(ctx context.Context, token string) (*claims.Claims, error)

	// OpaqueTokenPrefix routes the opaque tokens that begin with it (such
	// as Ory Hydra's "ory_at_") to this issuer's source (Introspection or
	// LookupToken). Optional. With several opaque-token sources and no
	// Config.OpaqueTokenIssuer, every source but one needs a prefix: an
	// opaque token is sent to one source only, never to each in turn.
	OpaqueTokenPrefix string

	// LazyKeys fetches this issuer's keys at its first token instead of at
	// start-up: until then the issuer has no goroutine and costs a few
	// KiB, for APIs that trust thousands of issuers. Its first token waits
	// for the fetch (within Config.KeyWait), and the issuer counts for
	// [Validator.Ready] only once its keys are held. Optional, default
	// false.
	LazyKeys bool

	// OpaqueOnly says that all of this issuer's tokens are opaque: its
	// keys are never fetched, a JWT naming it is refused as of an
	// untrusted issuer, and it counts as ready ([Validator.Ready]) as soon
	// as its source is usable. Optional, default false. It requires
	// Introspection or LookupToken.
	OpaqueOnly bool
}

// TokenTypeRule says which "typ" headers declare an access token, see
// Issuer.AccessTokenType.
type TokenTypeRule int

const (
	// TokenTypeDefault, the zero value, is Config.RequireAccessTokenType.
	TokenTypeDefault TokenTypeRule = iota
	// TokenTypeAnyAccess accepts "at+jwt", "JWT" and untyped tokens that
	// carry no ID-token claims, as Config.RequireAccessTokenType false.
	TokenTypeAnyAccess
	// TokenTypeAccessJWT accepts only "at+jwt" (RFC 9068 §2.1), as
	// Config.RequireAccessTokenType true.
	TokenTypeAccessJWT
)

// String returns the rule's name, such as "TokenTypeAccessJWT".
func (r TokenTypeRule) String() string {
	switch r {
	case TokenTypeDefault:
		return "TokenTypeDefault"
	case TokenTypeAnyAccess:
		return "TokenTypeAnyAccess"
	case TokenTypeAccessJWT:
		return "TokenTypeAccessJWT"
	}
	return "TokenTypeRule(" + strconv.Itoa(int(r)) + ")"
}

// BindingRule says how an issuer's tokens must be bound to their sender,
// see Issuer.Binding.
type BindingRule int

const (
	// BindingAsRoute, the zero value: the route's DPoP mode (Config.DPoP,
	// Policy.DPoP) and the token's own "cnf" decide, as for every token.
	BindingAsRoute BindingRule = iota
	// BindingDPoP accepts only DPoP-bound tokens of this issuer, sent with
	// the DPoP scheme and a valid proof, on every route; a Bearer request
	// is refused with 401 [ErrDPoPRequired]. The route's DPoP mode must
	// still let the DPoP scheme in (DPoPAllowed or DPoPRequired).
	BindingDPoP
	// BindingCertificate accepts only certificate-bound tokens of this
	// issuer ("cnf" "x5t#S256", RFC 8705 §3), from a client presenting the
	// certificate; any other token is refused with 401
	// [ErrCertificateRequired].
	BindingCertificate
)

// String returns the rule's name, such as "BindingDPoP".
func (r BindingRule) String() string {
	switch r {
	case BindingAsRoute:
		return "BindingAsRoute"
	case BindingDPoP:
		return "BindingDPoP"
	case BindingCertificate:
		return "BindingCertificate"
	}
	return "BindingRule(" + strconv.Itoa(int(r)) + ")"
}

// trust is the rules one trusted issuer's tokens are judged by: the
// issuer's own settings, with the top-level fields of Config where it has
// none. It is built once in New and never changed.
type trust struct {
	issuer      string
	keys        *issuerKeys // nil: the issuer's tokens are all opaque
	audiences   []string
	clientIDs   []string
	algs        map[string]bool
	scopeClaims []string
	acrClaim    string
	requireAT   bool // only "at+jwt" declares an access token
	binding     BindingRule
	opaque      *opaqueSource // nil: no opaque tokens of this issuer
	prefix      string        // Issuer.OpaqueTokenPrefix
	required    map[string]string

	// Keys fetched at the first token (Issuer.LazyKeys), started by
	// trustFor. An issuer of Config.ResolveIssuer is resolved at its first
	// token: resolveNew starts its keys then, whatever lazy says.
	lazy  bool
	start sync.Once
	stop  context.CancelFunc // a resolved issuer's keys' refresh
	gone  atomic.Bool        // a resolved issuer evicted: its cached tokens miss

	// A multi-tenant issuer: issuer is its template, "iss" is head,
	// a tenant, tail.
	template    bool
	head, tail  string
	tenants     map[string]bool
	allowTenant func(string) bool
	// keyIssuers are the templates whose keys are this issuer's keys
	// (the templates of one JWKS URL): a key's "issuer" member may name
	// any of them, for the token's tenant.
	keyIssuers []string
}

// newTrust returns the rules of is, a checked issuer of cfg.
func newTrust(cfg *Config, is *Issuer, client *http.Client) *trust {
	ti := &trust{
		issuer:      is.Issuer,
		audiences:   cfg.Audiences,
		clientIDs:   cfg.ClientIDs,
		scopeClaims: cfg.scopeClaims(),
		acrClaim:    cfg.acrClaim(),
		requireAT:   cfg.RequireAccessTokenType,
		binding:     is.Binding,
		prefix:      is.OpaqueTokenPrefix,
	}
	if len(is.Audiences) > 0 || len(is.ClientIDs) > 0 {
		ti.audiences, ti.clientIDs = is.Audiences, is.ClientIDs
	}
	ti.algs = algorithmSet(cfg.Algorithms)
	if len(is.Algorithms) > 0 {
		ti.algs = algorithmSet(is.Algorithms)
	}
	if len(is.ScopeClaims) > 0 {
		ti.scopeClaims = is.ScopeClaims
	}
	if is.ACRClaim != "" {
		ti.acrClaim = is.ACRClaim
	}
	switch is.AccessTokenType {
	case TokenTypeAnyAccess:
		ti.requireAT = false
	case TokenTypeAccessJWT:
		ti.requireAT = true
	}
	ti.opaque = newOpaqueSource(cfg, is, client)
	ti.required = is.RequiredClaims
	ti.lazy = is.LazyKeys
	if head, tail, ok := strings.Cut(is.Issuer, TenantPlaceholder); ok {
		ti.template, ti.head, ti.tail = true, head, tail
		ti.allowTenant = is.AllowTenant
		if len(is.Tenants) > 0 {
			ti.tenants = make(map[string]bool, len(is.Tenants))
			for _, t := range is.Tenants {
				ti.tenants[t] = true
			}
		}
	}
	ti.keyIssuers = []string{is.Issuer}
	return ti
}

// algorithmSet returns a checked algorithm list as a set, every supported
// algorithm when it is empty.
func algorithmSet(list []string) map[string]bool {
	if len(list) == 0 {
		list = supportedAlgorithms[:]
	}
	set := make(map[string]bool, len(list))
	for _, a := range list {
		set[a] = true
	}
	return set
}

// trustFor decides which rules apply to a JWT: those of the trusted issuer
// its "iss" names exactly, else of the multi-tenant issuer whose template
// it matches, for a tenant accepted and equal to its "tid". An issuer whose
// tokens are all opaque is not trusted for JWTs.
func (v *Validator) trustFor(ctx context.Context, t *jwsToken) (*trust, error) {
	iss := t.claims.Iss
	if ti := v.trusts[iss]; ti != nil {
		if ti.keys == nil {
			return nil, invalidToken(ErrInvalidIssuer, nil)
		}
		if ti.lazy {
			ti.start.Do(func() { go ti.keys.run(v.ctx) })
		}
		return ti, nil
	}
	for _, ti := range v.templates {
		tenant, ok := ti.tenantOf(iss)
		if !ok {
			continue
		}
		if !ti.accepts(tenant) || claimString(t.claims.raw, "tid") != tenant {
			return nil, invalidToken(ErrInvalidIssuer, nil)
		}
		return ti, nil
	}
	if v.resolver != nil {
		return v.resolveTrust(ctx, iss)
	}
	return nil, invalidToken(ErrInvalidIssuer, nil)
}

// checkRequired applies Issuer.RequiredClaims to a payload, in one walk of
// its members: p.raw was decoded, so its names are unique and each
// required claim present with its value counts once.
func (ti *trust) checkRequired(p *payload) error {
	if len(ti.required) == 0 {
		return nil
	}
	matched := 0
	_ = jsonscan.Object(p.raw, func(name string, v []byte) error {
		if want, ok := ti.required[name]; ok {
			if s, err := jsonscan.String(v); err == nil && s == want {
				matched++
			}
		}
		return nil
	})
	if matched != len(ti.required) {
		return invalidToken(ErrNotAccessToken, nil)
	}
	return nil
}

// opaqueTrust decides which issuer's source an opaque token goes to, and
// so which rules apply to it: the issuer Config.OpaqueTokenIssuer names,
// else the source whose OpaqueTokenPrefix the token begins with, else the
// one source without a prefix. It is asked of one source only: a token is
// never sent to another issuer's endpoint. nil: no source takes it.
func (v *Validator) opaqueTrust(token string) *trust {
	if f := v.cfg.OpaqueTokenIssuer; f != nil {
		ti := v.trusts[f(token)]
		if ti == nil || ti.opaque == nil {
			return nil
		}
		return ti
	}
	var fallback *trust
	for _, ti := range v.opaqueTrusts {
		switch {
		case ti.prefix == "":
			fallback = ti
		case strings.HasPrefix(token, ti.prefix):
			return ti
		}
	}
	return fallback
}

// checkAlg applies the rules of the token's issuer that need no key: its
// algorithms (the header's alg was checked against every issuer's before).
func (ti *trust) checkAlg(t *jwsToken) error {
	if !ti.algs[t.header.alg] {
		return invalidToken(ErrUnsupportedAlgorithm, nil)
	}
	return nil
}

// checkSender applies Issuer.Binding, then the binding step every token
// goes through (binding.go).
func (v *Validator) checkSender(ctx context.Context, ti *trust, cnf *confirmation, token string, pr *presentation) error {
	switch ti.binding {
	case BindingDPoP:
		if !pr.dpop {
			return invalidToken(ErrDPoPRequired, nil)
		}
	case BindingCertificate:
		if cnf == nil || len(cnf.X5TS256) == 0 {
			return invalidToken(ErrCertificateRequired, nil)
		}
	}
	return v.checkBinding(ctx, cnf, token, pr)
}

// trustNamed returns the rules of the trusted issuer iss names, exactly or
// through a template, nil if none.
func (v *Validator) trustNamed(iss string) *trust {
	if ti := v.trusts[iss]; ti != nil {
		return ti
	}
	for _, ti := range v.templates {
		if _, ok := ti.tenantOf(iss); ok {
			return ti
		}
	}
	return nil
}

// trustedIssuers returns every trusted issuer with its own settings: the
// one of the top-level fields first (if it is set, or Config.LookupToken
// is), then ExtraIssuers. Config.Introspection joins the issuer it names
// (Introspection.Issuer, default Config.Issuer); without Config.Issuer, an
// issuer it names that is not configured is trusted for opaque tokens only.
func (c *Config) trustedIssuers() ([]Issuer, error) {
	list := make([]Issuer, 0, 2+len(c.ExtraIssuers))
	if c.Issuer != "" || c.LookupToken != nil {
		list = append(list, Issuer{Issuer: c.Issuer, JWKSURL: c.JWKSURL, LookupToken: c.LookupToken, OpaqueOnly: c.Issuer == ""})
	}
	list = append(list, c.ExtraIssuers...)
	in := c.Introspection
	if in == nil {
		return list, nil
	}
	if c.LookupToken != nil {
		return nil, configError("Introspection and LookupToken cannot both be set: one source of opaque tokens")
	}
	name := in.issuer(c)
	if name == "" {
		return nil, configError("Introspection.Issuer is required without Issuer: the issuer whose answers are accepted")
	}
	for i := range list {
		if list[i].Issuer != name {
			continue
		}
		if list[i].Introspection != nil || list[i].LookupToken != nil {
			return nil, configError("Introspection.Issuer %q has its own opaque-token source", name)
		}
		list[i].Introspection = in
		return list, nil
	}
	if c.Issuer != "" {
		return nil, configError("Introspection.Issuer %q is not a trusted issuer", in.Issuer)
	}
	return append(list, Issuer{Issuer: name, Introspection: in, OpaqueOnly: true}), nil
}

// checkIssuers checks every trusted issuer's settings, and that an opaque
// token can only go to one source.
func (c *Config) checkIssuers(list []Issuer) error {
	if len(list) == 0 && c.ResolveIssuer == nil {
		return configError("Issuer is required (or ExtraIssuers, ResolveIssuer, Introspection or LookupToken)")
	}
	if c.MaxResolvedIssuers < 0 {
		return configError("MaxResolvedIssuers is negative")
	}
	seen := make(map[string]bool, len(list))
	var sources, unprefixed int
	var prefixes []string
	for i := range list {
		is := &list[i]
		if err := c.checkIssuer(is, i == 0 && c.Issuer == "" && c.LookupToken != nil); err != nil {
			return err
		}
		if seen[is.Issuer] {
			return configError("issuer %q given twice", is.Issuer)
		}
		seen[is.Issuer] = true
		if is.Introspection == nil && is.LookupToken == nil {
			continue
		}
		sources++
		if is.OpaqueTokenPrefix == "" {
			unprefixed++
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(p, is.OpaqueTokenPrefix) || strings.HasPrefix(is.OpaqueTokenPrefix, p) {
				return configError("OpaqueTokenPrefix %q and %q overlap: a token would match both", p, is.OpaqueTokenPrefix)
			}
		}
		prefixes = append(prefixes, is.OpaqueTokenPrefix)
	}
	if c.OpaqueTokenIssuer == nil && unprefixed > 1 {
		return configError("%d opaque-token sources without OpaqueTokenPrefix: give each but one a prefix, or set OpaqueTokenIssuer", unprefixed)
	}
	if c.OpaqueTokenIssuer != nil && sources == 0 {
		return configError("OpaqueTokenIssuer is set without an opaque-token source")
	}
	return nil
}

// checkIssuer checks one issuer's settings. unnamed is the issuer of a
// Config.LookupToken without Config.Issuer.
func (c *Config) checkIssuer(is *Issuer, unnamed bool) error {
	insecure := c.InsecureAllowHTTPIssuer
	if !unnamed {
		if is.Issuer == "" {
			return configError("an issuer of ExtraIssuers has no Issuer")
		}
		if err := checkURL(strings.Replace(is.Issuer, TenantPlaceholder, "tenant", 1), insecure); err != nil {
			return configError("issuer %q: %v", is.Issuer, err)
		}
	}
	switch n := strings.Count(is.Issuer, TenantPlaceholder); {
	case n > 1:
		return configError("issuer %q: more than one %s", is.Issuer, TenantPlaceholder)
	case n == 1:
		if is.JWKSURL == "" {
			return configError("issuer %q: a template needs JWKSURL: keys never come from a URL made from a token", is.Issuer)
		}
		if (len(is.Tenants) > 0) == (is.AllowTenant != nil) {
			return configError("issuer %q: a template needs Tenants or AllowTenant (one of them)", is.Issuer)
		}
		if is.Introspection != nil || is.LookupToken != nil || is.OpaqueOnly {
			return configError("issuer %q: a template has no opaque-token source", is.Issuer)
		}
		if is.LazyKeys {
			return configError("issuer %q: a template's keys are fetched at start (LazyKeys)", is.Issuer)
		}
		for _, t := range is.Tenants {
			if !validTenant(t) {
				return configError("issuer %q: tenant %q is not a tenant identifier", is.Issuer, t)
			}
		}
	case len(is.Tenants) > 0 || is.AllowTenant != nil:
		return configError("issuer %q: Tenants or AllowTenant without %s in Issuer", is.Issuer, TenantPlaceholder)
	}
	for name, want := range is.RequiredClaims {
		if name == "" || want == "" {
			return configError("issuer %q: RequiredClaims with an empty name or value", is.Issuer)
		}
	}
	if is.JWKSURL != "" {
		if is.OpaqueOnly {
			return configError("issuer %q: JWKSURL is set, but OpaqueOnly", is.Issuer)
		}
		if err := checkURL(is.JWKSURL, insecure); err != nil {
			return configError("JWKS URL %q: %v", is.JWKSURL, err)
		}
	}
	aud, ids := c.Audiences, c.ClientIDs
	if len(is.Audiences) > 0 || len(is.ClientIDs) > 0 {
		aud, ids = is.Audiences, is.ClientIDs
	}
	if len(aud) == 0 && len(ids) == 0 {
		return configError("issuer %q: Audiences is required (or ClientIDs for issuers whose tokens have no aud)", is.Issuer)
	}
	if contains(is.Audiences, "") {
		return configError("issuer %q: empty audience", is.Issuer)
	}
	if contains(is.ClientIDs, "") {
		return configError("issuer %q: empty client id", is.Issuer)
	}
	for _, a := range is.Algorithms {
		if !contains(supportedAlgorithms[:], a) {
			return configError("issuer %q: algorithm %q is not an allowed asymmetric JWS algorithm", is.Issuer, a)
		}
	}
	if contains(is.ScopeClaims, "") {
		return configError("issuer %q: empty scope claim name", is.Issuer)
	}
	if is.AccessTokenType < TokenTypeDefault || is.AccessTokenType > TokenTypeAccessJWT {
		return configError("issuer %q: AccessTokenType %v is not a known rule", is.Issuer, is.AccessTokenType)
	}
	if is.Binding < BindingAsRoute || is.Binding > BindingCertificate {
		return configError("issuer %q: Binding %v is not a known rule", is.Issuer, is.Binding)
	}
	switch {
	case is.Introspection != nil && is.LookupToken != nil:
		return configError("issuer %q: Introspection and LookupToken cannot both be set: one source of opaque tokens", is.Issuer)
	case is.Introspection != nil:
		if name := is.Introspection.Issuer; name != "" && name != is.Issuer {
			return configError("issuer %q: Introspection.Issuer %q is another issuer", is.Issuer, name)
		}
		if err := is.Introspection.check(ids, insecure); err != nil {
			return err
		}
	case is.LookupToken == nil && is.OpaqueOnly:
		return configError("issuer %q: OpaqueOnly without Introspection or LookupToken", is.Issuer)
	case is.LookupToken == nil && is.OpaqueTokenPrefix != "":
		return configError("issuer %q: OpaqueTokenPrefix without Introspection or LookupToken", is.Issuer)
	}
	return nil
}

// opaqueReady reports whether an issuer whose tokens are all opaque can
// serve now: its LookupToken, or its introspection endpoint known.
func (v *Validator) opaqueReady() bool {
	for _, ti := range v.opaqueTrusts {
		if ti.keys == nil && ti.opaque.usable() {
			return true
		}
	}
	return false
}

// opaqueStatus says why each issuer whose tokens are all opaque cannot
// serve yet: its endpoint not discovered.
func (v *Validator) opaqueStatus() []error {
	var errs []error
	for _, ti := range v.opaqueTrusts {
		if ti.keys != nil || ti.opaque.usable() {
			continue
		}
		ix := ti.opaque.intro
		ix.mu.Lock()
		err := ix.failErr
		ix.mu.Unlock()
		if err == nil {
			err = &KeysError{Issuer: ti.issuer, reason: ErrKeysNotFetchedYet}
		}
		errs = append(errs, err)
	}
	return errs
}

// discoverOpaque discovers, while WaitReady waits, the introspection
// endpoints of the issuers whose tokens are all opaque, trying again at most
// once per Config.MinRefreshInterval until ctx ends. The function it
// returns stops the discoveries and waits for them.
func (v *Validator) discoverOpaque(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, ti := range v.opaqueTrusts {
		if ti.keys != nil || ti.opaque.usable() {
			continue
		}
		ix := ti.opaque.intro
		wg.Go(func() {
			t := time.NewTimer(0)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-v.stopped:
					return
				case <-t.C:
				}
				if _, err := ix.endpointURL(ctx); err == nil {
					v.markReady()
					return
				}
				t.Reset(v.cfg.minRefreshInterval())
			}
		})
	}
	return func() { cancel(); wg.Wait() }
}
