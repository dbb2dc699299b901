package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// Audience is the audience every app under test accepts, and the default
// audience of [middlewaretest.Spec].
const Audience = "https://api.example.test"

// Case is one request and the answer every front end must give to it.
type Case struct {
	// Name names the subtest.
	Name string
	// Method and Path (with any query) form the request line.
	Method, Path string
	// Header is sent as given, one header line per value.
	Header http.Header

	// Status is the expected status code.
	Status int
	// Challenge is the exact expected WWW-Authenticate value; "" means the
	// header must be absent.
	Challenge string
	// Error, Description, Scope, Claim and ClaimValues are the expected
	// "error", "error_description", "scope", "claim" and "claim_values"
	// fields of the JSON body of a refusal; "" means the field must be
	// absent. Error is "" for a 2xx answer, whose body is then not checked
	// against them.
	Error, Description, Scope, Claim, ClaimValues string
	// RetryAfter says that Retry-After must be present (a positive number of
	// seconds); otherwise it must be absent.
	RetryAfter bool
	// DPoPNonce says that DPoP-Nonce must be present, once (a fresh server
	// nonce, RFC 9449 §9); otherwise it must be absent.
	DPoPNonce bool
	// Body, if not nil, lists fields the JSON body of a 2xx answer must
	// have, with these values (compared after a JSON round trip).
	Body map[string]any
}

// Run is the whole suite for one front end. It starts test issuers, creates
// validators for them and calls build with each; build returns the app to
// test, which must serve these routes with v:
//
//	GET    /health        public, 200
//	GET    /me            Authenticate, 200 JSON {"sub": ..., "client_id": ..., "scopes": [...]}
//	GET    /users         RequireScope("read:users"), 200
//	POST   /users         RequireScope("write:users"), 200
//	DELETE /users/{id}    RequireScope("admin", "users:write users:delete"), 200
//	GET    /optional      AuthenticateOptional, 200 JSON {"anonymous": true} or {"sub": ...}
//	GET    /stepup/mfa    Require(Policy{ACRValues: ["urn:example:mfa"]}), 200
//	GET    /stepup/fresh  Require(Policy{MaxAge: 5 * time.Minute}), 200
//	GET    /.well-known/oauth-protected-resource   the validator's resource metadata handler
//	GET    /claims/org          RequireClaim("org_id", "org_a", "org_b"), 200
//	GET    /claims/permissions  RequireClaim("permissions", "admin", "read:users write:users"), 200
//	GET    /claims/roles        RequireClaim("realm_access.roles", "auditor"), 200
//	GET    /claims/checked      Require(Policy{Claims: [ClaimValues("org_id", "org_a")], Check: RouteCheck}), 200
//	OPTIONS /me           Authenticate, 200
//
// Refusals must be the front end's own, built on v. Run checks [Cases] and
// [ClaimCases] in process and over a real socket with a validator whose
// keys are loaded, then [ResourceCases] with a validator whose Config.Resource is [Audience]
// (ResourceMetadata.ScopesSupported "read:users" and "write:users"),
// then [SourceCases] with a validator reading a token cookie and a custom
// extractor and letting CORS preflights through, then [OpaqueCases] with a
// validator that also introspects opaque tokens (and one whose
// introspection endpoint fails: 503 with Retry-After), then [DPoPCases]
// with a validator that accepts DPoP and certificate-bound tokens, then
// certificate-bound tokens over real TLS connections (runMTLS), then
// [DPoPNonceCases] with a validator that requires server nonces, then the
// refusals of a validator whose issuer is down and of one whose
// issuer serves a broken JWK Set: 503 with Retry-After for any token of
// that issuer, while requests without a token get their usual answers.
// [RunMounted] is run apart, with an app that mounts a route the way the
// front end does.
func Run(t *testing.T, build func(v *middleware.Validator) http.Handler) {
	t.Helper()
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	down := middlewaretest.NewIssuer()
	t.Cleanup(down.Close)
	down.SetStatus(http.StatusServiceUnavailable)
	broken := middlewaretest.NewIssuer()
	t.Cleanup(broken.Close)
	broken.SetJWKS([]byte(`{"keys": "not a JWK Set"`))

	// t.Context is done before the issuers close: the validators' refresh
	// goroutines end first.
	ctx := t.Context()
	cases := append(Cases(iss), defaultSourceCases(iss)...) // before the validator fetches the keys Cases may add
	// A fetch for an unknown kid may take a while on a loaded machine:
	// wait for it, so that the answer is the 401 the case expects and not
	// the 503 of a fetch not done within KeyWait.
	v := newValidator(t, ctx, iss, 10*time.Second, false)
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := v.WaitReady(wait); err != nil {
		t.Fatalf("keys of the test issuer not obtained: %v", err)
	}
	h := build(v)
	t.Run("handler", func(t *testing.T) { RunHandler(t, h, cases) })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Run("socket", func(t *testing.T) { RunURL(t, srv.URL, cases) })
	t.Run("claims", func(t *testing.T) {
		ccases := ClaimCases(iss)
		t.Run("handler", func(t *testing.T) { RunHandler(t, h, ccases) })
		t.Run("socket", func(t *testing.T) { RunURL(t, srv.URL, ccases) })
	})

	t.Run("resource", func(t *testing.T) {
		rv := newValidator(t, ctx, iss, 10*time.Second, true)
		if err := rv.WaitReady(wait); err != nil {
			t.Fatalf("keys of the test issuer not obtained: %v", err)
		}
		rh := build(rv)
		rcases := ResourceCases(iss)
		t.Run("handler", func(t *testing.T) { RunHandler(t, rh, rcases) })
		srv := httptest.NewServer(rh)
		t.Cleanup(srv.Close)
		t.Run("socket", func(t *testing.T) { RunURL(t, srv.URL, rcases) })
	})
	t.Run("sources", func(t *testing.T) { runSources(t, iss, build) })
	t.Run("opaque", func(t *testing.T) { runOpaque(t, iss, build) })
	t.Run("dpop and mtls", func(t *testing.T) { runDPoP(t, iss, proxyMTLS, build, DPoPCases) })
	t.Run("mtls over TLS", func(t *testing.T) { runMTLS(t, iss, h) })
	t.Run("dpop nonces", func(t *testing.T) { runDPoPNonce(t, iss, build) })
	t.Run("issuer down", func(t *testing.T) {
		RunHandler(t, build(newValidator(t, ctx, down, 200*time.Millisecond, false)), unavailableCases(down, iss))
	})
	t.Run("broken JWKS", func(t *testing.T) {
		RunHandler(t, build(newValidator(t, ctx, broken, 200*time.Millisecond, false)), unavailableCases(broken, iss))
	})
}

// newValidator returns a validator for iss with the defaults Cases expects,
// a short MinRefreshInterval and the given KeyWait (short where 503 answers
// should come at once); with resource, the Config.Resource and
// ResourceMetadata ResourceCases expects.
func newValidator(t *testing.T, ctx context.Context, iss *middlewaretest.Issuer, keyWait time.Duration, resource bool) *middleware.Validator {
	t.Helper()
	cfg := suiteConfig(iss, keyWait)
	if resource {
		cfg.Resource = Audience
		cfg.ResourceMetadata.ScopesSupported = []string{"read:users", "write:users"}
	}
	v, err := middleware.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// RouteCheck is the Policy.Check of the /claims/checked route: a token
// with "suspended" is refused with a plain error (403 insufficient_claims),
// one whose "tenant" is not "t1" with a NewError of that category and its
// own description, and one whose "jti" is "revoked" with a 401
// invalid_token: an *Error is answered as it is.
func RouteCheck(_ context.Context, c *claims.Claims) error {
	var custom struct {
		Suspended bool   `json:"suspended"`
		Tenant    string `json:"tenant"`
	}
	if err := c.Decode(&custom); err != nil {
		return err
	}
	switch {
	case custom.Suspended:
		return errors.New("conformance: the account is suspended")
	case c.ID == "revoked":
		return middleware.NewError(middleware.ErrInvalidToken, RevokedDescription, nil)
	case custom.Tenant != "" && custom.Tenant != "t1":
		return middleware.NewError(middleware.ErrInsufficientClaims, TenantDescription, nil)
	}
	return nil
}

// The descriptions of RouteCheck's own refusals.
const (
	RevokedDescription = "the token was revoked"
	TenantDescription  = "the tenant is not served here"
)

// httptestServer starts a server for h, closed when t ends, and returns
// its URL.
// suiteConfig is the Config every validator of the suite starts from: iss
// trusted for Audience through its own client, a short MinRefreshInterval
// and the given KeyWait.
func suiteConfig(iss *middlewaretest.Issuer, keyWait time.Duration) middleware.Config {
	return middleware.Config{
		Issuer:             iss.URL,
		Audiences:          []string{Audience},
		HTTPClient:         iss.Client(),
		KeyWait:            keyWait,
		MinRefreshInterval: 100 * time.Millisecond,
	}
}

// runWith runs the cases that cases returns against the app build makes
// for a validator of cfg, once its keys are obtained: in process, then
// over a socket. cases is called for each run, so that a run may get
// fresh proofs (a proof is accepted once).
func runWith(t *testing.T, cfg middleware.Config, build func(v *middleware.Validator) http.Handler, cases func() []Case) {
	t.Helper()
	v, err := middleware.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(wait); err != nil {
		t.Fatalf("keys of the test issuer not obtained: %v", err)
	}
	h := build(v)
	t.Run("handler", func(t *testing.T) { RunHandler(t, h, cases()) })
	t.Run("socket", func(t *testing.T) { RunURL(t, httptestServer(t, h), cases()) })
}

func httptestServer(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// RunHandler runs cases against h in process, one subtest each.
func RunHandler(t *testing.T, h http.Handler, cases []Case) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			r := httptest.NewRequest(c.Method, c.Path, nil)
			r.Header = c.Header.Clone()
			if r.Header == nil {
				r.Header = http.Header{}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			res := w.Result()
			defer res.Body.Close()
			check(t, c, res)
		})
	}
}

// RunURL runs cases against the server at baseURL, such as
// "http://127.0.0.1:8080", one subtest each.
func RunURL(t *testing.T, baseURL string, cases []Case) {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			r, err := http.NewRequestWithContext(t.Context(), c.Method, baseURL+c.Path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range c.Header {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			res, err := client.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			check(t, c, res)
		})
	}
}

// errorFields are the fields of a refusal's JSON body.
var errorFields = []string{"error", "error_description", "scope", "claim", "claim_values"}

func check(t *testing.T, c Case, res *http.Response) {
	t.Helper()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != c.Status {
		t.Errorf("status %d, want %d; body %s", res.StatusCode, c.Status, body)
	}
	got := res.Header.Values("WWW-Authenticate")
	switch {
	case c.Challenge == "" && len(got) > 0:
		t.Errorf("WWW-Authenticate %q, want none", got)
	case c.Challenge != "" && (len(got) != 1 || got[0] != c.Challenge):
		t.Errorf("WWW-Authenticate %q, want %q", got, c.Challenge)
	}
	ra := res.Header.Values("Retry-After")
	if c.RetryAfter {
		if n, err := strconv.Atoi(first(ra)); len(ra) != 1 || err != nil || n < 1 {
			t.Errorf("Retry-After %q, want one positive number of seconds", ra)
		}
	} else if len(ra) > 0 {
		t.Errorf("Retry-After %q, want none", ra)
	}
	if n := res.Header.Values("DPoP-Nonce"); c.DPoPNonce && (len(n) != 1 || n[0] == "") {
		t.Errorf("DPoP-Nonce %q, want one fresh nonce", n)
	} else if !c.DPoPNonce && len(n) > 0 {
		t.Errorf("DPoP-Nonce %q, want none", n)
	}

	if c.Error == "" && c.Body == nil {
		return
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "application/json" {
		t.Errorf("Content-Type %q, want application/json", res.Header.Get("Content-Type"))
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	if c.Error != "" {
		want := map[string]string{
			"error": c.Error, "error_description": c.Description, "scope": c.Scope,
			"claim": c.Claim, "claim_values": c.ClaimValues,
		}
		for _, f := range errorFields {
			v, ok := m[f]
			if s, _ := v.(string); want[f] == "" && ok || want[f] != "" && s != want[f] {
				t.Errorf("body field %q = %#v, want %q; body %s", f, v, want[f], body)
			}
		}
		for f := range m {
			if _, ok := want[f]; !ok {
				t.Errorf("unexpected body field %q; body %s", f, body)
			}
		}
	}
	for f, v := range c.Body {
		if want := roundTrip(t, v); !reflect.DeepEqual(m[f], want) {
			t.Errorf("body field %q = %#v, want %#v; body %s", f, m[f], want, body)
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// roundTrip returns v as encoding/json decodes it into an any.
func roundTrip(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
