package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/bearerguard/bearerguard/internal/checks"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/scopes"
)

// list is a flag that may be given more than once.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

// Environment variables explain reads the introspection client's
// credentials from: never flags, which other users see in ps.
const (
	envIntrospectionClientID     = "BEARERGUARD_INTROSPECTION_CLIENT_ID"
	envIntrospectionClientSecret = "BEARERGUARD_INTROSPECTION_CLIENT_SECRET"
)

// explain runs a token through a real Validator and Check and prints
// what each check made of it, from the middleware's own refusal record.
func explain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, e env) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var issuers, audiences, clientIDs, scopeAlts, scopeClaims, claimReqs, acrValues list
	fs.Var(&issuers, "issuer", "a trusted issuer, exactly as in the token's iss (required; repeat for several: the first is Config.Issuer, the others Config.ExtraIssuers)")
	jwksURL := fs.String("jwks-url", "", "the first issuer's JWK Set URL (default: discovered from the issuer)")
	wait := fs.Duration("wait", 5*time.Second, "how long to wait for the issuer's keys (Config.KeyWait)")
	fs.Var(&audiences, "audience", "an accepted audience (Config.Audiences; required, repeatable)")
	fs.Var(&clientIDs, "client-id", "an accepted client (Config.ClientIDs; repeatable)")
	fs.Var(&scopeAlts, "scope", "the route's scope requirement, as RequireScope: space-separated scopes all required; repeat for alternatives")
	fs.Var(&scopeClaims, "scope-claim", "a claim scopes are read from (Config.ScopeClaims; repeatable; default scope and scp)")
	fs.Var(&claimReqs, "claim", "a claim requirement of the route, CLAIM=VALUES as RequireClaim: space-separated values all required; repeat a claim for alternatives")
	fs.Var(&acrValues, "acr-values", "an acceptable acr of the route (Policy.ACRValues; repeatable)")
	maxAge := fs.Duration("max-age", 0, "the longest time since the user's authentication the route accepts (Policy.MaxAge)")
	acrClaim := fs.String("acr-claim", "", "the claim the acr is read from (Config.ACRClaim; default acr)")
	method := fs.String("method", http.MethodGet, "the request's method (a DPoP proof's htm)")
	target := fs.String("url", "/", "the request's URL, such as https://api.example.com/users (a DPoP proof's htu)")
	proofFile := fs.String("dpop-proof", "", "a file holding the DPoP proof of the request: the token is then sent with the DPoP scheme")
	dpopMode := fs.String("dpop", "", "the route's DPoP mode, allowed or required (Policy.DPoP; default allowed with -dpop-proof, else off)")
	publicBase := fs.String("public-base-url", "", "DPoP.PublicBaseURL (default: the scheme and host of -url)")
	clientCert := fs.String("client-cert", "", "a PEM file holding the client certificate of the TLS connection, for certificate-bound tokens (RFC 8705)")
	introspect := fs.Bool("introspect", false, "accept opaque tokens by introspection (Config.Introspection), as the client of $"+envIntrospectionClientID+" and $"+envIntrospectionClientSecret)
	endpoint := fs.String("introspection-endpoint", "", "Introspection.Endpoint (default: discovered from the issuer)")
	authMethod := fs.String("introspection-auth-method", "", "Introspection.AuthMethod: client_secret_basic (default) or client_secret_post")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if len(issuers) == 0 || len(audiences) == 0 || fs.NArg() > 1 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	usageErr := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "bearerguard explain: "+format+"\n", args...)
		return exitUsage
	}
	policy := middleware.Policy{ACRValues: acrValues, MaxAge: *maxAge}
	var scopeReq scopes.Requirement
	if len(scopeAlts) > 0 {
		req, err := scopes.NewRequirement(scopeAlts...)
		if err != nil {
			return usageErr("-scope: %v", err)
		}
		policy.Scopes, scopeReq = scopeAlts, req
	}
	claimReq, err := claimRequirements(claimReqs)
	if err != nil {
		return usageErr("-claim: %v", err)
	}
	policy.Claims = claimReq
	cfg := middleware.Config{
		Issuer:         issuers[0],
		JWKSURL:        *jwksURL,
		Audiences:      audiences,
		ClientIDs:      clientIDs,
		ScopeClaims:    scopeClaims,
		ACRClaim:       *acrClaim,
		KeyWait:        *wait,
		TokenCacheSize: -1,
		HTTPClient:     e.client,
		Now:            e.now,
	}
	for _, iss := range issuers[1:] {
		cfg.ExtraIssuers = append(cfg.ExtraIssuers, middleware.Issuer{Issuer: iss})
	}
	req, err := http.NewRequestWithContext(ctx, *method, *target, nil)
	if err != nil || (req.URL.Host == "" && !strings.HasPrefix(*target, "/")) {
		return usageErr("-method or -url: not a request method and an absolute URL or path")
	}
	var proof string
	if *proofFile != "" {
		b, err := os.ReadFile(*proofFile)
		if err != nil {
			return usageErr("-dpop-proof: %v", err)
		}
		proof = string(trimSpace(b))
	}
	if *clientCert != "" {
		cert, err := readCertificate(*clientCert)
		if err != nil {
			return usageErr("-client-cert: %v", err)
		}
		req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	}
	switch *dpopMode {
	case "":
		if proof != "" {
			policy.DPoP = middleware.DPoPAllowed
		}
	case "allowed":
		policy.DPoP = middleware.DPoPAllowed
	case "required":
		policy.DPoP = middleware.DPoPRequired
	default:
		return usageErr("-dpop %q: want allowed or required", *dpopMode)
	}
	if policy.DPoP != middleware.DPoPDefault {
		cfg.DPoP.PublicBaseURL = *publicBase
		if *publicBase == "" && req.URL.Host != "" {
			cfg.DPoP.PublicBaseURL = req.URL.Scheme + "://" + req.URL.Host
		}
	}
	if *introspect {
		id, secret := e.getenv(envIntrospectionClientID), e.getenv(envIntrospectionClientSecret)
		if id == "" {
			return usageErr("-introspect: $%s is not set", envIntrospectionClientID)
		}
		cfg.Introspection = &middleware.Introspection{ClientID: id, ClientSecret: secret, Endpoint: *endpoint, AuthMethod: *authMethod}
	}
	if err := policy.Validate(); err != nil {
		return usageErr("%v", err)
	}
	token, err := readToken(fs.Arg(0), stdin)
	if err != nil {
		return usageErr("%v", err)
	}

	rec := &recorder{}
	cfg.Logger = slog.New(rec)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	v, err := middleware.New(ctx, cfg)
	if err != nil {
		return usageErr("%v", err)
	}
	if proof != "" {
		req.Header.Set("Authorization", "DPoP "+token)
		req.Header.Set("DPoP", proof)
	} else {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c, checkErr := v.Check(req, policy)

	fmt.Fprintf(stdout, "bearerguard explain: issuer %s, audience %s", strings.Join(issuers, " "), strings.Join(audiences, " "))
	if len(clientIDs) > 0 {
		fmt.Fprintf(stdout, ", client %s", strings.Join(clientIDs, " "))
	}
	if len(policy.Scopes) > 0 {
		fmt.Fprintf(stdout, ", scope %s", scopeReq.String())
	}
	for _, cr := range policy.Claims {
		fmt.Fprintf(stdout, ", claim %s %s", cr.Claim, cr.Values.String())
	}
	if len(policy.ACRValues) > 0 {
		fmt.Fprintf(stdout, ", acr_values %s", strings.Join(policy.ACRValues, " "))
	}
	if policy.MaxAge > 0 {
		fmt.Fprintf(stdout, ", max_age %s", policy.MaxAge)
	}
	switch policy.DPoP {
	case middleware.DPoPAllowed:
		fmt.Fprint(stdout, ", DPoP allowed")
	case middleware.DPoPRequired:
		fmt.Fprint(stdout, ", DPoP required")
	}
	if proof != "" || *target != "/" {
		fmt.Fprintf(stdout, ", %s %s", req.Method, req.URL)
	}
	if *introspect {
		fmt.Fprintf(stdout, ", introspection as %s", cfg.Introspection.ClientID)
	}
	if req.TLS != nil {
		fmt.Fprint(stdout, ", client certificate")
	}
	fmt.Fprintln(stdout)

	refusal := rec.refusal()
	var failed string
	if checkErr != nil {
		failed = "?"
		if refusal != nil {
			failed = refusal.get("check")
		}
	}
	if refusal != nil && len(refusal.token) > 0 {
		fmt.Fprintln(stdout, "\ntoken, as the middleware read it (non-secret parts):")
		fmt.Fprintf(stdout, "  %s\n", joinAttrs(refusal.token))
		fmt.Fprintf(stdout, "  now=%s leeway=%s\n", refusal.get("now"), refusal.get("leeway"))
	}
	if c != nil {
		fmt.Fprintln(stdout, "\nclaims, verified:")
		fmt.Fprintf(stdout, "  iss=%s aud=%v exp=%s scopes=%v\n", c.Issuer, c.Audience, c.ExpiresAt.UTC().Format(time.RFC3339), c.Scopes)
	}

	fmt.Fprintln(stdout, "\nchecks, in order:")
	reached := true
	for _, name := range checks.Order {
		status, detail := "PASS", ""
		switch {
		case name == failed:
			status, detail = "FAIL", refusal.get("error")
			reached = false
		case !reached:
			status, detail = "----", "not reached"
		case name == checks.Validate ||
			(name == checks.User && len(policy.ACRValues) == 0 && policy.MaxAge <= 0) ||
			(name == checks.Scope && len(policy.Scopes) == 0) ||
			(name == checks.Policy && len(policy.Claims) == 0):
			status, detail = "skip", "not asked for by this route"
		}
		if detail == "" {
			detail = checks.Does[name]
		}
		fmt.Fprintf(stdout, "  %s  %-19s  %s\n", status, name, detail)
		if status == "FAIL" && refusal != nil && len(refusal.want) > 0 {
			fmt.Fprintf(stdout, "  %s  %-19s  want %s\n", "    ", "", joinAttrs(refusal.want))
		}
		if hint := refusal.get("hint"); status == "FAIL" && hint != "" {
			fmt.Fprintf(stdout, "  %s  %-19s  hint: %s\n", "    ", "", hint)
		}
	}

	if failed == checks.Key {
		if err := v.Ready(); err != nil {
			fmt.Fprintln(stdout, "\nissuer keys:")
			for _, ke := range keysErrors(err) {
				fmt.Fprintf(stdout, "  %s\n", ke.Error())
			}
		}
	}

	fmt.Fprintln(stdout, "\nHTTP answer of the middleware:")
	w := httptest.NewRecorder()
	if checkErr != nil {
		var me *middleware.Error
		if !errors.As(checkErr, &me) {
			fmt.Fprintf(stderr, "bearerguard explain: %v\n", checkErr)
			return exitUsage
		}
		v.WriteError(w, me)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	fmt.Fprintf(stdout, "  %d %s\n", w.Code, http.StatusText(w.Code))
	for _, h := range []string{"WWW-Authenticate", "Retry-After"} {
		if val := w.Header().Get(h); val != "" {
			fmt.Fprintf(stdout, "  %s: %s\n", h, val)
		}
	}
	if body := strings.TrimSpace(w.Body.String()); body != "" {
		fmt.Fprintf(stdout, "  %s\n", body)
	}
	if checkErr == nil {
		fmt.Fprintln(stdout, "  (the request reaches the handler)")
	}
	if lines := rec.text(); lines != "" {
		fmt.Fprintln(stdout, "\nlog (Config.Logger):")
		for _, l := range strings.Split(strings.TrimSpace(lines), "\n") {
			fmt.Fprintf(stdout, "  %s\n", l)
		}
	}

	switch {
	case checkErr == nil:
		return exitOK
	case errors.Is(checkErr, middleware.ErrKeysUnavailable):
		return exitUnavailable
	}
	return exitRefused
}

// keysErrors returns the per-issuer causes in the error of Ready.
func keysErrors(err error) []*middleware.KeysError {
	var out []*middleware.KeysError
	var walk func(error)
	walk = func(err error) {
		if ke, ok := err.(*middleware.KeysError); ok {
			out = append(out, ke)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// attr is a flattened attribute of a log record.
type attr struct{ key, val string }

func joinAttrs(as []attr) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.key + "=" + a.val
	}
	return strings.Join(parts, " ")
}

// record is the refusal record of the middleware, flattened.
type record struct {
	top, token, want []attr
}

func (r *record) get(key string) string {
	if r == nil {
		return ""
	}
	for _, a := range r.top {
		if a.key == key {
			return a.val
		}
	}
	return ""
}

// recorder is the validator's slog.Handler: it keeps the refusal record
// and writes every record as the text handler would, without the time.
type recorder struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	recs []*record
}

const refusedMsg = "bearerguard: request refused"

func (h *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *recorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recorder) WithGroup(string) slog.Handler            { return h }

func (h *recorder) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Message == refusedMsg {
		rec := &record{}
		r.Attrs(func(a slog.Attr) bool {
			switch {
			case a.Value.Kind() == slog.KindGroup && a.Key == "token":
				rec.token = flatten(a.Value.Group())
			case a.Value.Kind() == slog.KindGroup && a.Key == "want":
				rec.want = flatten(a.Value.Group())
			default:
				rec.top = append(rec.top, attr{a.Key, format(a.Value)})
			}
			return true
		})
		h.recs = append(h.recs, rec)
	}
	text := slog.NewTextHandler(&h.buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return text.Handle(ctx, r)
}

func (h *recorder) refusal() *record {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.recs) == 0 {
		return nil
	}
	return h.recs[len(h.recs)-1]
}

func (h *recorder) text() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.buf.String()
}

func flatten(as []slog.Attr) []attr {
	out := make([]attr, 0, len(as))
	for _, a := range as {
		out = append(out, attr{a.Key, format(a.Value)})
	}
	return out
}

func format(v slog.Value) string {
	switch v.Kind() {
	case slog.KindTime:
		return v.Time().UTC().Format(time.RFC3339)
	case slog.KindDuration:
		return v.Duration().String()
	}
	return fmt.Sprint(v.Any())
}

// claimRequirements groups -claim CLAIM=VALUES flags by claim, in order of
// first appearance: the values of one flag are all required, the flags of
// one claim are alternatives (RequireClaim's arguments).
func claimRequirements(flags []string) ([]middleware.ClaimRequirement, error) {
	var names []string
	alts := map[string][]string{}
	for _, f := range flags {
		name, values, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not CLAIM=VALUES", f)
		}
		if _, seen := alts[name]; !seen {
			names = append(names, name)
		}
		alts[name] = append(alts[name], values)
	}
	out := make([]middleware.ClaimRequirement, 0, len(names))
	for _, name := range names {
		values, err := scopes.NewRequirement(alts[name]...)
		if err != nil {
			return nil, err
		}
		out = append(out, middleware.ClaimRequirement{Claim: name, Values: values})
	}
	return out, nil
}

// readCertificate returns the first certificate of the PEM file path.
func readCertificate(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("%s holds no PEM CERTIFICATE block", path)
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}
