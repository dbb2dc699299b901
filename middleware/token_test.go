package middleware_test

import (
	"context"
	"encoding/base64"
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

// TestHardeningDuplicateMembers: a JOSE header or claims set with two
// members of the same name is refused (RFC 7515 §4, RFC 7519 §4), whatever
// the name: readers that keep the first value and readers that keep the
// last would disagree on what the token says. Here "scp" is checked as
// "admin" by one and handed to the application as null by the other.
// (The names, registered or not, escaped or not, are in
// token_internal_test.go.)
func TestHardeningDuplicateMembers(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	hdr := `{"alg":"RS256","kid":"rsa-rs256","typ":"at+jwt"}`
	f.h.accept(t, hgSignRaw(t, "RS256", k.rsa, hdr, hgPayload(f.kit.URL, `"scp":"admin"`)))
	f.h.refuse(t, hgSignRaw(t, "RS256", k.rsa, hdr, hgPayload(f.kit.URL, `"scp":"admin"`, `"scp":null`)), middleware.ErrMalformedToken)
	f.h.refuse(t, hgSignRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa-rs256","typ":"at+jwt","kid":"rsa-rs256"}`, hgPayload(f.kit.URL)), middleware.ErrMalformedToken)
}

// TestCrit: a "crit" header lists extensions the recipient must
// understand (RFC 7515 §4.1.11); bearerguard understands none, so any
// "crit" is refused, including malformed ones.
func TestCrit(t *testing.T) {
	t.Parallel()
	f := hgShared()
	for name, hdr := range map[string]map[string]any{
		"unknown extension":    {"crit": []string{"urn:example:unknown"}, "urn:example:unknown": true},
		"b64 false (RFC 7797)": {"crit": []string{"b64"}, "b64": false},
		"registered name":      {"crit": []string{"exp"}},
		"listed but absent":    {"crit": []string{"x-missing"}},
		"empty list":           {"crit": []string{}},
		"not a list":           {"crit": "b64"},
		"number":               {"crit": 1},
		"b64 true (RFC 7797)":  {"crit": []string{"b64"}, "b64": true},
		"registered name, b64": {"crit": []string{"exp"}, "b64": true},
		"empty list, b64":      {"crit": []string{}, "b64": true},
		"not a list, b64":      {"crit": "b64", "b64": true},
	} {
		t.Run(name, func(t *testing.T) {
			f.h.refuse(t, f.kit.Sign(hgWith(hdr, "typ", "at+jwt"), hgValidClaims(f.kit.URL)), middleware.ErrUnsupportedCritical)
		})
	}
}

// TestHardeningHeaderNames: JOSE header parameter names are exact JSON
// strings (RFC 7515 §4): an escaped spelling is the same name, a different
// case is another (unknown, ignored) parameter.
func TestHardeningHeaderNames(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	payload := hgMustJSON(hgValidClaims(f.kit.URL))
	sign := func(hdr string) string { return hgSignRaw(t, "RS256", k.rsa, hdr, payload) }
	for name, c := range map[string]struct {
		hdr  string
		want error
	}{
		"escaped crit":      {`{"alg":"RS256","kid":"rsa-rs256","\u0063rit":["x"]}`, middleware.ErrUnsupportedCritical},
		"escaped enc":       {`{"alg":"RS256","kid":"rsa-rs256","\u0065nc":"A256GCM"}`, middleware.ErrMalformedToken},
		"escaped kid":       {`{"alg":"RS256","k\u0069d":"unknown"}`, middleware.ErrUnknownKey},
		"escaped kid value": {`{"alg":"RS256","kid":"rsa-rs256\u0000"}`, middleware.ErrUnknownKey},
		"escaped typ":       {`{"alg":"RS256","kid":"rsa-rs256","t\u0079p":"dpop+jwt"}`, middleware.ErrNotAccessToken},
		"escaped alg none":  {`{"\u0061lg":"none","kid":"rsa-rs256"}`, middleware.ErrUnsupportedAlgorithm},
		"escaped alg value": {`{"alg":"\u006eone","kid":"rsa-rs256"}`, middleware.ErrUnsupportedAlgorithm},
		"alg null":          {`{"alg":null,"kid":"rsa-rs256"}`, middleware.ErrUnsupportedAlgorithm},
	} {
		t.Run(name, func(t *testing.T) {
			f.h.refuse(t, sign(c.hdr), c.want)
		})
	}
	for name, hdr := range map[string]string{
		"escaped everywhere": `{"\u0061lg":"\u0052S256","\u006bid":"rsa-\u0072s256","typ":"at\u002bjwt"}`,
		"Crit is not crit":   `{"alg":"RS256","kid":"rsa-rs256","Crit":["x"],"CRIT":["x"]}`,
		"ALG is not alg":     `{"ALG":"none","alg":"RS256","kid":"rsa-rs256"}`,
		"whitespace around":  " \n{ \"alg\" : \"RS256\" ,\t\"kid\":\"rsa-rs256\" } \n",
		"unknown members":    `{"alg":"RS256","kid":"rsa-rs256","x":{"y":[1,2,{"z":null}]},"n":1e999999}`,
	} {
		t.Run("accept/"+name, func(t *testing.T) {
			f.h.accept(t, sign(hdr))
		})
	}
}

// TestAccessTokenType: only access tokens are accepted (RFC 9068 §2.1, §4;
// RFC 8725 §3.11): other kinds of JWT, told apart by their "typ" or their
// ID-token claims, are refused even when the issuer signed them for this
// audience; RequireAccessTokenType accepts at+jwt only. Sender-constrained
// tokens are refused too (RFC 9449 §7.2). The default validator's answers
// are checked over HTTP as well.
func TestAccessTokenType(t *testing.T) {
	kit := hgKit(t)
	lax := hgNewHarness(t, kit, middleware.Config{Now: func() time.Time { return hgNow }})
	lax.waitReady(t)
	strict := hgReady(t, kit, middleware.Config{RequireAccessTokenType: true})
	notAT := []error{middleware.ErrInvalidToken, middleware.ErrNotAccessToken}
	bound := []error{middleware.ErrInvalidToken, middleware.ErrSenderConstrained}
	unchecked := []error{middleware.ErrInvalidToken, middleware.ErrUnsupportedConfirmation}
	malformed := []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}
	for _, tc := range []struct {
		name    string
		typ     any // header typ; nil: absent
		changes map[string]any
		lax     []error
		strict  []error
	}{
		{"at+jwt", "at+jwt", nil, nil, nil},
		{"application/at+jwt", "application/at+jwt", nil, nil, nil},
		{"AT+JWT", "AT+JWT", nil, nil, nil},
		{"Application/At+Jwt", "Application/At+Jwt", nil, nil, nil},
		{"JWT", "JWT", nil, nil, notAT},
		{"jwt", "jwt", nil, nil, notAT},
		{"absent", nil, nil, nil, notAT},
		{"JWT with nonce", "JWT", map[string]any{"nonce": "n-0S6_WzA2Mj"}, notAT, notAT},
		{"absent with nonce", nil, map[string]any{"nonce": "n"}, notAT, notAT},
		{"JWT with at_hash", "JWT", map[string]any{"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}, notAT, notAT},
		{"absent with c_hash", nil, map[string]any{"c_hash": "LDktKdoQak3Pk0cnXxCltA"}, notAT, notAT},
		{"Keycloak payload typ ID", "JWT", map[string]any{"typ": "ID"}, notAT, notAT},
		{"Keycloak payload typ Bearer", "JWT", map[string]any{"typ": "Bearer"}, nil, notAT},
		// Keycloak copies nonce (and at_hash) into access tokens before
		// v25 and with a compatibility mapper; its payload typ tells them
		// from ID tokens, as long as the header does not say otherwise.
		{"Keycloak payload typ Bearer with nonce", "JWT", map[string]any{"typ": "Bearer", "nonce": "n", "at_hash": "h"}, nil, notAT},
		{"Keycloak payload typ Bearer with nonce, no header typ", nil, map[string]any{"typ": "Bearer", "nonce": "n"}, nil, notAT},
		{"Keycloak payload typ Bearer with nonce, at+jwt", "at+jwt", map[string]any{"typ": "Bearer", "nonce": "n"}, nil, nil},
		{"Keycloak payload typ Bearer, header dpop+jwt", "dpop+jwt", map[string]any{"typ": "Bearer"}, notAT, notAT},
		{"payload typ bearer (not Keycloak's spelling) with nonce", "JWT", map[string]any{"typ": "bearer", "nonce": "n"}, notAT, notAT},
		{"payload typ Bearer with token_use id", "JWT", map[string]any{"typ": "Bearer", "token_use": "id"}, notAT, notAT},
		{"Cognito token_use id", nil, map[string]any{"token_use": "id"}, notAT, notAT},
		{"Cognito token_use access", nil, map[string]any{"token_use": "access"}, nil, notAT},
		{"at+jwt with nonce", "at+jwt", map[string]any{"nonce": "n"}, notAT, notAT},
		{"logout+jwt", "logout+jwt", nil, notAT, notAT},
		{"dpop+jwt", "dpop+jwt", nil, notAT, notAT},
		{"secevent+jwt", "secevent+jwt", nil, notAT, notAT},
		{"application/logout+jwt", "application/logout+jwt", nil, notAT, notAT},
		{"id_token+jwt", "id_token+jwt", nil, notAT, notAT},
		{"empty typ", "", nil, notAT, notAT},
		{"typ not a string", 1, nil, malformed, []error{middleware.ErrInvalidToken}},
		{"typ an array", []string{"at+jwt"}, nil, malformed, []error{middleware.ErrInvalidToken}},
		{"typ an object", map[string]any{}, nil, malformed, []error{middleware.ErrInvalidToken}},
		{"Application/AT+JWT", "Application/AT+JWT", nil, nil, nil},
		{"application/jwt", "application/jwt", nil, nil, notAT},
		{"token-introspection+jwt", "token-introspection+jwt", nil, notAT, notAT}, // RFC 9701
		{"JOSE", "JOSE", nil, notAT, notAT},                                       // RFC 7515 §4.1.9 examples
		{"JOSE+JSON", "JOSE+JSON", nil, notAT, notAT},
		{"jwe", "jwe", nil, notAT, notAT},
		{"id_token", "id_token", nil, notAT, notAT}, // not registered, but telling
		{"id+jwt", "id+jwt", nil, notAT, notAT},
		{"client-authentication+jwt", "client-authentication+jwt", nil, notAT, notAT}, // RFC 7523 bis
		{"at+jwt with a parameter", "at+jwt; charset=utf-8", nil, notAT, notAT},       // not the media type
		{"at+jwt trailing space", "at+jwt ", nil, notAT, notAT},                       // look-alikes
		{"at+jwt leading space", " at+jwt", nil, notAT, notAT},
		{"at+jw", "at+jw", nil, notAT, notAT},
		{"cnf.jkt", "at+jwt", map[string]any{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}, bound, bound},
		{"cnf.x5t#S256", "at+jwt", map[string]any{"cnf": map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}, bound, bound},
		{"cnf.jwk", "at+jwt", map[string]any{"cnf": map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}}, unchecked, unchecked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := hgHeader(nil)
			if tc.typ == nil {
				delete(h, "typ")
			} else {
				h["typ"] = tc.typ
			}
			tok := kit.Sign(h, hgClaims(kit, tc.changes))
			if len(tc.lax) == 0 {
				lax.accept(t, tok)
			} else {
				hgWant(t, lax.refuse(t, tok, tc.lax[len(tc.lax)-1]), tc.lax...)
			}
			_, err := strict.ValidateToken(context.Background(), tok)
			hgWant(t, err, tc.strict...)
		})
	}
}
