package middleware_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestHardeningKid: a "kid" is an opaque lookup key (RFC 7515 §4.1.4),
// never a path, URL or query. Tokens below carry a genuine signature by the
// issuer's RS256 key and a hostile or unknown kid: refused as unknown key.
func TestHardeningKid(t *testing.T) {
	t.Parallel()
	f := hgShared()
	kids := map[string]string{
		"unknown":         "no-such-key",
		"empty":           "",
		"very long 10KB":  strings.Repeat("k", 10<<10),
		"path traversal":  "../../../../../../etc/passwd",
		"windows path":    `..\..\..\windows\win.ini`,
		"device":          "/dev/zero",
		"file URL":        "file:///etc/passwd",
		"http URL":        f.kit.URL + "/jwks",
		"SQL":             "' OR '1'='1' --",
		"SQL drop":        "x'; DROP TABLE keys; --",
		"NUL":             "\x00",
		"format verbs":    "%s%s%s%n",
		"newline":         "kid\r\nX-Injected: 1",
		"unicode":         "k\u00efd\u202e",
		"kid + NUL":       f.kit.KeyID("RS256") + "\x00",
		"kid + space":     f.kit.KeyID("RS256") + " ",
		"kid upper-cased": strings.ToUpper(f.kit.KeyID("RS256")),
	}
	for name, kid := range kids {
		t.Run(name, func(t *testing.T) {
			tok := f.kit.Sign(map[string]any{"kid": kid, "typ": "at+jwt"}, hgValidClaims(f.kit.URL))
			f.h.refuse(t, tok, middleware.ErrUnknownKey)
		})
	}
	// A kid that is not a string is not a JWS header this library reads.
	for name, kid := range map[string]any{"number": 1, "array": []string{f.kit.KeyID("RS256")}, "object": map[string]any{"kid": "x"}, "bool": true} {
		t.Run("type "+name, func(t *testing.T) {
			tok := f.kit.Sign(map[string]any{"kid": kid, "typ": "at+jwt"}, hgValidClaims(f.kit.URL))
			f.h.refuse(t, tok, middleware.ErrMalformedToken)
		})
	}
	t.Run("type null", func(t *testing.T) {
		// Sign treats a nil kid as "no kid"; craft the header instead.
		tok := f.kit.Sign(map[string]any{"kid": f.kit.KeyID("RS256"), "typ": "at+jwt"}, hgValidClaims(f.kit.URL))
		parts := strings.Split(tok, ".")
		hdr := `{"alg":"RS256","kid":null,"typ":"at+jwt"}`
		f.h.refuse(t, hgB64([]byte(hdr))+"."+parts[1]+"."+parts[2], middleware.ErrMalformedToken)
	})
}

// TestHardeningDuplicateKid: keys of a JWK Set may share a kid (RFC 7517
// §4.5 only says they SHOULD differ): a token naming that kid is tried
// against each of them that fits its alg (at most MaxCandidateKeys), and
// the set's other keys keep working.
func TestHardeningDuplicateKid(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	f.h.accept(t, f.token(t, "RS256", "dup", k.rsa))
	f.h.accept(t, f.token(t, "RS256", "dup", k.rsa2))
	f.h.accept(t, f.token(t, "RS256", "rsa-rs256", k.rsa))
	// A key marked for encryption ("use": "enc") never verifies.
	f.h.refuse(t, f.token(t, "ES256", "ec-enc", k.ec2), middleware.ErrUnknownKey)
}

// TestMultiIssuer: with several trusted issuers, a token is routed by its
// "iss" and verified only with the keys of that issuer (RFC 8725 §3.8),
// even when another trusted issuer has a key with the same kid. An
// untrusted issuer named in a token is never contacted.
func TestMultiIssuer(t *testing.T) {
	t.Parallel()
	k := hgKeys()

	t.Run("test kits", func(t *testing.T) {
		t.Parallel()
		a, b := hgShared().kit, middlewaretest.NewIssuer()
		defer b.Close()
		h := hgNewHarness(t, a, middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: b.URL}}})
		h.waitReady(t)
		stranger := middlewaretest.NewIssuer()
		defer stranger.Close()
		h.accept(t, a.Token(middlewaretest.Spec{}))
		h.accept(t, b.Token(middlewaretest.Spec{}))
		h.accept(t, b.Token(middlewaretest.Spec{Alg: "ES256"}))
		typ := map[string]any{"typ": "at+jwt"}
		// B's key, A's kid, A's iss.
		h.refuse(t, b.Sign(hgWith(typ, "kid", a.KeyID("RS256")), hgValidClaims(a.URL)), middleware.ErrInvalidSignature)
		// B's key and kid, A's iss.
		h.refuse(t, b.Sign(typ, hgValidClaims(a.URL)), middleware.ErrUnknownKey)
		// A's key and kid, B's iss.
		h.refuse(t, a.Sign(typ, hgValidClaims(b.URL)), middleware.ErrUnknownKey)
		// A's key, B's kid, B's iss.
		h.refuse(t, a.Sign(hgWith(typ, "kid", b.KeyID("RS256")), hgValidClaims(b.URL)), middleware.ErrInvalidSignature)
		// B's key, no kid (Sign takes a nil kid for none), A's iss.
		h.refuse(t, b.Sign(map[string]any{"typ": "at+jwt", "kid": nil}, hgValidClaims(a.URL)), middleware.ErrInvalidSignature)
		// An untrusted issuer, even with a trusted issuer's kid.
		h.refuse(t, b.Sign(hgWith(typ, "kid", a.KeyID("RS256")), hgValidClaims("https://evil.example")), middleware.ErrInvalidIssuer)
		h.refuse(t, stranger.Token(middlewaretest.Spec{}), middleware.ErrInvalidIssuer)
		if n := stranger.JWKSRequests() + stranger.DiscoveryRequests(); n != 0 {
			t.Errorf("an untrusted issuer named in a token was contacted %d times", n)
		}
	})

	// Both issuers publish a key under the same kid; the tests hold both
	// private keys: each token is routed to the issuer it names, and
	// verified with that issuer's key only.
	t.Run("same kid, duplicate iss", func(t *testing.T) {
		t.Parallel()
		// Two issuers whose JWKS each hold a key under the kid "same".
		sa := hgNewCountingServer(t, http.StatusOK, "application/json", hgJwks(hgJwk(k.rsa, "same", "RS256")))
		sb := hgNewCountingServer(t, http.StatusOK, "application/json", hgJwks(hgJwk(k.rsa2, "same", "RS256")))
		type iss struct{ URL string }
		a, b := iss{"https://a.example"}, iss{"https://b.example"}
		h := hgNewHarness(t, nil, middleware.Config{
			Issuer: a.URL, JWKSURL: sa.URL,
			ExtraIssuers: []middleware.Issuer{{Issuer: b.URL, JWKSURL: sb.URL}},
		})
		h.waitReady(t)
		hdr := hgMustJSON(map[string]any{"alg": "RS256", "kid": "same", "typ": "at+jwt"})
		payload := func(iss ...string) string {
			m := hgValidClaims("")
			delete(m, "iss")
			s := hgMustJSON(m)
			var members []string
			for _, i := range iss {
				members = append(members, `"iss":`+hgMustJSON(i))
			}
			return "{" + strings.Join(members, ",") + "," + s[1:]
		}
		h.accept(t, hgSignRaw(t, "RS256", k.rsa, hdr, payload(a.URL)))
		h.accept(t, hgSignRaw(t, "RS256", k.rsa2, hdr, payload(b.URL)))
		h.refuse(t, hgSignRaw(t, "RS256", k.rsa2, hdr, payload(a.URL)), middleware.ErrInvalidSignature)
		h.refuse(t, hgSignRaw(t, "RS256", k.rsa, hdr, payload(b.URL)), middleware.ErrInvalidSignature)
		// "iss" given twice is refused, whichever issuer signed
		// (RFC 7519 §4): readers keeping the first and the last value
		// would route the token to different issuers.
		for _, dup := range [][]string{{a.URL, b.URL}, {a.URL, "https://evil.example"}, {"https://evil.example", a.URL}, {a.URL, a.URL}} {
			h.refuse(t, hgSignRaw(t, "RS256", k.rsa, hdr, payload(dup...)), middleware.ErrMalformedToken)
		}
	})
}

// TestKeyHeadersIgnored: "jku", "x5u", "jwk" and "x5c" header parameters
// are never fetched or used as keys (RFC 8725 §3.10): a token signed by an
// attacker who names their own key there is refused, and the attacker's
// server receives no request.
func TestKeyHeadersIgnored(t *testing.T) {
	t.Parallel()
	f := hgShared()
	k := hgKeys()
	attackerJWK := hgJwk(k.rsa2, "attacker", "RS256")
	attacker := hgNewCountingServer(t, http.StatusOK, "application/json", hgJwks(attackerJWK))
	cert := base64.StdEncoding.EncodeToString(hgSelfSigned(t, k.rsa2))
	issuerKid := f.kit.KeyID("RS256")
	// All four at once, x5c not even a certificate.
	allFour := map[string]any{
		"jku": attacker.URL + "/jwks",
		"x5u": attacker.URL + "/cert.pem",
		"jwk": attackerJWK,
		"x5c": []string{base64.StdEncoding.EncodeToString([]byte("not a certificate"))},
	}
	cases := []struct {
		name   string
		header map[string]any
		want   error
	}{
		{"jku, attacker kid", map[string]any{"jku": attacker.URL + "/jwks", "kid": "attacker"}, middleware.ErrUnknownKey},
		{"jku, issuer kid", map[string]any{"jku": attacker.URL + "/jwks", "kid": issuerKid}, middleware.ErrInvalidSignature},
		{"jku, no kid", map[string]any{"jku": attacker.URL + "/jwks"}, middleware.ErrInvalidSignature},
		{"x5u, attacker kid", map[string]any{"x5u": attacker.URL + "/cert.pem", "kid": "attacker"}, middleware.ErrUnknownKey},
		{"x5u, issuer kid", map[string]any{"x5u": attacker.URL + "/cert.pem", "kid": issuerKid}, middleware.ErrInvalidSignature},
		{"jwk, no kid", map[string]any{"jwk": attackerJWK}, middleware.ErrInvalidSignature},
		{"jwk, its kid", map[string]any{"jwk": attackerJWK, "kid": "attacker"}, middleware.ErrUnknownKey},
		{"jwk, issuer kid", map[string]any{"jwk": attackerJWK, "kid": issuerKid}, middleware.ErrInvalidSignature},
		{"x5c, no kid", map[string]any{"x5c": []string{cert}}, middleware.ErrInvalidSignature},
		{"x5c, issuer kid", map[string]any{"x5c": []string{cert}, "kid": issuerKid}, middleware.ErrInvalidSignature},
		{"all four", map[string]any{"jku": attacker.URL, "x5u": attacker.URL, "jwk": attackerJWK, "x5c": []string{cert}}, middleware.ErrInvalidSignature},
		{"all four, issuer kid", hgWith(allFour, "kid", issuerKid), middleware.ErrInvalidSignature},
		{"all four, attacker kid", hgWith(allFour, "kid", "attacker"), middleware.ErrUnknownKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := hgWith(c.header, "alg", "RS256", "typ", "at+jwt")
			f.h.refuse(t, f.kit.SignWith(k.rsa2, hdr, hgValidClaims(f.kit.URL)), c.want)
		})
	}
	// A valid token with the same headers, signed by the issuer, is
	// accepted: the headers are ignored, not a reason to refuse.
	tok := f.kit.Sign(map[string]any{"typ": "at+jwt", "jku": attacker.URL, "x5u": attacker.URL}, hgValidClaims(f.kit.URL))
	f.h.accept(t, tok)
	f.h.accept(t, f.kit.Sign(hgWith(allFour, "typ", "at+jwt"), hgValidClaims(f.kit.URL)))
	if n := attacker.n.Load(); n != 0 {
		t.Errorf("attacker server received %d requests", n)
	}
}
