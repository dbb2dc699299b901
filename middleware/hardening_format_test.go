package middleware_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
)

// hgSplit returns the three segments of a compact JWS.
func hgSplit(t testing.TB, tok string) (h, p, s string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d segments", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

// TestTokenShape: only the compact JWS serialization (RFC 7515 §7.1)
// of base64url without padding (§2) is accepted. Every variant below is
// built from a valid token; over HTTP those that are not token68 get 400
// invalid_request (RFC 6750 §2.1), the others 401 invalid_token.
func TestTokenShape(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	tok := f.token(t, "RS256", "rsa-rs256", k.rsa)
	f.h.accept(t, tok)
	h, p, s := hgSplit(t, tok)
	hdrJWE := hgB64([]byte(`{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"rsa-rs256"}`))
	hdrDir := hgB64([]byte(`{"alg":"dir","enc":"A128CBC-HS256"}`))
	seg := hgB64([]byte("0123456789abcdef"))

	// Re-encode with the standard alphabet until it differs from the
	// URL-safe one (the signature nearly always has '-' or '_').
	var std, stdPadded string
	for i := 0; ; i++ {
		tk := f.token(t, "RS256", "rsa-rs256", k.rsa)
		hh, pp, ss := hgSplit(t, tk)
		dec := func(x string) []byte { b, _ := base64.RawURLEncoding.DecodeString(x); return b }
		e := base64.RawStdEncoding.EncodeToString
		std = e(dec(hh)) + "." + e(dec(pp)) + "." + e(dec(ss))
		ep := base64.StdEncoding.EncodeToString
		stdPadded = ep(dec(hh)) + "." + ep(dec(pp)) + "." + ep(dec(ss))
		if std != tk && strings.ContainsAny(std, "+/") {
			break
		}
		if i > 20 {
			t.Fatal("could not produce a token whose standard base64 differs")
		}
	}
	pad := func(x string) string { return x + strings.Repeat("=", (4-len(x)%4)%4) }
	// Non-canonical base64url: the signature's last character carries
	// unused low bits (256 bytes encode to 342 characters, the last one
	// holding 2 bits); setting one decodes to the same bytes with a lax
	// decoder, a second spelling of the same signed token.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(s)%4 != 2 {
		t.Fatalf("signature of %d characters: test needs 2 trailing characters", len(s))
	}
	last := strings.IndexByte(alphabet, s[len(s)-1])
	nonCanonical := h + "." + p + "." + s[:len(s)-1] + string(alphabet[last|1])
	if pad(s) == s {
		t.Fatal("signature needs no padding; test would be vacuous")
	}

	malformed := map[string]string{
		"JWE (5 segments)":            hdrJWE + "." + seg + "." + seg + "." + seg + "." + seg,
		"JWE dir (empty key)":         hdrDir + ".." + seg + "." + seg + "." + seg,
		"4 segments":                  tok + "." + s,
		"2 segments":                  h + "." + p,
		"1 segment":                   h,
		"trailing dot":                tok + ".",
		"leading dot":                 "." + tok,
		"empty payload":               h + ".." + s,
		"empty signature":             h + "." + p + ".",
		"only dots":                   "..",
		"leading space":               " " + tok,
		"trailing space":              tok + " ",
		"space inside":                h + ". " + p + "." + s,
		"newline inside":              h + "." + p[:10] + "\n" + p[10:] + "." + s,
		"CRLF at end":                 tok + "\r\n",
		"tab":                         h + "\t." + p + "." + s,
		"padding on signature":        h + "." + p + "." + pad(s),
		"padding everywhere":          pad(h) + "." + pad(p) + "." + pad(s),
		"single = at end":             tok + "=",
		"non-canonical trailing bits": nonCanonical,
		"standard base64 (+/)":        std,
		"standard base64 padded":      stdPadded,
		"non-ASCII":                   tok + "\u00e9",
		"NUL":                         tok + "\x00",
		"percent-encoded":             strings.ReplaceAll(tok, ".", "%2E"),
		"quoted":                      `"` + tok + `"`,
		"Bearer prefix inside token":  "Bearer." + tok,
		"empty":                       "",
		"header not JSON":             hgSegment(tok, 0, hgB64([]byte("not json"))),
		"payload not an object":       hgSegment(tok, 1, hgB64([]byte(`["a"]`))),
	}
	for name, bad := range malformed {
		t.Run(name, func(t *testing.T) {
			f.h.refuse(t, bad, middleware.ErrMalformedToken)
			if !hgIsToken68(strings.TrimLeft(bad, " ")) {
				// Not even a token68 (spaces after the scheme are
				// allowed): the Authorization header is malformed.
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header["Authorization"] = []string{"Bearer " + bad}
				f.h.serve(t, f.h.v.Authenticate, r, middleware.ErrMalformedHeader)
			}
		})
	}
	// Well-formed, but with the signature of another token.
	t.Run("signature of another token", func(t *testing.T) {
		other := f.token(t, "RS256", "rsa-rs256", k.rsa)
		f.h.refuse(t, hgSegment(tok, 2, strings.Split(other, ".")[2]), middleware.ErrInvalidSignature)
	})
	// A signed token whose header names an encryption ("enc") is a JWE
	// header, whatever the segment count.
	t.Run("enc header on a JWS", func(t *testing.T) {
		tok := hgSignRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa-rs256","enc":"A256GCM"}`, hgMustJSON(hgValidClaims(f.kit.URL)))
		f.h.refuse(t, tok, middleware.ErrMalformedToken)
	})
}

// TestHardeningJSON: the header and payload must be JSON objects (RFC 7515
// §4, RFC 7519 §7.2). Payload variants carry a genuine signature, so only
// the JSON rules can refuse them.
func TestHardeningJSON(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	hdr := `{"alg":"RS256","kid":"rsa-rs256","typ":"at+jwt"}`
	payload := hgMustJSON(hgValidClaims(f.kit.URL))
	for name, bad := range map[string]string{
		"not JSON":           "not json",
		"array":              `[1,2]`,
		"string":             `"claims"`,
		"number":             `42`,
		"null":               `null`,
		"true":               `true`,
		"empty":              ``,
		"trailing garbage":   payload + `x`,
		"two objects":        payload + payload,
		"truncated":          payload[:len(payload)-1],
		"single quotes":      strings.ReplaceAll(payload, `"`, `'`),
		"comment":            `/* */` + payload,
		"NaN exp":            payload[:len(payload)-1] + `,"exp":NaN}`,
		"Infinity exp":       payload[:len(payload)-1] + `,"exp":Infinity}`,
		"hex number":         payload[:len(payload)-1] + `,"x":0x10}`,
		"unclosed deep bomb": strings.Repeat("[", 4000),
	} {
		t.Run("payload/"+name, func(t *testing.T) {
			f.h.refuse(t, hgSignRaw(t, "RS256", k.rsa, hdr, bad), middleware.ErrMalformedToken)
		})
	}
	for name, bad := range map[string]string{
		"not JSON":         "not json",
		"array":            `[{"alg":"RS256"}]`,
		"string":           `"RS256"`,
		"trailing garbage": hdr + `x`,
		"truncated":        hdr[:len(hdr)-1],
		"empty object":     `{}`,
		"null":             `null`,
	} {
		want := middleware.ErrMalformedToken
		if name == "empty object" || name == "null" {
			// Valid JSON without "alg": no algorithm to allow.
			want = middleware.ErrUnsupportedAlgorithm
		}
		t.Run("header/"+name, func(t *testing.T) {
			f.h.refuse(t, hgCraft(bad, payload, []byte("signature")), want)
		})
	}
}

// TestHardeningJSONBomb: deeply nested JSON cannot exhaust the stack or
// the CPU: the token size cap bounds nesting, and beyond the cap
// encoding/json's nesting limit applies.
func TestHardeningJSONBomb(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	hdr := `{"alg":"RS256","kid":"rsa-rs256","typ":"at+jwt"}`
	claims := hgMustJSON(hgValidClaims(f.kit.URL))
	bomb := func(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }
	withClaim := func(name, v string) string { return claims[:len(claims)-1] + `,"` + name + `":` + v + `}` }

	// Within the default cap (16 KiB): about 6000 levels fit.
	deep := withClaim("x", bomb(5000))
	start := time.Now()
	f.h.refuse(t, hgCraft(hdr, deep, make([]byte, 256)), middleware.ErrInvalidSignature)
	f.h.refuse(t, hgCraft(`{"alg":"RS256","kid":"rsa-rs256","x":`+bomb(5000)+`}`, claims, make([]byte, 256)), middleware.ErrInvalidSignature)
	// In a claim read with a type, the nesting is a type error.
	f.h.refuse(t, hgSignRaw(t, "RS256", k.rsa, hdr, withClaim("scope", bomb(5000))), middleware.ErrMalformedToken)
	f.h.refuse(t, hgSignRaw(t, "RS256", k.rsa, hdr, withClaim("aud", bomb(5000))), middleware.ErrMalformedToken)
	// Beyond the cap: refused before any decoding.
	f.h.refuse(t, hgCraft(hdr, withClaim("x", bomb(20000)), make([]byte, 256)), middleware.ErrTokenTooLarge)
	// With a raised cap, encoding/json's depth limit (10000) refuses it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	big := hgStartHarness(t, ctx, f.kit, middleware.Config{MaxTokenSize: 4 << 20})
	big.waitReady(t)
	big.refuse(t, hgSignRaw(t, "RS256", k.rsa, hdr, withClaim("x", bomb(200000))), middleware.ErrMalformedToken)
	big.refuse(t, hgCraft(`{"alg":"RS256","x":`+bomb(200000)+`}`, claims, make([]byte, 256)), middleware.ErrMalformedToken)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("JSON bombs took %v", d)
	}
}

// hgPayload returns the JSON of valid claims of iss with extra raw members
// appended, after the valid ones.
func hgPayload(iss string, members ...string) string {
	s := hgMustJSON(hgValidClaims(iss))
	if len(members) == 0 {
		return s
	}
	return s[:len(s)-1] + "," + strings.Join(members, ",") + "}"
}

// TestHardeningDuplicateMembers: a JOSE header or claims set with two
// members of the same name is refused (RFC 7515 §4, RFC 7519 §4), whatever
// the name: readers that keep the first value and readers that keep the
// last would disagree on what the token says. Here "scp" is checked as
// "admin" by one and handed to the application as null by the other.
// (The names, registered or not, escaped or not, are in token_test.go.)
func TestHardeningDuplicateMembers(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	hdr := `{"alg":"RS256","kid":"rsa-rs256","typ":"at+jwt"}`
	f.h.accept(t, hgSignRaw(t, "RS256", k.rsa, hdr, hgPayload(f.kit.URL, `"scp":"admin"`)))
	f.h.refuse(t, hgSignRaw(t, "RS256", k.rsa, hdr, hgPayload(f.kit.URL, `"scp":"admin"`, `"scp":null`)), middleware.ErrMalformedToken)
	f.h.refuse(t, hgSignRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa-rs256","typ":"at+jwt","kid":"rsa-rs256"}`, hgPayload(f.kit.URL)), middleware.ErrMalformedToken)
}

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
