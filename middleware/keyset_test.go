package middleware_test

// Key sets as issuers publish them: keys sharing a kid (RFC 7517 §4.5
// allows it when the keys differ in type or use), keys without kid, one
// malformed key among good ones, and sets built to make a token without
// kid expensive. Each issuer here serves a custom JWK Set through
// SetJWKS; tokens are signed with keys the tests hold (hgKeys).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// ksKeyWait is the KeyWait of the validators below: long enough for the
// first fetch on a loaded machine, so that a token sent at once waits for
// it instead of racing it.
const ksKeyWait = 5 * time.Second

// TestKeySetSharedKid: keys that share a kid but differ in use or type
// are each usable for what they are. Keycloak publishes its RSA signing key
// and its RSA-OAEP encryption key under one kid; an RSA and an EC key may
// share one too. The token's alg picks the key that fits.
func TestKeySetSharedKid(t *testing.T) {
	t.Parallel()
	k := hgKeys()
	sig := hgJwk(k.rsa, "k1", "RS256")
	enc := hgWithUse(hgJwk(k.rsa2, "k1", "RSA-OAEP"), "enc")
	encNoAlg := hgWithUse(hgJwk(k.rsa2, "k1", ""), "enc")
	for _, tc := range []struct {
		name   string
		set    []byte
		accept map[string]any // alg -> key whose tokens naming k1 are accepted
		refuse map[string]any // alg -> key whose tokens naming k1 are refused
	}{
		{"signing key, then encryption key", hgJwks(sig, enc), map[string]any{"RS256": k.rsa}, map[string]any{"RS256": k.rsa2}},
		{"encryption key, then signing key", hgJwks(enc, sig), map[string]any{"RS256": k.rsa}, map[string]any{"RS256": k.rsa2}},
		{"encryption key without alg first", hgJwks(encNoAlg, hgJwk(k.rsa, "k1", "")), map[string]any{"RS256": k.rsa}, map[string]any{"RS256": k.rsa2}},
		{"RSA and EC", hgJwks(hgJwk(k.rsa, "k1", "RS256"), hgJwk(k.ec, "k1", "ES256")),
			map[string]any{"RS256": k.rsa, "ES256": k.ec}, map[string]any{"RS256": k.rsa2, "ES256": k.ec2}},
		{"EC and RSA, no alg", hgJwks(hgJwk(k.ec, "k1", ""), hgJwk(k.rsa, "k1", "")),
			map[string]any{"RS256": k.rsa, "ES256": k.ec}, map[string]any{"RS256": k.rsa2, "ES256": k.ec2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kit := middlewaretest.NewIssuer()
			defer kit.Close()
			kit.SetJWKS(tc.set)
			h := hgNewHarness(t, kit, middleware.Config{MinRefreshInterval: time.Hour, KeyWait: ksKeyWait})
			for alg, key := range tc.accept {
				h.accept(t, ksToken(kit, alg, "k1", key))
			}
			if err := h.v.Ready(); err != nil {
				t.Errorf("Ready() = %v with the keys held", err)
			}
			for alg, key := range tc.refuse {
				h.refuse(t, ksToken(kit, alg, "k1", key), middleware.ErrInvalidToken)
			}
		})
	}
}

// TestKeySetNoKid: an issuer whose keys have no kid (RFC 7517 §4.5: kid is
// optional) has usable keys; a token without kid is checked against those
// that fit its alg.
func TestKeySetNoKid(t *testing.T) {
	t.Parallel()
	k := hgKeys()
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	rsaKey, ecKey := hgJwk(k.rsa, "", "RS256"), hgJwk(k.ec, "", "")
	delete(rsaKey, "kid")
	delete(ecKey, "kid")
	kit.SetJWKS(hgJwks(rsaKey, ecKey))
	h := hgNewHarness(t, kit, middleware.Config{MinRefreshInterval: time.Hour, KeyWait: ksKeyWait})
	h.accept(t, ksToken(kit, "RS256", "", k.rsa))
	h.accept(t, ksToken(kit, "ES256", "", k.ec))
	if err := h.v.Ready(); err != nil {
		t.Errorf("Ready() = %v with the keys held", err)
	}
	h.refuse(t, ksToken(kit, "RS256", "", k.rsa2), middleware.ErrInvalidToken)
	h.refuse(t, ksToken(kit, "ES256", "", k.ec2), middleware.ErrInvalidToken)
}

// TestKeySetMalformedKey: one key whose members have the wrong JSON type
// spoils only itself: the set's good keys are held and verify, and a later
// version of the set that still carries the malformed key delivers its new
// good key.
func TestKeySetMalformedKey(t *testing.T) {
	t.Parallel()
	k := hgKeys()
	spoil := map[string]func(m map[string]any){
		"x5c a string":     func(m map[string]any) { m["x5c"] = "a string" },
		"key_ops a string": func(m map[string]any) { m["key_ops"] = "verify" },
		"kid a number":     func(m map[string]any) { m["kid"] = 7 },
	}
	spoil["all three"] = func(m map[string]any) {
		m["x5c"], m["key_ops"], m["kid"] = "a string", "verify", 7
	}
	for name, f := range spoil {
		bad := hgJwk(k.ec2, "bad", "ES256")
		f(bad)
		good := hgJwk(k.rsa, "good", "RS256")
		t.Run(name+", first set", func(t *testing.T) {
			t.Parallel()
			kit := middlewaretest.NewIssuer()
			defer kit.Close()
			kit.SetJWKS(hgJwks(good, bad, hgJwk(k.ec, "good-ec", "ES256")))
			h := hgNewHarness(t, kit, middleware.Config{MinRefreshInterval: time.Hour, KeyWait: ksKeyWait})
			h.accept(t, ksToken(kit, "RS256", "good", k.rsa))
			h.accept(t, ksToken(kit, "ES256", "good-ec", k.ec))
			if err := h.v.Ready(); err != nil {
				t.Errorf("Ready() = %v with the good keys held", err)
			}
			// The malformed key verifies nothing.
			h.refuse(t, ksToken(kit, "ES256", "bad", k.ec2), middleware.ErrInvalidToken)
		})
		t.Run(name+", update", func(t *testing.T) {
			t.Parallel()
			kit := middlewaretest.NewIssuer()
			defer kit.Close()
			kit.SetJWKS(hgJwks(good))
			h := hgNewHarness(t, kit, middleware.Config{MinRefreshInterval: 50 * time.Millisecond, KeyWait: ksKeyWait})
			h.accept(t, ksToken(kit, "RS256", "good", k.rsa))
			// Rotation: a new key published next to a malformed one.
			kit.SetJWKS(hgJwks(good, bad, hgJwk(k.rsa2, "next", "RS256")))
			next := ksToken(kit, "RS256", "next", k.rsa2)
			if !hgPoll(5*time.Second, func() bool {
				_, err := h.v.ValidateToken(t.Context(), next)
				return err == nil
			}) {
				_, err := h.v.ValidateToken(t.Context(), next)
				t.Fatalf("the new key published next to a malformed one is never used: %v", err)
			}
			h.accept(t, next)
			h.accept(t, ksToken(kit, "RS256", "good", k.rsa))
		})
	}
}

// TestKeySetHostile: a token without kid is tried against the keys that fit
// its alg, so a set of many keys of one type is a cost an issuer (or
// whoever controls its JWKS) can impose per token. A forged token without
// kid in a set of 2000 P-521 keys is refused as invalid (however the
// validator bounds the work); a token with a kid in a large set is found
// and verified as usual.
func TestKeySetHostile(t *testing.T) {
	t.Parallel()
	// A handful of distinct P-521 keys repeated: the set is large, not
	// slow to build. 2000 keys stay under MaxJWKSSize.
	var p521 []*ecdsa.PrivateKey
	for range 4 {
		key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		p521 = append(p521, key)
	}
	attacker, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("2000 keys without kid", func(t *testing.T) {
		t.Parallel()
		keys := make([]map[string]any, 2000)
		for i := range keys {
			keys[i] = hgJwk(p521[i%len(p521)], "", "")
			delete(keys[i], "kid")
		}
		set := hgJwks(keys...)
		if len(set) >= middleware.MaxJWKSSize {
			t.Fatalf("set of %d bytes exceeds MaxJWKSSize", len(set))
		}
		kit := middlewaretest.NewIssuer()
		defer kit.Close()
		kit.SetJWKS(set)
		h := hgNewHarness(t, kit, middleware.Config{MinRefreshInterval: time.Hour, KeyWait: ksKeyWait})
		h.refuse(t, ksToken(kit, "ES512", "", attacker), middleware.ErrInvalidToken)
	})

	t.Run("100 keys with kid", func(t *testing.T) {
		t.Parallel()
		keys := make([]map[string]any, 100)
		for i := range keys {
			keys[i] = hgJwk(p521[i%len(p521)], fmt.Sprintf("k%d", i), "ES512")
		}
		kit := middlewaretest.NewIssuer()
		defer kit.Close()
		kit.SetJWKS(hgJwks(keys...))
		h := hgNewHarness(t, kit, middleware.Config{MinRefreshInterval: time.Hour, KeyWait: ksKeyWait})
		h.accept(t, ksToken(kit, "ES512", "k57", p521[57%len(p521)]))
		h.accept(t, ksToken(kit, "ES512", "k99", p521[99%len(p521)]))
		h.refuse(t, ksToken(kit, "ES512", "k57", attacker), middleware.ErrInvalidSignature)
	})
}

// ksToken signs valid claims of kit with key under alg, naming kid (no kid
// if empty).
func ksToken(kit *middlewaretest.Issuer, alg, kid string, key any) string {
	header := map[string]any{"alg": alg, "typ": "at+jwt"}
	if kid != "" {
		header["kid"] = kid
	}
	return kit.SignWith(key, header, hgValidClaims(kit.URL))
}

// TestHardeningHostileJWKS: keys a JWK Set must not contribute: symmetric
// ("oct") keys, keys whose "alg" contradicts their type, keys for
// encryption, and private key material, which is only ever read as the
// public key it belongs to. The set's good keys keep working.
func TestHardeningHostileJWKS(t *testing.T) {
	t.Parallel()
	k := hgKeys()
	kit := middlewaretest.NewIssuer()
	defer kit.Close()
	secret := []byte("0123456789abcdef0123456789abcdef")
	private := hgJwk(k.rsa2, "rsa-private", "RS256")
	private["d"] = hgB64(k.rsa2.D.Bytes())
	private["p"] = hgB64(k.rsa2.Primes[0].Bytes())
	private["q"] = hgB64(k.rsa2.Primes[1].Bytes())
	private["dp"] = hgB64(k.rsa2.Precomputed.Dp.Bytes())
	private["dq"] = hgB64(k.rsa2.Precomputed.Dq.Bytes())
	private["qi"] = hgB64(k.rsa2.Precomputed.Qinv.Bytes())
	ecPrivate := hgJwk(k.ec2, "ec-private", "ES256")
	ecD, err := k.ec2.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	ecPrivate["d"] = hgB64(ecD)
	kit.SetJWKS(hgJwks(
		map[string]any{"kty": "oct", "kid": "hmac", "alg": "HS256", "use": "sig", "k": hgB64(secret)},
		map[string]any{"kty": "oct", "kid": "hmac-noalg", "k": hgB64(secret)},
		hgJwk(k.rsa, "good", "RS256"),
		private,
		ecPrivate,
		map[string]any{"kty": "RSA", "kid": "rsa-garbage", "n": "!!", "e": "AQAB"},
		map[string]any{"kty": "EC", "kid": "ec-off-curve", "crv": "P-256", "x": hgB64(make([]byte, 32)), "y": hgB64(make([]byte, 32))},
		map[string]any{"kty": "XYZ", "kid": "unknown-kty"},
	))
	// Unknown kids cause a fetch at once, which confirms they are unknown.
	h := hgNewHarness(t, kit, middleware.Config{MinRefreshInterval: time.Nanosecond})
	h.waitReady(t)
	claims := hgValidClaims(kit.URL)
	h.accept(t, kit.SignWith(k.rsa, map[string]any{"alg": "RS256", "kid": "good"}, claims))
	// Symmetric keys: HS* is not an allowed algorithm, and the key is
	// not loaded at all.
	for _, kid := range []string{"hmac", "hmac-noalg"} {
		for _, alg := range []string{"HS256", "HS512"} {
			h.refuse(t, kit.SignWith(secret, map[string]any{"alg": alg, "kid": kid}, claims), middleware.ErrUnsupportedAlgorithm)
		}
		h.refuse(t, kit.SignWith(k.rsa, map[string]any{"alg": "RS256", "kid": kid}, claims), middleware.ErrUnknownKey)
	}
	// Private material: the public half verifies as usual; the private
	// numbers are no HMAC secret.
	h.accept(t, kit.SignWith(k.rsa2, map[string]any{"alg": "RS256", "kid": "rsa-private"}, claims))
	h.accept(t, kit.SignWith(k.ec2, map[string]any{"alg": "ES256", "kid": "ec-private"}, claims))
	for _, kid := range []string{"rsa-private", "ec-private"} {
		var d []byte
		if kid == "rsa-private" {
			d = k.rsa2.D.Bytes()
		} else {
			d = ecD
		}
		h.refuse(t, kit.SignWith(d, map[string]any{"alg": "HS256", "kid": kid}, claims), middleware.ErrUnsupportedAlgorithm)
	}
	// Invalid keys are skipped, not fatal to the set.
	for _, kid := range []string{"rsa-garbage", "ec-off-curve", "unknown-kty"} {
		h.refuse(t, kit.SignWith(k.rsa, map[string]any{"alg": "RS256", "kid": kid}, claims), middleware.ErrUnknownKey)
	}
}

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
