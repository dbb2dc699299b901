package middleware_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
)

// TestHardeningClaimNameCase: claim names are case-sensitive (RFC 7519
// §4), but encoding/json matches struct fields case-insensitively (with
// Unicode folding: "ſ" is "s", "K" is "k"). A member whose name folds to a
// claim bearerguard reads without being it ("ISS", "Scope", "ſcope") is
// refused rather than read as that claim.
func TestHardeningClaimNameCase(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	hdr := `{"alg":"RS256","kid":"rsa-rs256","typ":"at+jwt"}`
	sign := func(payload string) string { return hgSignRaw(t, "RS256", k.rsa, hdr, payload) }
	m := hgValidClaims(f.kit.URL)
	delete(m, "iss")
	noIss := hgMustJSON(m)
	for name, payload := range map[string]string{
		"ISS instead of iss":    `{"ISS":` + hgMustJSON(f.kit.URL) + `,` + noIss[1:],
		"Iss after iss":         hgPayload(f.kit.URL, `"Iss":"https://evil.example"`),
		"Scope":                 hgPayload(f.kit.URL, `"Scope":"admin"`),
		"SCP":                   hgPayload(f.kit.URL, `"SCP":["admin"]`),
		"long s (U+017F) scope": hgPayload(f.kit.URL, `"ſcope":"admin"`),
		"escaped Scope":         hgPayload(f.kit.URL, `"\u0053cope":"admin"`),
		"Exp":                   hgPayload(f.kit.URL, fmt.Sprintf(`"Exp":%d`, time.Now().Add(-time.Hour).Unix())),
		"Client_ID":             hgPayload(f.kit.URL, `"Client_ID":"other"`),
		"Aud":                   hgPayload(f.kit.URL, `"Aud":"https://other.example"`),
	} {
		t.Run(name, func(t *testing.T) {
			f.h.refuse(t, sign(payload), middleware.ErrMalformedToken)
		})
	}
	// Escaped values are compared decoded.
	f.h.accept(t, sign(strings.Replace(hgPayload(f.kit.URL), `"aud":"https://`, `"aud":"https:\/\/`, 1)))
	f.h.accept(t, sign(strings.Replace(hgPayload(f.kit.URL), `"iss":"http://`, `"iss":"\u0068ttp:\/\/`, 1)))
	f.h.refuse(t, sign(strings.Replace(hgPayload(f.kit.URL), `"iss":"http://`, `"iss":"\u0048ttp://`, 1)), middleware.ErrInvalidIssuer)
	f.h.accept(t, sign(" \n"+hgPayload(f.kit.URL)+"\t "))
	// An escape that spells the exact name is that name: here a second
	// "scope".
	f.h.refuse(t, sign(hgPayload(f.kit.URL, `"\u0073cope":"read:users"`)), middleware.ErrMalformedToken)
	// Custom claims of any case are the application's business.
	f.h.accept(t, sign(hgPayload(f.kit.URL, `"Roles":["a"]`, `"ORG_ID":"o"`)))
}

// TestHardeningNumericDate: exp, nbf and iat are NumericDates (RFC 7519
// §2): JSON numbers, possibly fractional, of a representable time.
// Non-finite values (NaN, Infinity) cannot be written in JSON at all (see
// TestHardeningJSON); 1e400 overflows float64.
func TestHardeningNumericDate(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	hdr := `{"alg":"RS256","kid":"rsa-rs256","typ":"at+jwt"}`
	now := time.Now()
	m := hgValidClaims(f.kit.URL)
	delete(m, "exp")
	delete(m, "iat")
	base := hgMustJSON(m)
	sign := func(members string) string {
		return hgSignRaw(t, "RS256", k.rsa, hdr, base[:len(base)-1]+","+members+"}")
	}
	future := now.Add(time.Hour).Unix()
	cases := []struct {
		name, members string
		want          error // nil: accepted
	}{
		{"integer", fmt.Sprintf(`"exp":%d`, future), nil},
		{"fractional (RFC 7519 §2)", fmt.Sprintf(`"exp":%d.75`, future), nil},
		{"exponent form", fmt.Sprintf(`"exp":%de0`, future), nil},
		{"fractional iat and nbf", fmt.Sprintf(`"exp":%d,"iat":%d.5,"nbf":%d.25`, future, now.Unix()-10, now.Unix()-10), nil},
		{"exp string", fmt.Sprintf(`"exp":"%d"`, future), middleware.ErrMalformedToken},
		{"exp string with spaces", fmt.Sprintf(`"exp":" %d"`, future), middleware.ErrMalformedToken},
		{"exp 1e300", `"exp":1e300`, middleware.ErrMalformedToken},
		{"exp 9.2e18 (int64 range)", `"exp":9.2e18`, middleware.ErrMalformedToken},
		{"exp year 10000", `"exp":253402300800`, middleware.ErrMalformedToken},
		{"exp 1e400 (overflow)", `"exp":1e400`, middleware.ErrMalformedToken},
		{"exp -1e300", `"exp":-1e300`, middleware.ErrMalformedToken},
		{"exp negative", `"exp":-1`, middleware.ErrTokenExpired},
		{"exp zero", `"exp":0`, middleware.ErrTokenExpired},
		{"exp null (missing)", `"exp":null`, middleware.ErrTokenExpired},
		{"exp missing", `"jti2":"x"`, middleware.ErrTokenExpired},
		{"exp true", `"exp":true`, middleware.ErrMalformedToken},
		{"exp object", `"exp":{"$date":1}`, middleware.ErrMalformedToken},
		{"exp array", fmt.Sprintf(`"exp":[%d]`, future), middleware.ErrMalformedToken},
		{"nbf string", fmt.Sprintf(`"exp":%d,"nbf":"0"`, future), middleware.ErrMalformedToken},
		{"iat string", fmt.Sprintf(`"exp":%d,"iat":"0"`, future), middleware.ErrMalformedToken},
		{"nbf 1e300", fmt.Sprintf(`"exp":%d,"nbf":1e300`, future), middleware.ErrMalformedToken},
		{"iat -1e300", fmt.Sprintf(`"exp":%d,"iat":-1e300`, future), middleware.ErrMalformedToken},
		{"nbf in the future", fmt.Sprintf(`"exp":%d,"nbf":%d`, future, now.Add(10*time.Minute).Unix()), middleware.ErrTokenNotYetValid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := sign(c.members)
			if c.want == nil {
				f.h.accept(t, tok)
				return
			}
			f.h.refuse(t, tok, c.want)
		})
	}
	// A fractional exp is truncated to the second (golang-jwt's
	// TimePrecision), never rounded up: the token expires no later than
	// the issuer said.
	cl, err := f.h.v.ValidateToken(context.Background(), sign(fmt.Sprintf(`"exp":%d.999`, future)))
	if err != nil {
		t.Fatal(err)
	}
	if got := cl.ExpiresAt; got.After(time.Unix(future, 999_000_000)) || got.Before(time.Unix(future, 0)) {
		t.Errorf("ExpiresAt %v, want within [%d, %d.999]", got, future, future)
	}
}

// TestHardeningClaimTypes: registered claims of the wrong JSON type are
// refused, not coerced (RFC 7519 §4.1, RFC 9068 §2.2).
func TestHardeningClaimTypes(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	hdr := `{"alg":"RS256","kid":"rsa-rs256","typ":"at+jwt"}`
	sign := func(name string, v any) string {
		return hgSignRaw(t, "RS256", k.rsa, hdr, hgMustJSON(hgWith(hgValidClaims(f.kit.URL), name, v)))
	}
	for _, c := range []struct {
		name  string
		claim string
		v     any
		want  error
	}{
		{"aud number", "aud", 1, middleware.ErrMalformedToken},
		{"aud object", "aud", map[string]any{"0": hgAudience}, middleware.ErrMalformedToken},
		{"aud bool", "aud", true, middleware.ErrMalformedToken},
		{"aud array of numbers", "aud", []any{1, 2}, middleware.ErrMalformedToken},
		{"aud array with object", "aud", []any{hgAudience, map[string]any{}}, middleware.ErrMalformedToken},
		{"aud nested array", "aud", []any{[]string{hgAudience}}, middleware.ErrMalformedToken},
		{"aud empty array", "aud", []string{}, middleware.ErrInvalidAudience},
		{"aud empty string", "aud", "", middleware.ErrInvalidAudience},
		{"aud prefix", "aud", hgAudience + "/", middleware.ErrInvalidAudience},
		{"aud case", "aud", strings.ToUpper(hgAudience), middleware.ErrInvalidAudience},
		{"iss number", "iss", 1, middleware.ErrMalformedToken},
		{"iss array", "iss", []string{f.kit.URL}, middleware.ErrMalformedToken},
		{"iss trailing slash", "iss", f.kit.URL + "/", middleware.ErrInvalidIssuer},
		{"sub number", "sub", 123, middleware.ErrMalformedToken},
		{"jti object", "jti", map[string]any{}, middleware.ErrMalformedToken},
		{"client_id array", "client_id", []string{"a"}, middleware.ErrMalformedToken},
		{"scope number", "scope", 7, middleware.ErrMalformedToken},
		{"scope array", "scope", []string{"read:users"}, middleware.ErrMalformedToken},
		{"scope object", "scope", map[string]any{"read:users": true}, middleware.ErrMalformedToken},
		{"scope bool", "scope", true, middleware.ErrMalformedToken},
		{"scp number", "scp", 7, middleware.ErrMalformedToken},
		{"scp object", "scp", map[string]any{"read:users": true}, middleware.ErrMalformedToken},
		{"scp array of numbers", "scp", []any{1}, middleware.ErrMalformedToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.h.refuse(t, sign(c.claim, c.v), c.want)
		})
	}
}

// TestHardeningLongClaims: the token size cap (DefaultMaxTokenSize) bounds
// every claim. A long claim within the cap in a genuinely signed token is
// data like any other; one that pushes the token past the cap is refused
// before decoding.
func TestHardeningLongClaims(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	hdr := `{"alg":"RS256","kid":"rsa-rs256","typ":"at+jwt"}`
	sign := func(m map[string]any) string { return hgSignRaw(t, "RS256", k.rsa, hdr, hgMustJSON(m)) }
	c := hgValidClaims(f.kit.URL)
	f.h.accept(t, sign(hgWith(c, "sub", strings.Repeat("u", 10<<10))))
	many := strings.TrimSpace(strings.Repeat("s:x ", 2000))
	f.h.accept(t, sign(hgWith(c, "scope", many)))
	for name, m := range map[string]map[string]any{
		"sub 16 KiB":     hgWith(c, "sub", strings.Repeat("u", 16<<10)),
		"scope 16 KiB":   hgWith(c, "scope", strings.Repeat("read:users ", 1600)),
		"aud 3000 items": hgWith(c, "aud", strings.Split(strings.Repeat("https://a ", 3000), " ")),
		"custom 1 MiB":   hgWith(c, "blob", strings.Repeat("b", 1<<20)),
	} {
		t.Run(name, func(t *testing.T) {
			f.h.refuse(t, sign(m), middleware.ErrTokenTooLarge)
		})
	}
	// Unsigned (attacker) long claims within the cap: signature refused.
	f.h.refuse(t, hgCraft(hdr, hgMustJSON(hgWith(c, "sub", strings.Repeat("u", 11<<10))), make([]byte, 256)), middleware.ErrInvalidSignature)
}

// TestScopeClaims: which claims scopes are read from.
func TestScopeClaims(t *testing.T) {
	kit := hgKit(t)
	payload := map[string]any{
		"scope":                      "s1 s2",
		"scp":                        []string{"p1"},
		"permissions":                []string{"perm1", "bad\"perm"},
		"roles":                      []string{"role1"},
		"realm_access":               map[string]any{"roles": []string{"realm1"}},
		"https://example.com/scopes": "ns1 ns2",
	}
	for _, tc := range []struct {
		name   string
		claims []string
		edit   map[string]any
		want   []string
		err    []error
	}{
		{"default scope and scp", nil, nil, []string{"s1", "s2", "p1"}, nil},
		{"scp as string", nil, map[string]any{"scp": "p1 p2"}, []string{"s1", "s2", "p1", "p2"}, nil},
		{"permissions only", []string{"permissions"}, nil, []string{"perm1"}, nil},
		{"roles only", []string{"roles"}, nil, []string{"role1"}, nil},
		{"nested path", []string{"realm_access.roles"}, nil, []string{"realm1"}, nil},
		{"namespaced claim with dots", []string{"https://example.com/scopes"}, nil, []string{"ns1", "ns2"}, nil},
		{"merged", []string{"scope", "permissions", "realm_access.roles"}, nil, []string{"s1", "s2", "perm1", "realm1"}, nil},
		{"absent claim", []string{"missing"}, nil, nil, nil},
		{"scope claim of the wrong type", []string{"permissions"}, map[string]any{"permissions": 42}, nil, []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"array with a non-string", []string{"roles"}, map[string]any{"roles": []any{"a", 1}}, nil, []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := hgReady(t, kit, middleware.Config{ScopeClaims: tc.claims})
			c, err := v.ValidateToken(context.Background(), kit.Sign(hgHeader(nil), hgClaims(kit, hgMerge(payload, tc.edit))))
			hgWant(t, err, tc.err...)
			if err == nil && !slices.Equal(c.Scopes, tc.want) {
				t.Errorf("Scopes = %q, want %q", c.Scopes, tc.want)
			}
		})
	}
}

// TestClientIDAndMachine: the client id is normalised from client_id, azp,
// cid and appid, in that order; Machine detects client_credentials tokens.
func TestClientIDAndMachine(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{})
	for _, tc := range []struct {
		name    string
		changes map[string]any
		client  string
		machine bool
	}{
		{"client_id first", map[string]any{"client_id": "c1", "azp": "a1", "cid": "o1", "appid": "e1"}, "c1", false},
		{"azp second", map[string]any{"client_id": nil, "azp": "a1", "cid": "o1", "appid": "e1"}, "a1", false},
		{"cid third", map[string]any{"client_id": nil, "cid": "o1", "appid": "e1"}, "o1", false},
		{"appid last", map[string]any{"client_id": nil, "appid": "e1"}, "e1", false},
		{"empty client_id skipped", map[string]any{"client_id": "", "azp": "a1"}, "a1", false},
		{"none", map[string]any{"client_id": nil}, "", false},
		{"Auth0 gty client-credentials", map[string]any{"gty": "client-credentials", "sub": "c@clients"}, "test-client", true},
		{"gty client_credentials", map[string]any{"gty": "client_credentials"}, "test-client", true},
		{"gty array", map[string]any{"gty": []string{"password", "client-credentials"}}, "test-client", true},
		{"gty password", map[string]any{"gty": "password"}, "test-client", false},
		{"Entra idtyp app", map[string]any{"idtyp": "app"}, "test-client", true},
		{"Entra idtyp user", map[string]any{"idtyp": "user"}, "test-client", false},
		{"sub equals client id", map[string]any{"sub": "test-client"}, "test-client", true},
		{"sub equals azp", map[string]any{"client_id": nil, "azp": "svc", "sub": "svc"}, "svc", true},
		{"user token", nil, "test-client", false},
		{"no sub and no client", map[string]any{"sub": nil, "client_id": nil}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.ValidateToken(context.Background(), kit.Sign(hgHeader(nil), hgClaims(kit, tc.changes)))
			hgWant(t, err)
			if c.ClientID != tc.client || c.Machine != tc.machine {
				t.Errorf("ClientID %q, Machine %v; want %q, %v", c.ClientID, c.Machine, tc.client, tc.machine)
			}
		})
	}
}
