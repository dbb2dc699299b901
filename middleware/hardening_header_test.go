package middleware_test

import (
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
)

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

// TestHardeningSenderConstrained: a token bound to a key through "cnf"
// (RFC 7800) must be used with proof of possession: DPoP (RFC 9449 §7.2)
// or mutual TLS (RFC 8705 §3). Sent as a plain bearer token it is refused.
func TestHardeningSenderConstrained(t *testing.T) {
	t.Parallel()
	f := hgShared()
	k := hgKeys()
	for name, cnf := range map[string]any{
		"DPoP jkt":        map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
		"mTLS x5t#S256":   map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
		"jwk":             map[string]any{"jwk": hgJwk(k.ec, "pop", "ES256")},
		"jkt and unknown": map[string]any{"jkt": "x", "other": 1},
	} {
		t.Run(name, func(t *testing.T) {
			tok := f.kit.Sign(map[string]any{"typ": "at+jwt"}, hgWith(hgValidClaims(f.kit.URL), "cnf", cnf))
			f.h.refuse(t, tok, middleware.ErrSenderConstrained)
		})
	}
}
