package middleware_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestStepUp: a route's ACRValues and MaxAge (RFC 9470) are met by the
// token's "acr" and "auth_time", or the request is refused with 401
// insufficient_user_authentication carrying the route's acr_values and
// max_age (§3), whichever requirement failed.
func TestStepUp(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{})
	mfa := middleware.Policy{ACRValues: []string{"urn:example:mfa", "urn:example:hwk"}}
	fresh := middleware.Policy{MaxAge: 5 * time.Minute}
	both := middleware.Policy{ACRValues: []string{"urn:example:mfa"}, MaxAge: 5 * time.Minute}
	scoped := middleware.ScopePolicy("admin")
	scoped.ACRValues = []string{"urn:example:mfa"}
	user := func(kv ...any) string {
		return kit.Sign(nil, hgWith(hgClaims(kit, nil), kv...))
	}
	recent, old := hgNow.Add(-time.Minute).Unix(), hgNow.Add(-time.Hour).Unix()
	for _, tc := range []struct {
		name   string
		p      middleware.Policy
		token  string
		want   error // nil: accepted
		acr    string
		maxAge string
	}{
		{"acr accepted", mfa, user("acr", "urn:example:mfa"), nil, "", ""},
		{"second acr accepted", mfa, user("acr", "urn:example:hwk"), nil, "", ""},
		{"acr not accepted", mfa, user("acr", "urn:example:pwd"), middleware.ErrACRNotAccepted, "urn:example:mfa urn:example:hwk", ""},
		{"acr case-sensitive", mfa, user("acr", "URN:EXAMPLE:MFA"), middleware.ErrACRNotAccepted, "urn:example:mfa urn:example:hwk", ""},
		{"acr absent", mfa, user(), middleware.ErrACRNotAccepted, "urn:example:mfa urn:example:hwk", ""},
		{"auth_time recent", fresh, user("auth_time", recent), nil, "", ""},
		{"auth_time at MaxAge plus leeway", fresh, user("auth_time", hgNow.Add(-5*time.Minute-middleware.DefaultLeeway).Unix()), nil, "", ""},
		{"auth_time beyond MaxAge plus leeway", fresh, user("auth_time", hgNow.Add(-5*time.Minute-middleware.DefaultLeeway-time.Second).Unix()), middleware.ErrAuthenticationTooOld, "", "300"},
		{"auth_time old", fresh, user("auth_time", old), middleware.ErrAuthenticationTooOld, "", "300"},
		{"auth_time absent", fresh, user(), middleware.ErrAuthenticationTooOld, "", "300"},
		{"auth_time in the future", fresh, user("auth_time", hgNow.Add(time.Hour).Unix()), middleware.ErrAuthenticationTooOld, "", "300"},
		{"both met", both, user("acr", "urn:example:mfa", "auth_time", recent), nil, "", ""},
		{"both, acr fails", both, user("acr", "urn:example:pwd", "auth_time", recent), middleware.ErrACRNotAccepted, "urn:example:mfa", "300"},
		{"both, auth_time fails", both, user("acr", "urn:example:mfa", "auth_time", old), middleware.ErrAuthenticationTooOld, "urn:example:mfa", "300"},
		{"machine token", mfa, hgToken(kit, middlewaretest.Spec{Machine: true, Claims: map[string]any{"acr": "urn:example:mfa"}}), middleware.ErrMachineToken, "urn:example:mfa urn:example:hwk", ""},
		{"machine token, MaxAge", fresh, hgToken(kit, middlewaretest.Spec{Machine: true, Claims: map[string]any{"auth_time": recent}}), middleware.ErrMachineToken, "", "300"},
		{"user authentication before scope", scoped, user("acr", "urn:example:pwd"), middleware.ErrACRNotAccepted, "urn:example:mfa", ""},
		{"scope after user authentication", scoped, user("acr", "urn:example:mfa"), middleware.ErrInsufficientScope, "", ""},
		{"no requirement: machine token", middleware.Policy{}, hgToken(kit, middlewaretest.Spec{Machine: true}), nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := hgServe(v.Require(tc.p)(hgOK), hgRequest(tc.token))
			_, err := v.Check(hgRequest(tc.token), tc.p)
			e := hgWant(t, err, hgWants(tc.want)...)
			if tc.want == nil {
				if w.Code != http.StatusOK {
					t.Fatalf("status %d, want 200", w.Code)
				}
				return
			}
			if w.Code != e.Status {
				t.Fatalf("status %d, want %d", w.Code, e.Status)
			}
			hgCheckChallenge(t, w.Result().Header, hgCategoryOf(tc.want))
			attrs := hgChallengeAttrs(t, w.Header().Get("WWW-Authenticate"))
			if attrs["acr_values"] != tc.acr || attrs["max_age"] != tc.maxAge {
				t.Errorf("acr_values=%q max_age=%q, want %q %q", attrs["acr_values"], attrs["max_age"], tc.acr, tc.maxAge)
			}
		})
	}
}

// hgWants is want as the arguments of hgWant: none for nil.
func hgWants(want error) []error {
	if want == nil {
		return nil
	}
	return []error{want}
}

// TestStepUpACRClaim: Config.ACRClaim names another claim, a string or an
// array of strings any element of which may match (Entra ID's "acrs").
func TestStepUpACRClaim(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{ACRClaim: "acrs"})
	p := middleware.Policy{ACRValues: []string{"c2"}}
	for _, tc := range []struct {
		name string
		acrs any
		want error
	}{
		{"array with the value", []string{"c1", "c2"}, nil},
		{"string", "c2", nil},
		{"array without the value", []string{"c1", "c3"}, middleware.ErrACRNotAccepted},
		{"absent", nil, middleware.ErrACRNotAccepted},
		{"number", 2, middleware.ErrACRNotAccepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// "acr" is not read when ACRClaim names another claim.
			token := kit.Sign(nil, hgWith(hgClaims(kit, nil), "acrs", tc.acrs, "acr", "c2"))
			_, err := v.Check(hgRequest(token), p)
			hgWant(t, err, hgWants(tc.want)...)
		})
	}
}

// TestStepUpClaims: "acr" and "auth_time" land in the claims; of the
// wrong JSON type they refuse the token, as every claim bearerguard reads.
func TestStepUpClaims(t *testing.T) {
	kit := hgKit(t)
	h := hgNewHarness(t, kit, middleware.Config{Now: func() time.Time { return hgNow }})
	h.waitReady(t)
	at := hgNow.Add(-time.Minute).Truncate(time.Second)
	c, err := h.v.ValidateToken(t.Context(), kit.Sign(nil, hgClaims(kit, map[string]any{"acr": "urn:example:mfa", "auth_time": at.Unix()})))
	if err != nil {
		t.Fatal(err)
	}
	if c.ACR != "urn:example:mfa" || !c.AuthTime.Equal(at) {
		t.Errorf("ACR %q AuthTime %v, want urn:example:mfa %v", c.ACR, c.AuthTime, at)
	}
	for name, kv := range map[string][]any{
		"acr number":       {"acr", 1},
		"acr array":        {"acr", []string{"urn:example:mfa"}},
		"auth_time string": {"auth_time", "1700000000"},
		"ACR":              {"ACR", "urn:example:mfa"},
	} {
		t.Run(name, func(t *testing.T) {
			h.refuse(t, kit.Sign(nil, hgClaims(kit, map[string]any{kv[0].(string): kv[1]})), middleware.ErrMalformedToken)
		})
	}
}

// TestRequirePanics: a Policy that cannot be answered is a programmer
// error caught at registration.
func TestRequirePanics(t *testing.T) {
	kit := hgKit(t)
	v := hgNew(t, kit, middleware.Config{})
	for name, p := range map[string]middleware.Policy{
		"empty acr":        {ACRValues: []string{""}},
		"acr with a space": {ACRValues: []string{"a b"}},
		"acr with a quote": {ACRValues: []string{`a"b`}},
		"negative MaxAge":  {MaxAge: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			if err := p.Validate(); !errors.Is(err, middleware.ErrInvalidConfig) {
				t.Errorf("Validate() = %v, want ErrInvalidConfig", err)
			}
			defer func() {
				if err, _ := recover().(error); !errors.Is(err, middleware.ErrInvalidConfig) {
					t.Errorf("panic value %v, want an error matching ErrInvalidConfig", err)
				}
			}()
			v.Require(p)
		})
	}
}
