package middlewaretest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"maps"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DPoPKey is a client's DPoP key pair (RFC 9449 §2), for minting
// DPoP-bound tokens ([Spec.JKT] = key.Thumbprint()) and the proofs that
// go with them ([DPoPKey.Proof]). Create it with [NewDPoPKey]. It is
// immutable and safe for concurrent use.
type DPoPKey struct {
	alg        string
	signer     crypto.Signer
	jwk        map[string]any // public members only
	thumbprint string
}

// NewDPoPKey generates a DPoP key for alg, one of the algorithms
// [NewIssuer] supports ("ES256", "RS256", "EdDSA", ...). It panics if alg
// is not supported.
func NewDPoPKey(alg string) *DPoPKey {
	k, err := generateKey(alg)
	if err != nil {
		panic(err)
	}
	jwk, thumbprint, err := publicJWK(k.signer.Public())
	if err != nil {
		panic(err)
	}
	return &DPoPKey{alg: alg, signer: k.signer, jwk: jwk, thumbprint: thumbprint}
}

// Alg returns the key's JWS algorithm.
func (k *DPoPKey) Alg() string { return k.alg }

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the public key,
// base64url: the "jkt" a DPoP-bound token carries in "cnf" (RFC 9449 §6.1).
func (k *DPoPKey) Thumbprint() string { return k.thumbprint }

// JWK returns the public key as a JWK (a new map on each call), as a
// proof's "jwk" header carries it.
func (k *DPoPKey) JWK() map[string]any { return maps.Clone(k.jwk) }

// PrivateJWK returns the key as a JWK with its private members ("d", and
// for RSA the CRT members), for the fault of a proof that carries its
// private key in the "jwk" header, which a resource server must refuse.
func (k *DPoPKey) PrivateJWK() map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	m := k.JWK()
	switch s := k.signer.(type) {
	case *ecdsa.PrivateKey:
		d, err := s.Bytes()
		if err != nil {
			panic(err)
		}
		m["d"] = b64(d)
	case ed25519.PrivateKey:
		m["d"] = b64(s.Seed())
	case *rsa.PrivateKey:
		s.Precompute()
		m["d"] = b64(s.D.Bytes())
		m["p"] = b64(s.Primes[0].Bytes())
		m["q"] = b64(s.Primes[1].Bytes())
		m["dp"] = b64(s.Precomputed.Dp.Bytes())
		m["dq"] = b64(s.Precomputed.Dq.Bytes())
		m["qi"] = b64(s.Precomputed.Qinv.Bytes())
	}
	return m
}

// Proof describes a DPoP proof for [DPoPKey.Proof]. The zero Proof is a
// valid proof for "GET" of no URL: set at least URL.
type Proof struct {
	// Method is the "htm" claim. Optional; default "GET".
	Method string
	// URL is the "htu" claim, sent as given (a resource server compares
	// it without query and fragment, after RFC 9449 §4.3 normalisation).
	URL string
	// AccessToken, if set, is hashed into the "ath" claim (RFC 9449 §4.2):
	// base64url(SHA-256(AccessToken)). Optional; no "ath" when empty.
	AccessToken string
	// IssuedAt is the "iat" claim. Optional; default the current time.
	IssuedAt time.Time
	// JTI is the "jti" claim. Optional; default 130 random bits.
	JTI string
	// Nonce is the "nonce" claim (RFC 9449 §9). Optional; none when empty.
	Nonce string
	// Header is merged into the JOSE header last, replacing parameters of
	// the same name; a nil value deletes the parameter. By default the
	// header is typ "dpop+jwt", alg the key's and jwk the public key.
	// Overriding "alg" changes only what the header claims: the proof is
	// still signed with the key's algorithm. Setting "jwk" to another
	// key's JWK makes a proof whose signature that key does not verify.
	Header map[string]any
	// Claims are merged into the payload last, replacing claims of the
	// same name; a nil value deletes the claim.
	Claims map[string]any
}

// Proof mints a DPoP proof JWT (RFC 9449 §4.2) signed with k. Every fault
// a resource server must refuse can be made with its fields: wrong htm or
// htu, an old or future iat, a reused JTI, a wrong or missing ath
// (AccessToken, or Claims{"ath": ...}), a wrong typ (Header{"typ": ...}),
// a private or foreign jwk (Header{"jwk": k.PrivateJWK()} or another
// key's JWK()), a key of another algorithm (a DPoPKey of that algorithm).
func (k *DPoPKey) Proof(p Proof) string {
	method := p.Method
	if method == "" {
		method = "GET"
	}
	iat := p.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	jti := p.JTI
	if jti == "" {
		jti = randomID()
	}
	header := map[string]any{"typ": "dpop+jwt", "alg": k.alg, "jwk": k.JWK()}
	claims := map[string]any{"htm": method, "htu": p.URL, "iat": iat.Unix(), "jti": jti}
	if p.AccessToken != "" {
		claims["ath"] = ATH(p.AccessToken)
	}
	if p.Nonce != "" {
		claims["nonce"] = p.Nonce
	}
	merge(header, p.Header)
	merge(claims, p.Claims)
	return mustSign(jwt.GetSigningMethod(k.alg), k.signer, header, claims)
}

// ATH returns the "ath" of a DPoP proof for accessToken (RFC 9449 §4.2):
// base64url(SHA-256(accessToken)).
func ATH(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// CertThumbprint returns the "x5t#S256" of cert (RFC 8705 §3.1):
// base64url(SHA-256(DER)), the value [Spec.CertThumbprint] takes to bind
// a token to the client certificate.
func CertThumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// confirmation returns the "cnf" claim of s (RFC 7800), or nil.
func confirmation(s Spec) map[string]any {
	if s.JKT == "" && s.CertThumbprint == "" {
		return nil
	}
	cnf := map[string]any{}
	if s.JKT != "" {
		cnf["jkt"] = s.JKT
	}
	if s.CertThumbprint != "" {
		cnf["x5t#S256"] = s.CertThumbprint
	}
	return cnf
}
