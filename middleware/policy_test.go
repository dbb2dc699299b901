package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/bearerguard/bearerguard/scopes"
)

// TestClaimRequirements: a route's Policy.Claims are met by the named
// claim (dotted paths as ScopeClaims) holding every value of one
// alternative, a string as one value, an array by its string elements; a
// failing token is answered 403 insufficient_claims (never 401 or
// insufficient_scope) with the requirement's claim and values in the
// challenge and the body.
func TestClaimRequirements(t *testing.T) {
	kit := hgKit(t)
	// Scopes merged from "permissions", the setup the issue started from:
	// a scope must still not stand in for a permission.
	v := hgReady(t, kit, middleware.Config{ScopeClaims: []string{"scope", "permissions"}})
	org := middleware.ClaimValues("org_id", "org_a", "org_b")
	perms := middleware.ClaimValues("permissions", "admin", "read:users write:users")
	roles := middleware.ClaimValues("realm_access.roles", "auditor")
	nsorg := middleware.ClaimValues("https://example.com/org.id", "org_a")
	token := func(kv ...any) string { return kit.Sign(nil, hgWith(hgClaims(kit, nil), kv...)) }
	for _, tc := range []struct {
		name   string
		req    middleware.ClaimRequirement
		token  string
		want   error // nil: accepted
		values string
	}{
		{"string equals the first value", org, token("org_id", "org_a"), nil, ""},
		{"string equals another value", org, token("org_id", "org_b"), nil, ""},
		{"string equals none", org, token("org_id", "org_c"), middleware.ErrClaimValuesNotAccepted, "org_a org_b"},
		{"string is case-sensitive", org, token("org_id", "ORG_A"), middleware.ErrClaimValuesNotAccepted, "org_a org_b"},
		{"string is not split", org, token("org_id", "org_a org_b"), middleware.ErrClaimValuesNotAccepted, "org_a org_b"},
		{"array includes a value", org, token("org_id", []any{"org_x", "org_b"}), nil, ""},
		{"claim absent", org, token(), middleware.ErrClaimMissing, "org_a org_b"},
		{"claim a number", org, token("org_id", 7), middleware.ErrClaimMissing, "org_a org_b"},
		{"claim an object", org, token("org_id", map[string]any{"org_a": true}), middleware.ErrClaimMissing, "org_a org_b"},
		{"permissions: first alternative", perms, token("permissions", []any{"admin"}), nil, ""},
		{"permissions: all of the second", perms, token("permissions", []any{"write:users", "read:users"}), nil, ""},
		{"permissions: part of the second", perms, token("permissions", []any{"read:users"}), middleware.ErrClaimValuesNotAccepted, "admin read:users write:users"},
		{"permissions: empty array", perms, token("permissions", []any{}), middleware.ErrClaimValuesNotAccepted, "admin read:users write:users"},
		{"array: non-strings ignored", middleware.ClaimValues("roles", "admin"), token("roles", []any{1, "admin"}), nil, ""},
		{"a scope is not a permission", perms, token("scope", "admin", "permissions", []any{"read:users"}), middleware.ErrClaimValuesNotAccepted, "admin read:users write:users"},
		{"dotted path", roles, token("realm_access", map[string]any{"roles": []any{"auditor"}}), nil, ""},
		{"dotted path, other role", roles, token("realm_access", map[string]any{"roles": []any{"user"}}), middleware.ErrClaimValuesNotAccepted, "auditor"},
		{"dotted path absent", roles, token("realm_access", map[string]any{}), middleware.ErrClaimMissing, "auditor"},
		{"namespaced name leads a path", nsorg, token("https://example.com/org", map[string]any{"id": "org_a"}), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := middleware.Policy{Claims: []middleware.ClaimRequirement{tc.req}}
			_, err := v.Check(hgRequest(tc.token), p)
			e := hgWant(t, err, hgWants(tc.want)...)
			w := hgServe(v.Require(p)(hgOK), hgRequest(tc.token))
			if tc.want == nil {
				if w.Code != http.StatusOK {
					t.Fatalf("status %d, want 200", w.Code)
				}
				return
			}
			if w.Code != http.StatusForbidden || e.Status != http.StatusForbidden {
				t.Fatalf("status %d (error %d), want 403", w.Code, e.Status)
			}
			hgCheckChallenge(t, w.Result().Header, middleware.ErrInsufficientClaims)
			attrs := hgChallengeAttrs(t, w.Header().Get("WWW-Authenticate"))
			if attrs["claim"] != tc.req.Claim || attrs["claim_values"] != tc.values || attrs["scope"] != "" {
				t.Errorf("challenge claim=%q claim_values=%q scope=%q; want %q %q and no scope", attrs["claim"], attrs["claim_values"], attrs["scope"], tc.req.Claim, tc.values)
			}
			var body middleware.ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body.Error != middleware.CodeInsufficientClaims || body.Claim != tc.req.Claim || body.ClaimValues != tc.values || body.Scope != "" {
				t.Errorf("body %+v", body)
			}
		})
	}
}

// TestRequireClaim: the decorator is Require with one ClaimValues, and all
// of a Policy's requirements must be met.
func TestRequireClaim(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{})
	token := func(kv ...any) string { return kit.Sign(nil, hgWith(hgClaims(kit, nil), kv...)) }
	both := middleware.Policy{Claims: []middleware.ClaimRequirement{
		middleware.ClaimValues("org_id", "org_a"),
		middleware.ClaimValues("permissions", "read:users"),
	}}
	for _, tc := range []struct {
		name  string
		mw    func(http.Handler) http.Handler
		token string
		want  error
	}{
		{"RequireClaim met", v.RequireClaim("org_id", "org_a"), token("org_id", "org_a"), nil},
		{"RequireClaim not met", v.RequireClaim("org_id", "org_a"), token("org_id", "org_b"), middleware.ErrClaimValuesNotAccepted},
		{"RequireClaim without token", v.RequireClaim("org_id", "org_a"), "", middleware.ErrNoToken},
		{"RequireClaim, invalid token", v.RequireClaim("org_id", "org_a"), "not-a-jws", middleware.ErrInvalidToken},
		{"both met", v.Require(both), token("org_id", "org_a", "permissions", []any{"read:users"}), nil},
		{"second not met", v.Require(both), token("org_id", "org_a"), middleware.ErrClaimMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := hgServe(tc.mw(hgOK), hgRequest(tc.token))
			if tc.want == nil {
				if w.Code != http.StatusOK {
					t.Fatalf("status %d, want 200", w.Code)
				}
				return
			}
			cat := hgCategoryOf(tc.want)
			if w.Code != hgStatusOf(cat) {
				t.Fatalf("status %d, want %d", w.Code, hgStatusOf(cat))
			}
			hgCheckChallenge(t, w.Result().Header, cat)
		})
	}
}

// TestPolicyOrder: the user's authentication (401) comes before the scopes
// (403 insufficient_scope), which come before the claim requirements, in
// order, and the route's check last; an anonymous request on an optional
// route meets none of them and passes.
func TestPolicyOrder(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{})
	checked := 0
	p := middleware.ScopePolicy("admin")
	p.ACRValues = []string{"urn:example:mfa"}
	p.Claims = []middleware.ClaimRequirement{middleware.ClaimValues("org_id", "org_a"), middleware.ClaimValues("tier", "gold")}
	p.Check = func(context.Context, *claims.Claims) error { checked++; return errors.New("no") }
	token := func(kv ...any) string { return kit.Sign(nil, hgWith(hgClaims(kit, nil), kv...)) }
	for _, tc := range []struct {
		name  string
		token string
		want  error
		claim string
	}{
		{"acr first", token("scope", "read"), middleware.ErrACRNotAccepted, ""},
		{"scope second", token("acr", "urn:example:mfa", "scope", "read"), middleware.ErrInsufficientScope, ""},
		{"first claim third", token("acr", "urn:example:mfa", "scope", "admin"), middleware.ErrClaimMissing, "org_id"},
		{"second claim next", token("acr", "urn:example:mfa", "scope", "admin", "org_id", "org_a"), middleware.ErrClaimMissing, "tier"},
		{"check last", token("acr", "urn:example:mfa", "scope", "admin", "org_id", "org_a", "tier", "gold"), middleware.ErrCheckRejected, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checked = 0
			_, err := v.Check(hgRequest(tc.token), p)
			e := hgWant(t, err, tc.want)
			if e.Claim != tc.claim {
				t.Errorf("Claim %q, want %q", e.Claim, tc.claim)
			}
			if want := 0; tc.want == middleware.ErrCheckRejected {
				if checked != 1 {
					t.Errorf("check ran %d times, want 1", checked)
				}
			} else if checked != want {
				t.Errorf("check ran %d times before an earlier requirement refused", checked)
			}
		})
	}
	p.Optional = true
	checked = 0
	if c, err := v.Check(hgRequest(""), p); err != nil || c != nil || checked != 0 {
		t.Errorf("anonymous on an optional route: claims %v, error %v, check ran %d times", c, err, checked)
	}
}

// TestPolicyCheck: the route's own check gets the request's context and
// the claims; an *Error it returns (wrapped or not) is the answer, any
// other error is 403 insufficient_claims matching ErrCheckRejected and the
// cause, whose text is never sent.
func TestPolicyCheck(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{})
	type ctxKey struct{}
	cause := errors.New("tenant-7-is-suspended")
	custom := middleware.NewError(middleware.ErrInsufficientScope, "needs the billing scope", nil)
	custom.Scope = "billing"
	for _, tc := range []struct {
		name   string
		result error
		want   []error // nil: accepted
	}{
		{"nil", nil, nil},
		{"plain error", cause, []error{middleware.ErrCheckRejected, cause}},
		{"*Error as is", custom, []error{middleware.ErrInsufficientScope}},
		{"wrapped *Error as is", fmt.Errorf("wrapped: %w", custom), []error{middleware.ErrInsufficientScope}},
		{"NewError of the claims category", middleware.NewError(middleware.ErrInsufficientClaims, "", cause), []error{middleware.ErrInsufficientClaims, cause}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gotSub string
			var gotCtx any
			p := middleware.Policy{Check: func(ctx context.Context, c *claims.Claims) error {
				gotSub, gotCtx = c.Subject, ctx.Value(ctxKey{})
				return tc.result
			}}
			r := hgRequest(hgToken(kit, middlewaretest.Spec{}))
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, "request-context"))
			_, err := v.Check(r, p)
			e := hgWant(t, err, tc.want...)
			if gotSub != "user-123" || gotCtx != "request-context" {
				t.Errorf("check got subject %q and context value %v", gotSub, gotCtx)
			}
			w := hgServe(v.Require(p)(hgOK), r)
			if tc.want == nil {
				if w.Code != http.StatusOK {
					t.Fatalf("status %d, want 200", w.Code)
				}
				return
			}
			if w.Code != e.Status {
				t.Errorf("status %d, want %d", w.Code, e.Status)
			}
			hgCheckChallenge(t, w.Result().Header, hgCategoryOf(tc.want...))
			if strings.Contains(w.Body.String()+w.Header().Get("WWW-Authenticate"), cause.Error()) {
				t.Error("the check's error text was sent to the client")
			}
		})
	}
}

// TestPolicyValidate: a claim requirement no token could meet, or that
// cannot be put in a challenge, is a programmer error caught when the
// route is registered.
func TestPolicyValidate(t *testing.T) {
	kit := hgKit(t)
	v := hgNew(t, kit, middleware.Config{})
	for _, tc := range []struct {
		name string
		f    func()
		want error
	}{
		{"ClaimValues empty claim", func() { middleware.ClaimValues("", "a") }, middleware.ErrInvalidConfig},
		{"ClaimValues quote in claim", func() { middleware.ClaimValues(`org"id`, "a") }, middleware.ErrInvalidConfig},
		{"ClaimValues non-ASCII claim", func() { middleware.ClaimValues("orgé", "a") }, middleware.ErrInvalidConfig},
		{"ClaimValues no alternative", func() { middleware.ClaimValues("org_id") }, scopes.ErrInvalidScope},
		{"ClaimValues empty alternative", func() { middleware.ClaimValues("org_id", "a", " ") }, scopes.ErrInvalidScope},
		{"ClaimValues quote in value", func() { middleware.ClaimValues("org_id", `a"b`) }, scopes.ErrInvalidScope},
		{"RequireClaim", func() { v.RequireClaim("org_id") }, scopes.ErrInvalidScope},
		{"Require zero ClaimRequirement", func() { v.Require(middleware.Policy{Claims: []middleware.ClaimRequirement{{}}}) }, middleware.ErrInvalidConfig},
		{"Require no alternative", func() {
			v.Require(middleware.Policy{Claims: []middleware.ClaimRequirement{{Claim: "org_id"}}})
		}, middleware.ErrInvalidConfig},
		{"Require empty scope alternative", func() { v.Require(middleware.Policy{Scopes: []string{"admin", " "}}) }, scopes.ErrInvalidScope},
		{"Require quote in scope", func() { v.Require(middleware.Policy{Scopes: []string{`a"b`}}) }, middleware.ErrInvalidConfig},
		{"Require unknown DPoP mode", func() { v.Require(middleware.Policy{DPoP: middleware.DPoPRequired + 1}) }, middleware.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				err, _ := recover().(error)
				if !errors.Is(err, tc.want) {
					t.Errorf("panic value %v, want an error matching %v", err, tc.want)
				}
			}()
			tc.f()
		})
	}
	if err := (middleware.Policy{Claims: []middleware.ClaimRequirement{{Claim: "x"}}}).Validate(); !errors.Is(err, middleware.ErrInvalidConfig) {
		t.Errorf("Validate: %v, want ErrInvalidConfig", err)
	}
}

// TestCommaWarning: a scope or claim value with a comma is legal but
// almost always a list written as one value: registering such a route logs
// one warning through Config.Logger; requests log none, and a route
// without a comma logs nothing.
func TestCommaWarning(t *testing.T) {
	kit := hgKit(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v := hgReady(t, kit, middleware.Config{Logger: logger})
	warnings := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, rec := range parseRecords(t, buf.String()) {
			if rec["level"] == "WARN" {
				n++
			}
		}
		buf.Reset()
		return n
	}
	for _, tc := range []struct {
		name string
		f    func() func(http.Handler) http.Handler
		want int
	}{
		{"RequireScope with a comma", func() func(http.Handler) http.Handler { return v.RequireScope("read:users,write:users") }, 1},
		{"two such scopes, one warning", func() func(http.Handler) http.Handler { return v.RequireScope("a,b", "c,d e") }, 1},
		{"RequireClaim with a comma", func() func(http.Handler) http.Handler { return v.RequireClaim("permissions", "read:users,write:users") }, 1},
		{"Require with a comma", func() func(http.Handler) http.Handler { return v.Require(middleware.ScopePolicy("a,b")) }, 1},
		{"no comma", func() func(http.Handler) http.Handler { return v.RequireScope("read:users write:users", "admin") }, 0},
		{"no comma in claims", func() func(http.Handler) http.Handler { return v.RequireClaim("org_id", "org_a") }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warnings()
			mw := tc.f()
			if n := warnings(); n != tc.want {
				t.Errorf("%d warnings at registration, want %d", n, tc.want)
			}
			hgServe(mw(hgOK), hgRequest(hgToken(kit, middlewaretest.Spec{})))
			hgServe(mw(hgOK), hgRequest(hgToken(kit, middlewaretest.Spec{})))
			if n := warnings(); n != 0 {
				t.Errorf("%d warnings when serving, want 0", n)
			}
		})
	}
	// ValidatePolicy is the same check for integrations built on Check.
	if err := v.ValidatePolicy(middleware.ScopePolicy("x,y")); err != nil || warnings() != 1 {
		t.Error("ValidatePolicy: no warning for a comma")
	}
	if err := v.ValidatePolicy(middleware.Policy{MaxAge: -1}); !errors.Is(err, middleware.ErrInvalidConfig) {
		t.Errorf("ValidatePolicy of an invalid policy: %v", err)
	}
}

// TestPolicyLiteral: a route's whole policy is one composite literal
// (scopes as RequireScope's alternatives, a DPoP mode by value), and it
// decides as RequireScope and a per-route DPoP mode do.
func TestPolicyLiteral(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{})
	key := middlewaretest.NewDPoPKey("ES256")
	bound := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint(), Scopes: []string{"users:write", "users:delete"}})
	p := middleware.Policy{Scopes: []string{"admin", "users:write users:delete"}, DPoP: middleware.DPoPRequired}
	for _, tc := range []struct {
		name string
		r    *http.Request
		want error // nil: accepted
	}{
		{"DPoP, all scopes of an alternative", hgDPoPRequest(bound, hgProof(key, bound, middlewaretest.Proof{})), nil},
		{"Bearer on a DPoP route", hgRequest(hgToken(kit, middlewaretest.Spec{Scopes: []string{"admin"}})), middleware.ErrDPoPRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Check(tc.r, p)
			hgWant(t, err, hgWants(tc.want)...)
		})
	}
	partial := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint(), Scopes: []string{"users:write"}})
	_, err := v.Check(hgDPoPRequest(partial, hgProof(key, partial, middlewaretest.Proof{})), p)
	hgWant(t, err, middleware.ErrInsufficientScope)
	if e, ok := errors.AsType[*middleware.Error](err); !ok || e.Scope != "admin users:write users:delete" {
		t.Errorf("refusal %v, want scope attribute %q", err, "admin users:write users:delete")
	}
	// ScopePolicy is the same literal.
	if got := middleware.ScopePolicy("admin", "users:write users:delete").Scopes; !slices.Equal(got, p.Scopes) {
		t.Errorf("ScopePolicy Scopes %q, want %q", got, p.Scopes)
	}
}
