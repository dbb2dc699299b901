package middleware_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
)

// TestHardeningAlgNone: unsigned tokens (RFC 7519 §6, RFC 8725 §3.1) are
// refused whatever the spelling of "none", with or without a signature
// segment and a real kid.
func TestHardeningAlgNone(t *testing.T) {
	t.Parallel()
	f := hgShared()
	claims := hgMustJSON(hgValidClaims(f.kit.URL))
	kid := f.kit.KeyID("RS256")
	f.h.accept(t, f.kit.Sign(map[string]any{"typ": "at+jwt"}, hgValidClaims(f.kit.URL))) // control

	// The genuine unsigned form has an empty third segment: not a compact
	// JWS this library accepts at all.
	t.Run("none/unsigned", func(t *testing.T) {
		f.h.refuse(t, f.kit.Sign(map[string]any{"alg": "none", "typ": "at+jwt"}, hgValidClaims(f.kit.URL)), middleware.ErrMalformedToken)
	})
	for _, alg := range []string{"none", "None", "NONE", "nOnE", ""} {
		for _, kidv := range []any{nil, kid} {
			hdr := map[string]any{"alg": alg, "typ": "at+jwt"}
			label := "alg=" + alg + "/signature/no-kid"
			if kidv != nil {
				hdr["kid"] = kidv
				label = "alg=" + alg + "/signature/kid"
			}
			t.Run(label, func(t *testing.T) {
				f.h.refuse(t, hgCraft(hgMustJSON(hdr), claims, []byte("not-a-signature")), middleware.ErrUnsupportedAlgorithm)
			})
		}
	}
	t.Run("alg-missing", func(t *testing.T) {
		f.h.refuse(t, hgCraft(hgMustJSON(map[string]any{"kid": kid}), claims, []byte("x")), middleware.ErrUnsupportedAlgorithm)
	})
	t.Run("alg-not-string", func(t *testing.T) {
		f.h.refuse(t, hgCraft(`{"alg":256,"kid":"`+kid+`"}`, claims, []byte("x")), middleware.ErrUnsupportedAlgorithm)
	})
	t.Run("config-refuses-none-and-HS", func(t *testing.T) {
		for _, alg := range []string{"none", "HS256", "HS384", "HS512", "RS1", "ES256K"} {
			_, err := middleware.New(context.Background(), middleware.Config{
				Issuer: f.kit.URL, Audiences: []string{hgAudience}, Algorithms: []string{alg},
			})
			if err == nil {
				t.Errorf("New accepted Algorithms [%q]", alg)
			}
		}
	})
}

// TestHardeningHMACWithPublicKey: the key-confusion attack (RFC 8725 §2.1,
// §3.1): HS256/384/512 tokens whose HMAC secret is the issuer's public key
// in every form an attacker might guess.
func TestHardeningHMACWithPublicKey(t *testing.T) {
	t.Parallel()
	f := hgShared()
	pub := f.kit.PublicKey("RS256").(*rsa.PublicKey)
	kid := f.kit.KeyID("RS256")
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(pub)
	secrets := map[string][]byte{
		"PEM-PKIX":       pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"PEM-PKCS1":      pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"DER-PKIX":       pkix,
		"DER-PKCS1":      pkcs1,
		"JWK-n-bytes":    pub.N.Bytes(),
		"JWK-n-base64":   []byte(hgB64(pub.N.Bytes())),
		"JWK-JSON":       []byte(hgMustJSON(hgJwk(pub, kid, "RS256"))),
		"EC-PEM":         hgMustPEM(t, f.kit.PublicKey("ES256")),
		"Ed25519-public": []byte(f.kit.PublicKey("EdDSA").(ed25519.PublicKey)),
	}
	for name, secret := range secrets {
		for _, alg := range []string{"HS256", "HS384", "HS512"} {
			for _, kidv := range []any{kid, nil} {
				hdr := map[string]any{"alg": alg, "typ": "at+jwt"}
				label := name + "/" + alg + "/no-kid"
				if kidv != nil {
					hdr["kid"] = kidv
					label = name + "/" + alg + "/kid"
				}
				t.Run(label, func(t *testing.T) {
					f.h.refuse(t, f.kit.SignWith(secret, hdr, hgValidClaims(f.kit.URL)), middleware.ErrUnsupportedAlgorithm)
				})
			}
		}
	}
}

func hgMustPEM(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// TestHardeningKeyAlgorithm: the token's alg must fit the key: the JWK's
// "alg" when it has one (RFC 7517 §4.4), and always the key's type, curve
// and size (RFC 7518 §3, RFC 8725 §3.1). Every refused token below carries
// a genuine signature by the issuer key it names, made with the wrong
// algorithm, so a missing check would accept it.
func TestHardeningKeyAlgorithm(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	ok := []struct{ name, alg, kid string }{
		{"RS256 on RS256 key", "RS256", "rsa-rs256"},
		{"PS256 on PS256 key", "PS256", "rsa-ps256"},
		{"ES256 on ES256 key", "ES256", "ec-es256"},
		{"ES384 on P-384 key without alg", "ES384", "ec384-noalg"},
		{"EdDSA on Ed25519 key", "EdDSA", "ed-eddsa"},
		// A JWK without "alg" may verify any algorithm of its family
		// (documented in SECURITY.md): RSA keys then serve RS* and PS*.
		{"RS256 on RSA key without alg", "RS256", "rsa-noalg"},
		{"PS512 on RSA key without alg", "PS512", "rsa-noalg"},
	}
	keyFor := func(alg string) any {
		switch alg[:2] {
		case "RS", "PS":
			return k.rsa
		case "Ed":
			return k.ed
		}
		if alg == "ES384" {
			return k.ec384
		}
		return k.ec
	}
	for _, c := range ok {
		t.Run("accept/"+c.name, func(t *testing.T) {
			f.h.accept(t, f.token(t, c.alg, c.kid, keyFor(c.alg)))
		})
	}
	refused := []struct {
		name, alg, kid string
		key            any
		want           error
	}{
		{"RS512 on RS256 key", "RS512", "rsa-rs256", k.rsa, middleware.ErrUnsupportedAlgorithm},
		{"RS384 on RS256 key", "RS384", "rsa-rs256", k.rsa, middleware.ErrUnsupportedAlgorithm},
		{"PS256 on RS256 key", "PS256", "rsa-rs256", k.rsa, middleware.ErrUnsupportedAlgorithm},
		{"RS256 on PS256 key", "RS256", "rsa-ps256", k.rsa, middleware.ErrUnsupportedAlgorithm},
		{"PS512 on PS256 key", "PS512", "rsa-ps256", k.rsa, middleware.ErrUnsupportedAlgorithm},
		{"ES256 on P-256 key marked ES384", "ES256", "ec-es384-on-p256", k.ec, middleware.ErrUnsupportedAlgorithm},
		{"RS256 on RSA key marked ES256", "RS256", "rsa-as-es256", k.rsa, middleware.ErrUnsupportedAlgorithm},
		{"ES256 on EC key marked RS256", "ES256", "ec-as-rs256", k.ec, middleware.ErrUnsupportedAlgorithm},
		{"RS256 on 1024-bit RSA key", "RS256", "rsa-weak", k.rsaWeak, middleware.ErrUnsupportedAlgorithm},
		{"EdDSA on ES256 key", "EdDSA", "ec-es256", k.ed, middleware.ErrUnsupportedAlgorithm},
	}
	for _, c := range refused {
		t.Run("refuse/"+c.name, func(t *testing.T) {
			f.h.refuse(t, f.token(t, c.alg, c.kid, c.key), c.want)
		})
	}
	// Another family than the key, where no genuine signature can exist:
	// the signature is filler of the right length.
	claims := hgMustJSON(hgValidClaims(f.kit.URL))
	family := []struct {
		name, alg, kid string
		sigLen         int
	}{
		{"ES256 on RSA key", "ES256", "rsa-noalg", 64},
		{"EdDSA on RSA key", "EdDSA", "rsa-noalg", 64},
		{"RS256 on P-384 key", "RS256", "ec384-noalg", 256},
		{"ES256 on P-384 key", "ES256", "ec384-noalg", 64},
		{"ES512 on P-384 key", "ES512", "ec384-noalg", 132},
		{"ES384 on P-256 key marked ES384", "ES384", "ec-es384-on-p256", 96},
		{"ES256 on RSA key marked ES256", "ES256", "rsa-as-es256", 64},
		{"RS256 on EC key marked RS256", "RS256", "ec-as-rs256", 256},
		{"ES256 on Ed25519 key marked ES256", "ES256", "ed-as-es256", 64},
		{"EdDSA on Ed25519 key marked ES256", "EdDSA", "ed-as-es256", 64},
	}
	for _, c := range family {
		t.Run("refuse/"+c.name, func(t *testing.T) {
			sig := make([]byte, c.sigLen)
			_, _ = rand.Read(sig)
			hdr := hgMustJSON(map[string]any{"alg": c.alg, "kid": c.kid, "typ": "at+jwt"})
			f.h.refuse(t, hgCraft(hdr, claims, sig), middleware.ErrUnsupportedAlgorithm)
		})
	}
}

// TestHardeningKeyAlgorithmNoKid: a token without "kid" is tried against
// the issuer's keys that may verify its alg, and a JWK's "alg" binds those
// keys as it does when the kid is named.
func TestHardeningKeyAlgorithmNoKid(t *testing.T) {
	t.Parallel()
	k := hgKeys()
	const iss = "https://issuer.example"
	srv := hgNewCountingServer(t, http.StatusOK, "application/json", hgJwks(
		hgJwk(k.rsa2, "only-rs256", "RS256"),
		hgJwk(k.ec2, "only-es256", "ES256"),
	))
	h := hgNewHarness(t, nil, middleware.Config{Issuer: iss, JWKSURL: srv.URL})
	h.waitReady(t)
	claims := hgMustJSON(hgValidClaims(iss))
	sign := func(alg string, key any) string {
		return hgSignRaw(t, alg, key, `{"alg":"`+alg+`","typ":"at+jwt"}`, claims)
	}
	h.accept(t, sign("RS256", k.rsa2))
	h.accept(t, sign("ES256", k.ec2))
	for _, alg := range []string{"RS384", "RS512", "PS256", "PS512"} {
		t.Run(alg+" on an RS256 key", func(t *testing.T) {
			h.refuse(t, sign(alg, k.rsa2), middleware.ErrUnknownKey)
		})
	}
	t.Run("EdDSA without Ed25519 key", func(t *testing.T) {
		h.refuse(t, sign("EdDSA", k.ed), middleware.ErrUnknownKey)
	})
}

// TestHardeningECDSASignature: ECDSA signatures must be the raw R||S of
// RFC 7518 §3.4 with r and s in [1, n-1]; "psychic signatures" (r = s = 0,
// CVE-2022-21449), DER encodings and wrong lengths are refused.
func TestHardeningECDSASignature(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	hdr := hgMustJSON(map[string]any{"alg": "ES256", "kid": "ec-es256", "typ": "at+jwt"})
	input := hgB64([]byte(hdr)) + "." + hgB64([]byte(hgMustJSON(hgValidClaims(f.kit.URL))))
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.ec, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	raw := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	f.h.accept(t, input+"."+hgB64(raw)) // control: the genuine raw signature

	der, err := ecdsa.SignASN1(rand.Reader, k.ec, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	n := k.ec.Curve.Params().N
	nBytes := n.FillBytes(make([]byte, 32))
	sPlusN := new(big.Int).Add(s, n) // s + n does not fit 32 bytes, or is >= n
	cases := map[string][]byte{
		"r=s=0 (64 zero bytes)":  make([]byte, 64),
		"r=s=n":                  append(append([]byte{}, nBytes...), nBytes...),
		"r=0, genuine s":         append(make([]byte, 32), raw[32:]...),
		"genuine r, s=0":         append(append([]byte{}, raw[:32]...), make([]byte, 32)...),
		"DER of genuine sig":     der,
		"raw + 1 byte":           append(append([]byte{}, raw...), 0),
		"raw - 1 byte":           raw[:63],
		"raw with leading zero":  append([]byte{0}, raw...),
		"empty-ish (1 byte)":     {0},
		"R||S of P-384 size":     append(append(make([]byte, 16), raw[:32]...), append(make([]byte, 16), raw[32:]...)...),
		"genuine r, s+n too big": append(append([]byte{}, raw[:32]...), sPlusN.Bytes()...),
	}
	for name, sig := range cases {
		t.Run(name, func(t *testing.T) {
			f.h.refuse(t, input+"."+hgB64(sig), middleware.ErrInvalidSignature)
		})
	}

	// The same for the issuer's own test-kit key, whose private half the
	// test does not hold: zero signatures never verify.
	sf := hgShared()
	kid := sf.kit.KeyID("ES256")
	for _, alg := range []string{"ES256"} {
		h := hgMustJSON(map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"})
		sf.h.refuse(t, hgCraft(h, hgMustJSON(hgValidClaims(sf.kit.URL)), make([]byte, 64)), middleware.ErrInvalidSignature)
	}
}

// TestHardeningSignatureLength: RSA and EdDSA signatures of the wrong
// length or content are refused.
func TestHardeningSignatureLength(t *testing.T) {
	t.Parallel()
	f := hgHeld()
	k := hgKeys()
	for _, c := range []struct {
		alg, kid string
		key      crypto.Signer
	}{{"RS256", "rsa-rs256", k.rsa}, {"PS256", "rsa-ps256", k.rsa}, {"EdDSA", "ed-eddsa", k.ed}} {
		tok := f.token(t, c.alg, c.kid, c.key)
		i := len(tok) - 1
		for i > 0 && tok[i] != '.' {
			i--
		}
		input, sig := tok[:i], tok[i+1:]
		raw, err := hgDecodeSeg(sig)
		if err != nil {
			t.Fatal(err)
		}
		flipped := append([]byte{}, raw...)
		flipped[len(flipped)/2] ^= 1
		for name, s := range map[string][]byte{
			"truncated": raw[:len(raw)-1],
			"extended":  append(append([]byte{}, raw...), 0),
			"flipped":   flipped,
			"zeros":     make([]byte, len(raw)),
		} {
			t.Run(c.alg+"/"+name, func(t *testing.T) {
				f.h.refuse(t, input+"."+hgB64(s), middleware.ErrInvalidSignature)
			})
		}
	}
}

func hgDecodeSeg(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(s)
}
