package middleware

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/internal/checks"
)

// This file writes the refusal log: one record per refused request, at
// Config.RefusalLogLevel, that says which check refused it, what the check
// expected and what the token had. Only the non-secret parts of a token
// are logged: its header's alg, kid and typ, its iss, aud, exp, nbf, iat
// and client, the granted scopes and the names of the claims they were
// read from; for a step-up refusal its acr (or Config.ACRClaim), auth_time
// and whether it is a machine token; for a DPoP proof refused for its htm
// or htu, that value of the proof. Never the token, its signature, or the
// value of any other claim: a hint that a claim outside ScopeClaims holds
// a wanted scope names the claim and the wanted scopes it holds, nothing
// else of it.
//
// The pipeline (validator.go) hands the facts over on the *Error it
// returns, decoded once, and only when it refuses a token with a Logger
// set: an accepted token costs nothing here.

// tokenFacts are what the refusal log shows of a refused token.
type tokenFacts struct {
	check    string // the check that refused the token, a name of internal/checks
	alg      string
	kid      string
	kidSet   bool
	typ      string
	typSet   bool
	iss      string
	aud      []string
	exp      time.Time
	nbf      time.Time
	iat      time.Time
	clientID string
	idClaims []string // names of the ID-token claims present
}

// refused returns err, an *Error of the pipeline, carrying the facts of t
// and the check that refused it, when a Logger is set.
func (v *Validator) refused(err error, check string, t *jwsToken) error {
	e, ok := err.(*Error)
	if !ok || v.cfg.Logger == nil || e.facts != nil {
		return err
	}
	h, p := &t.header, &t.claims
	f := &tokenFacts{
		check: check,
		alg:   h.alg, kid: h.kid, kidSet: h.kidSet, typ: h.typ, typSet: h.typSet,
		iss: p.Iss, aud: p.Aud,
		exp: p.Exp.Time, nbf: p.Nbf.Time, iat: p.Iat.Time,
		clientID: p.clientID(),
	}
	for _, c := range [...]struct {
		name string
		set  bool
	}{
		{"nonce", len(p.Nonce) > 0}, {"at_hash", len(p.AtHash) > 0}, {"c_hash", len(p.CHash) > 0},
		{"token_use", jsonStringEqualFold(p.TokenUse, "id")}, {"typ", jsonStringEqualFold(p.Typ, "ID")},
	} {
		if c.set {
			f.idClaims = append(f.idClaims, c.name)
		}
	}
	e.facts = f
	return e
}

// refusedClaims is refused for a token known by its verified claims: a
// cached token, or one Config.Validate refused. An *Error the hook made is
// the application's and is left alone.
func (v *Validator) refusedClaims(err error, check string, c *claims.Claims) error {
	e, ok := err.(*Error)
	if !ok || v.cfg.Logger == nil || e.facts != nil {
		return err
	}
	e.facts = &tokenFacts{
		check: check,
		iss:   c.Issuer, aud: c.Audience,
		exp: c.ExpiresAt, nbf: c.NotBefore, iat: c.IssuedAt,
		clientID: c.ClientID,
	}
	return e
}

// refusalLevel is the level of the refusal log.
func (c *Config) refusalLevel() slog.Level {
	if c.RefusalLogLevel == nil {
		return slog.LevelDebug
	}
	return c.RefusalLogLevel.Level()
}

// logRefusal logs the refusal e of request r under policy p. c is the
// token's claims when the token itself was valid (the route's requirements
// refused it), else nil; ti is then the issuer that accepted it.
func (v *Validator) logRefusal(r *http.Request, e *Error, c *claims.Claims, ti *trust, p *Policy) {
	l := v.cfg.Logger
	if l == nil {
		return
	}
	ctx, level := r.Context(), v.cfg.refusalLevel()
	if !l.Enabled(ctx, level) {
		return
	}
	f := e.facts
	check := checks.Request
	switch {
	case f != nil:
		check = f.check
	case c != nil:
		check = v.policyCheck(e)
	case e.category == ErrKeysUnavailable:
		check = checks.Key
	}
	attrs := []slog.Attr{
		slog.String("check", check),
		slog.Int("status", e.Status),
		slog.String("error", e.Error()),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
	}
	var token, want []slog.Attr
	if f == nil && c != nil {
		f = &tokenFacts{iss: c.Issuer, aud: c.Audience, exp: c.ExpiresAt, nbf: c.NotBefore, iat: c.IssuedAt, clientID: c.ClientID}
	}
	if ti == nil { // the rules the token was judged by: its issuer's
		ti = v.defaults
		if f != nil && v.trustNamed(f.iss) != nil {
			ti = v.trustNamed(f.iss)
		}
	}
	if f != nil {
		token = f.attrs(token, check == checks.Audience && len(ti.clientIDs) > 0)
		attrs = append(attrs, slog.Time("now", v.cfg.now().UTC()), slog.Duration("leeway", v.cfg.leeway()))
	}
	switch check {
	case checks.Header, checks.Parse:
		if !errors.Is(e, ErrTokenInactive) { // an opaque token's source said no: no alg involved
			want = append(want, slog.Any("alg", allowedAlgs(ti.algs)))
		}
	case checks.Type:
		typ := "at+jwt, JWT or none, and no ID-token claims"
		if ti.requireAT {
			typ = "at+jwt, and no ID-token claims"
		}
		want = append(want, slog.String("typ", typ))
	case checks.Issuer:
		want = append(want, slog.Any("iss", v.issuerNames()))
	case checks.Audience:
		if len(ti.audiences) > 0 {
			want = append(want, slog.Any("aud", ti.audiences))
		}
		if len(ti.clientIDs) > 0 {
			want = append(want, slog.Any("client_id", ti.clientIDs))
		}
	}
	var hint string
	switch check {
	case checks.Issuer:
		hint = v.issuerHint(f)
	case checks.Binding:
		if pm, ok := errors.AsType[*proofMismatch](e); ok {
			token = append(token, slog.String("proof_"+pm.member, pm.got))
			want = append(want, slog.String(pm.member, pm.want))
		}
	}
	if c != nil {
		m, _ := c.Map() // decoded here only, for a refused request with a Logger set
		token = scopeAttrs(token, c, ti, m)
		if p != nil && len(p.Scopes) > 0 {
			want = append(want, slog.String("scope", scopeChallenge(p.Scopes)))
			if check == checks.Scope {
				hint = scopeHint(m, ti, p.Scopes)
			}
		}
		if e.Claim != "" {
			want = append(want, slog.String("claim", e.Claim), slog.String("claim_values", e.ClaimValues))
		}
		if check == checks.User && p != nil {
			token = append(token, slog.Any(ti.acrClaim, nonNil(acrValues(c, ti))), slog.Bool("machine", c.Machine))
			if !c.AuthTime.IsZero() {
				token = append(token, slog.Time("auth_time", c.AuthTime.UTC()))
			}
			if len(p.ACRValues) > 0 {
				want = append(want, slog.Any("acr_values", p.ACRValues))
			}
			if p.MaxAge > 0 {
				want = append(want, slog.Duration("max_age", p.MaxAge))
			}
		}
	}
	if hint != "" {
		attrs = append(attrs, slog.String("hint", hint))
	}
	if len(token) > 0 {
		attrs = append(attrs, slog.Attr{Key: "token", Value: slog.GroupValue(token...)})
	}
	if len(want) > 0 {
		attrs = append(attrs, slog.Attr{Key: "want", Value: slog.GroupValue(want...)})
	}
	l.LogAttrs(ctx, level, "bearerguard: request refused", attrs...)
}

// policyCheck names the check of a route's requirement that refused a
// valid token.
func (v *Validator) policyCheck(e *Error) string {
	switch e.category {
	case ErrInsufficientScope:
		return checks.Scope
	case ErrInsufficientUserAuthentication:
		return checks.User
	}
	return checks.Policy
}

// attrs appends the facts present in f; the client id only withClient,
// when it is what the check compared.
func (f *tokenFacts) attrs(a []slog.Attr, withClient bool) []slog.Attr {
	str := func(key, val string, set bool) {
		if set {
			a = append(a, slog.String(key, val))
		}
	}
	tm := func(key string, t time.Time) {
		if !t.IsZero() {
			a = append(a, slog.Time(key, t.UTC()))
		}
	}
	str("alg", f.alg, f.alg != "")
	str("kid", f.kid, f.kidSet)
	str("typ", f.typ, f.typSet)
	str("iss", f.iss, f.iss != "")
	if f.aud != nil {
		a = append(a, slog.Any("aud", []string(f.aud)))
	}
	tm("exp", f.exp)
	tm("nbf", f.nbf)
	tm("iat", f.iat)
	str("client_id", f.clientID, withClient && f.clientID != "")
	if f.idClaims != nil {
		a = append(a, slog.Any("id_token_claims", f.idClaims))
	}
	return a
}

// scopeAttrs appends the scopes granted and which ScopeClaims of ti, the
// issuer that accepted the token, it carries (m is its claim set): a claim
// that is absent is told from a scope that is missing.
func scopeAttrs(a []slog.Attr, c *claims.Claims, ti *trust, m map[string]any) []slog.Attr {
	present, absent := []string{}, []string{}
	for _, name := range ti.scopeClaims {
		if val, ok := claims.LookupMap(m, name); ok && val != nil {
			present = append(present, name)
		} else {
			absent = append(absent, name)
		}
	}
	scopes := c.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return append(a,
		slog.Any("scopes", scopes),
		slog.Any("scope_claims", present),
		slog.Any("scope_claims_absent", absent))
}

func allowedAlgs(algs map[string]bool) []string {
	out := make([]string, 0, len(algs))
	for _, a := range supportedAlgorithms {
		if algs[a] {
			out = append(out, a)
		}
	}
	return out
}

func (v *Validator) issuerNames() []string {
	out := make([]string, 0, len(v.order))
	for _, ik := range v.order {
		out = append(out, ik.issuer)
	}
	return out
}

// scopeClaimNames are the claims providers put scopes or what users take
// for scopes in (RFC 8693 "scope", Entra and Okta "scp", Auth0 RBAC
// "permissions", Entra app "roles"): where one the validator does not read
// holds a scope the route wants, the refusal log says so.
var scopeClaimNames = [...]string{"permissions", "roles", "scp", "scope"}

// scopeHint returns, for a scope refusal, which claims outside the
// ScopeClaims of ti (the issuer that accepted the token) hold scopes of the
// route's requirement, such as "permissions holds read:users; add it to
// Config.ScopeClaims", or "". It names only scopes the route wants, never
// another value of the claim.
func scopeHint(m map[string]any, ti *trust, alternatives []string) string {
	wanted := strings.Fields(scopeChallenge(alternatives))
	var hints []string
	for _, name := range scopeClaimNames {
		if slices.Contains(ti.scopeClaims, name) {
			continue
		}
		var held []string
		for _, s := range wanted {
			if claimHolds(m[name], s) {
				held = append(held, s)
			}
		}
		if len(held) > 0 {
			hints = append(hints, name+" holds "+strings.Join(held, " ")+"; add it to Config.ScopeClaims")
		}
	}
	return strings.Join(hints, "; ")
}

// claimHolds reports whether the claim value v holds scope s: a string as
// a space-separated list, an array by its string elements.
func claimHolds(v any, s string) bool {
	switch v := v.(type) {
	case string:
		return slices.Contains(strings.Fields(v), s)
	case []any:
		return slices.Contains(v, any(s))
	}
	return false
}

// issuerHint returns, for a token refused for its issuer, a hint when its
// iss differs from a trusted issuer only by a trailing slash (Auth0's
// issuer has one), or "".
func (v *Validator) issuerHint(f *tokenFacts) string {
	if f == nil || f.iss == "" {
		return ""
	}
	for _, name := range v.issuerNames() {
		if name != f.iss && strings.TrimSuffix(name, "/") == strings.TrimSuffix(f.iss, "/") {
			return "token iss " + f.iss + " differs only by a trailing slash from the trusted issuer " + name + "; set Issuer exactly as the token's iss"
		}
	}
	return ""
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// proofMismatch is the cause of a DPoP proof refused for its htm or htu:
// the proof's value and the one expected, both request facts, for the
// refusal log. It reads as, and matches, its sentinel.
type proofMismatch struct {
	err       error  // errProofMethod or errProofURI
	member    string // "htm" or "htu"
	got, want string
}

func (e *proofMismatch) Error() string { return e.err.Error() }
func (e *proofMismatch) Unwrap() error { return e.err }
