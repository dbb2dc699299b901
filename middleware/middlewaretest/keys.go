package middlewaretest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
)

// supportedAlgs lists the JWS algorithms an Issuer can sign with, in the
// order they are advertised in the metadata.
func supportedAlgs() []string {
	return []string{
		"RS256", "RS384", "RS512",
		"PS256", "PS384", "PS512",
		"ES256", "ES384", "ES512",
		"EdDSA",
	}
}

// eagerAlgs are the algorithms whose keys NewIssuer generates up front.
func eagerAlgs() []string {
	return []string{"RS256", "PS256", "ES256", "EdDSA"}
}

// signingKey is one private key with its published form. It is immutable.
type signingKey struct {
	kid    string
	alg    string
	signer crypto.Signer  // *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey
	jwk    map[string]any // public JWK, including kid, use and alg
}

// generateKey creates a fresh key for alg: RSA 2048 for RS* and PS*, the
// matching NIST curve for ES* (RFC 7518 §3.4) and Ed25519 for EdDSA.
func generateKey(alg string) (*signingKey, error) {
	var (
		signer crypto.Signer
		err    error
	)
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		signer, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("middlewaretest: unsupported alg %q (supported: %v)", alg, supportedAlgs())
	}
	if err != nil {
		return nil, fmt.Errorf("middlewaretest: generate %s key: %w", alg, err)
	}
	jwk, thumbprint, err := publicJWK(signer.Public())
	if err != nil {
		return nil, err
	}
	jwk["kid"] = thumbprint
	jwk["use"] = "sig"
	jwk["alg"] = alg
	return &signingKey{kid: thumbprint, alg: alg, signer: signer, jwk: jwk}, nil
}

// publicJWK returns the JWK members of a public key (RFC 7518 §6.2, §6.3,
// RFC 8037 §2) and its RFC 7638 thumbprint.
func publicJWK(pub crypto.PublicKey) (map[string]any, string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var required map[string]string // the members RFC 7638 §3.2 hashes
	switch k := pub.(type) {
	case *rsa.PublicKey:
		required = map[string]string{
			"kty": "RSA",
			"n":   b64(k.N.Bytes()),
			"e":   b64(big.NewInt(int64(k.E)).Bytes()),
		}
	case *ecdsa.PublicKey:
		ecdh, err := k.ECDH() // validates the point and gives the SEC 1 encoding
		if err != nil {
			return nil, "", fmt.Errorf("middlewaretest: encode EC key: %w", err)
		}
		point := ecdh.Bytes() // 0x04 || X || Y, each coordinate full length
		size := (len(point) - 1) / 2
		required = map[string]string{
			"kty": "EC",
			"crv": k.Curve.Params().Name,
			"x":   b64(point[1 : 1+size]),
			"y":   b64(point[1+size:]),
		}
	case ed25519.PublicKey:
		required = map[string]string{
			"kty": "OKP",
			"crv": "Ed25519",
			"x":   b64(k),
		}
	default:
		return nil, "", fmt.Errorf("middlewaretest: unsupported public key type %T", pub)
	}
	// encoding/json writes map keys in sorted order without whitespace,
	// which is exactly the canonical form RFC 7638 §3 asks for.
	canonical, err := json.Marshal(required)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(canonical)
	jwk := make(map[string]any, len(required)+3)
	for k, v := range required {
		jwk[k] = v
	}
	return jwk, b64(sum[:]), nil
}

// currentKey returns the signing key for alg, generating it on first use.
func (i *Issuer) currentKey(alg string) *signingKey {
	i.mu.RLock()
	k := i.current[alg]
	i.mu.RUnlock()
	if k != nil {
		return k
	}
	// Generate outside the lock: RSA key generation is slow and other
	// goroutines should keep minting meanwhile. If two goroutines race,
	// the first to install wins and the other key is dropped.
	fresh, err := generateKey(alg)
	if err != nil {
		panic(err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if k := i.current[alg]; k != nil {
		return k
	}
	i.installLocked(fresh)
	return fresh
}

// installLocked publishes k and makes it the signing key for its alg.
// i.mu must be held for writing.
func (i *Issuer) installLocked(k *signingKey) {
	i.current[k.alg] = k
	i.published = append(i.published, k)
}

// KeyID returns the key ID ("kid") of the current signing key for alg,
// generating the key on first use. It panics if alg is not supported.
func (i *Issuer) KeyID(alg string) string {
	return i.currentKey(alg).kid
}

// PublicKey returns the public half of the current signing key for alg:
// *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey. It generates the
// key on first use and panics if alg is not supported.
func (i *Issuer) PublicKey(alg string) any {
	return i.currentKey(alg).signer.Public()
}

// RotateKey generates a new key for alg, publishes it in the JWKS next to
// the keys already there and makes it the signing key for alg. It returns
// the new key ID. The previous key stays published until [Issuer.RemoveKey].
// It panics if alg is not supported.
func (i *Issuer) RotateKey(alg string) string {
	k, err := generateKey(alg)
	if err != nil {
		panic(err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.installLocked(k)
	return k.kid
}

// RemoveKey stops publishing the key with ID kid. If it is the current
// signing key for its alg it keeps signing, so later tokens carry a kid
// that the JWKS no longer lists; call [Issuer.RotateKey] to replace it.
// Unknown IDs are ignored.
func (i *Issuer) RemoveKey(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.published = slices.DeleteFunc(i.published, func(k *signingKey) bool {
		return k.kid == kid
	})
}

// SetJWKS makes GET /jwks answer with exactly raw (status 200,
// Content-Type application/json) instead of the real key set, for tests
// with malformed or hostile key sets. A nil raw restores the real set; an
// empty non-nil raw serves an empty body. SetJWKS copies raw.
// [Issuer.SetStatus] and [Issuer.SetDelay] still apply.
func (i *Issuer) SetJWKS(raw []byte) {
	var body []byte
	if raw != nil {
		body = slices.Clone(raw)
		if body == nil {
			body = []byte{}
		}
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwksOverride = body
}

// jwksBody returns the body GET /jwks should serve.
func (i *Issuer) jwksBody() ([]byte, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.jwksOverride != nil {
		return i.jwksOverride, nil
	}
	keys := make([]map[string]any, 0, len(i.published))
	for _, k := range i.published {
		keys = append(keys, withKeyIssuer(k.jwk, i.keyIssuer))
	}
	return json.Marshal(map[string]any{"keys": keys})
}
