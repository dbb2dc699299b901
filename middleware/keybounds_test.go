package middleware

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	mathbig "math/big"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// The bounds on the work a hostile or bloated JWK Set can cause (SECURITY.md):
// at most MaxJWKSKeys keys are held, RSA keys above MaxRSAKeyBits are
// ignored, and a token is tried against at most MaxCandidateKeys keys.

func boundsJWK(t *testing.T, key any, kid string) json.RawMessage {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(jwk.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestKeySetBounds(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ik := newIssuerKeys(&Config{}, nil, Issuer{Issuer: "https://issuer.example"})

	t.Run("keys per set", func(t *testing.T) {
		raw := make([]json.RawMessage, 3*MaxJWKSKeys)
		for i := range raw {
			raw[i] = boundsJWK(t, &ec.PublicKey, "")
		}
		keys := ik.usableKeys(context.Background(), raw)
		if len(keys) != MaxJWKSKeys {
			t.Fatalf("%d keys held, want MaxJWKSKeys = %d", len(keys), MaxJWKSKeys)
		}
		set := newKeySet(keys, nil)
		// A token without kid: at most MaxCandidateKeys tries.
		if c, found := set.candidates("", false, "ES512"); !found || c.n != MaxCandidateKeys {
			t.Fatalf("keyless token: %d candidates (found %v), want %d", c.n, found, MaxCandidateKeys)
		}
		// A kid shared by every key: the same bound.
		if c, found := set.candidates("", true, "ES512"); !found || c.n != MaxCandidateKeys {
			t.Fatalf("shared kid: %d candidates (found %v), want %d", c.n, found, MaxCandidateKeys)
		}
		// Keys that do not fit the alg are no candidates.
		if c, _ := set.candidates("", false, "ES256"); c.n != 0 {
			t.Fatalf("ES256 token: %d candidates among P-521 keys", c.n)
		}
	})
	t.Run("RSA size", func(t *testing.T) {
		// A public key needs no primes: any odd modulus of that size.
		n := make([]byte, MaxRSAKeyBits/8+1)
		if _, err := rand.Read(n); err != nil {
			t.Fatal(err)
		}
		n[0], n[len(n)-1] = 0xff, n[len(n)-1]|1
		big := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(mathbig.Int).SetBytes(n), E: 65537}}
		keys := ik.usableKeys(context.Background(), []json.RawMessage{boundsJWK(t, &big.PublicKey, "big"), boundsJWK(t, &ec.PublicKey, "ec")})
		if len(keys) != 1 || keys[0].kid != "ec" {
			t.Fatalf("held %d keys; want only the EC key, not the RSA key above MaxRSAKeyBits", len(keys))
		}
	})
	t.Run("verifications per token", func(t *testing.T) {
		var raw []json.RawMessage
		for range MaxJWKSKeys {
			raw = append(raw, boundsJWK(t, &ec.PublicKey, ""))
		}
		ik.set.Store(newKeySet(ik.usableKeys(context.Background(), raw), nil))
		m := &countingMethod{SigningMethod: jwt.SigningMethodES512}
		tok := &jwsToken{method: m, signingInput: "a.b", signature: make([]byte, 132)}
		if _, err := verifySignature(context.Background(), ik, tok); err == nil {
			t.Fatal("verified")
		}
		if m.n != MaxCandidateKeys {
			t.Fatalf("%d verifications for a forged keyless token, want MaxCandidateKeys = %d", m.n, MaxCandidateKeys)
		}
		// A request that has ended stops trying keys.
		m.n = 0
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := verifySignature(ctx, ik, tok); err == nil {
			t.Fatal("verified")
		}
		if m.n != 0 {
			t.Fatalf("%d verifications after the request's context ended", m.n)
		}
	})
}

// countingMethod counts signature verifications.
type countingMethod struct {
	jwt.SigningMethod
	n int
}

func (m *countingMethod) Verify(signingString string, sig []byte, key any) error {
	m.n++
	return m.SigningMethod.Verify(signingString, sig, key)
}
