package middleware

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/bearerguard/bearerguard/internal/jsonscan"
	"github.com/golang-jwt/jwt/v5"
)

// This file checks a DPoP proof (RFC 9449 §4.3) for a DPoP-bound token, in
// the order of §4.3 and §7.1: one DPoP header; a compact JWS decoded as
// strictly as tokens (token.go); typ dpop+jwt; an allowlisted asymmetric
// alg; a jwk header holding a public key only, parsed by jwkset, that
// verifies the signature with golang-jwt's signing method; htm; htu; iat
// within DPoP.ProofLifetime and the leeway; ath; the token's cnf.jkt equal
// to the key's RFC 7638 thumbprint; with DPoP.NonceSecrets, the nonce
// (nonce.go); and last the jti, recorded in the
// replay store, so that a proof refused for another reason is not burnt.

// Causes of ErrInvalidDPoPProof, for the log: which check refused the proof.
var (
	errProofCount     = errors.New("not exactly one DPoP header")
	errProofMalformed = errors.New("proof is not a compact JWS of JSON objects")
	errProofType      = errors.New("proof typ is not dpop+jwt")
	errProofAlg       = errors.New("proof alg not allowed")
	errProofKey       = errors.New("proof jwk is not a public key fitting alg")
	errProofPrivate   = errors.New("proof jwk holds private key members")
	errProofSignature = errors.New("proof signature does not verify")
	errProofMethod    = errors.New("proof htm is not the request method")
	errProofURI       = errors.New("proof htu is not the request URI")
	errProofTime      = errors.New("proof iat outside the accepted window")
	errProofJTI       = errors.New("proof jti missing or too long")
	errProofATH       = errors.New("proof ath is not the hash of the access token")
	errProofJKT       = errors.New("proof key is not the key the token is bound to")
	errProofReplayed  = errors.New("proof jti seen before")
)

// maxJTISize bounds a proof's jti, in bytes.
const maxJTISize = 256

// dpopProof is a DPoP proof, decoded but not verified.
type dpopProof struct {
	typ, alg     string
	jwk          []byte // the raw "jwk" header member
	htm, htu     string
	iat          numericDate
	jti, ath     string
	nonce        string
	signingInput string
	signature    []byte
}

// checkProof checks the request's DPoP proof for token, bound by cnf.
func (v *Validator) checkProof(ctx context.Context, cnf *confirmation, token string, pr *presentation) error {
	if len(pr.proofs) != 1 {
		return invalidProof(errProofCount)
	}
	var p dpopProof
	if err := parseProof(pr.proofs[0], &p); err != nil {
		return invalidProof(errProofMalformed)
	}
	if p.typ != "dpop+jwt" {
		return invalidProof(errProofType)
	}
	method := jwt.GetSigningMethod(p.alg)
	if !v.dpopAlgs[p.alg] || method == nil {
		return invalidProof(errProofAlg)
	}
	pub, jkt, err := v.proofKeys.get(p.jwk, p.alg, v.cfg.now())
	if err != nil {
		return invalidProof(err)
	}
	if err := method.Verify(p.signingInput, p.signature, pub); err != nil {
		return invalidProof(errProofSignature)
	}
	if p.htm != pr.method {
		return invalidProof(&proofMismatch{errProofMethod, "htm", p.htm, pr.method})
	}
	if !sameURI(p.htu, pr) {
		return invalidProof(&proofMismatch{errProofURI, "htu", p.htu, pr.scheme + "://" + pr.host + pr.path})
	}
	now, leeway, life := v.cfg.now(), v.cfg.leeway(), v.cfg.proofLifetime()
	// An absent iat reads as the zero time: far too old.
	if now.Add(leeway).Before(p.iat.Time) || now.After(p.iat.Add(life+leeway)) {
		return invalidProof(errProofTime)
	}
	if p.jti == "" || len(p.jti) > maxJTISize {
		return invalidProof(errProofJTI)
	}
	ath := sha256.Sum256([]byte(token))
	if !equalB64(p.ath, ath[:]) {
		return invalidProof(errProofATH)
	}
	want, err := jsonscan.String(cnf.JKT)
	if err != nil || !equalB64(want, jkt) {
		return invalidProof(errProofJKT)
	}
	nonceEnd, err := v.checkProofNonce(p.nonce)
	if err != nil {
		return err
	}
	jtiHash := sha256.Sum256([]byte(p.jti))
	key := base64.RawURLEncoding.EncodeToString(jkt) + "." + base64.RawURLEncoding.EncodeToString(jtiHash[:])
	added, err := v.replay.Add(ctx, key, proofUntil(p.iat.Add(life+leeway), nonceEnd))
	v.observeReplay(ctx, added, err)
	switch {
	case err != nil:
		return unavailableFor(ErrReplayStoreFailed, replayRetry(err), err)
	case !added:
		return invalidProof(errProofReplayed)
	}
	return nil
}

// equalB64 reports whether s is the base64url encoding (no padding) of b.
func equalB64(s string, b []byte) bool {
	return subtle.ConstantTimeCompare([]byte(s), []byte(base64.RawURLEncoding.EncodeToString(b))) == 1
}

// parseProof decodes raw, a compact JWS, into p: its header and claims
// walked by internal/jsonscan (duplicate members refused), members of the
// wrong JSON type refused.
func parseProof(raw string, p *dpopProof) error {
	if len(raw) > MaxDPoPProofSize || !compactJWS(raw) {
		return errProofMalformed
	}
	i := strings.IndexByte(raw, '.')
	j := i + 1 + strings.IndexByte(raw[i+1:], '.')
	p.signingInput = raw[:j]
	hb, err := decodeSegment(make([]byte, b64.DecodedLen(i)), raw[:i])
	if err != nil {
		return err
	}
	err = jsonscan.Object(hb, func(name string, v []byte) error {
		switch name {
		case "typ":
			return proofString(&p.typ, v)
		case "alg":
			return proofString(&p.alg, v)
		case "jwk":
			p.jwk = v
		case "crit":
			return errProofMalformed // no extension is understood (RFC 7515 §4.1.11)
		}
		return nil
	})
	if err != nil {
		return err
	}
	pseg := raw[i+1 : j]
	pb, err := decodeSegment(make([]byte, b64.DecodedLen(len(pseg))), pseg)
	if err != nil {
		return err
	}
	err = jsonscan.Object(pb, func(name string, v []byte) error {
		switch name {
		case "htm":
			return proofString(&p.htm, v)
		case "htu":
			return proofString(&p.htu, v)
		case "jti":
			return proofString(&p.jti, v)
		case "ath":
			return proofString(&p.ath, v)
		case "nonce":
			return proofString(&p.nonce, v)
		case "iat":
			return readDate(&p.iat, v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sseg := raw[j+1:]
	p.signature, err = decodeSegment(make([]byte, b64.DecodedLen(len(sseg))), sseg)
	return err
}

func proofString(dst *string, v []byte) error {
	if v[0] != '"' {
		return errProofMalformed
	}
	s, err := jsonscan.SharedString(v) // parseProof's buffers are its own
	*dst = s
	return err
}

// proofKey parses the proof's jwk with jwkset: a public key of a type that
// fits alg, without private members (RFC 9449 §4.3 check 5).
// proofKeyCache remembers the public keys and thumbprints of proof JWKs
// already parsed: a client signs every proof with the same key, so most
// requests skip the JWK decoding and, for ECDSA and RSA, verify with a key
// whose precomputed values the standard library keeps. An entry is keyed by
// the exact JWK bytes and alg, so it is what proofKey would return again.
type proofKeyCache struct{ c *tokenCache[proofKeyEntry] }

type proofKeyEntry struct {
	pub crypto.PublicKey
	jkt []byte
}

// Bounds of the proof key cache: entries, bytes, and lifetime.
const (
	proofKeyCacheEntries = 1024
	proofKeyCacheBytes   = 4 << 20
	proofKeyCacheTTL     = 10 * time.Minute
)

func newProofKeyCache() proofKeyCache {
	return proofKeyCache{newTokenCache[proofKeyEntry](proofKeyCacheEntries, proofKeyCacheBytes)}
}

// get returns the public key and RFC 7638 thumbprint of the proof JWK raw
// for alg, parsing it on a miss. Refusals are not cached.
func (pc proofKeyCache) get(raw []byte, alg string, now time.Time) (crypto.PublicKey, []byte, error) {
	key := alg + "\x00" + string(raw)
	if e, ok := pc.c.get(key, now); ok {
		return e.pub, e.jkt, nil
	}
	pub, err := proofKey(raw, alg)
	if err != nil {
		return nil, nil, err
	}
	jkt, err := thumbprint(pub)
	if err != nil {
		return nil, nil, errProofKey
	}
	pc.c.put(key, proofKeyEntry{pub, jkt}, 2*len(key)+cacheEntryOverhead, now.Add(proofKeyCacheTTL), now)
	return pub, jkt, nil
}

func proofKey(raw []byte, alg string) (crypto.PublicKey, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errProofKey
	}
	if err := jsonscan.Object(raw, func(string, []byte) error { return nil }); err != nil {
		return nil, errProofKey // duplicate members
	}
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errProofKey
	}
	if m.D != "" || m.P != "" || m.Q != "" || m.DP != "" || m.DQ != "" || m.QI != "" || len(m.OTH) > 0 || m.K != "" {
		return nil, errProofPrivate
	}
	if m.KTY != jwkset.KtyRSA && m.KTY != jwkset.KtyEC && m.KTY != jwkset.KtyOKP {
		return nil, errProofKey
	}
	jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, errProofKey
	}
	pub := publicKey(jwk)
	if k, ok := pub.(*rsa.PublicKey); ok && k.N.BitLen() > MaxRSAKeyBits {
		return nil, errProofKey
	}
	if !keyFits(alg, pub) {
		return nil, errProofKey
	}
	return pub, nil
}

// thumbprint returns the RFC 7638 SHA-256 thumbprint of pub: the hash of
// its required members, in lexicographic order, without whitespace.
func thumbprint(pub crypto.PublicKey) ([]byte, error) {
	enc := base64.RawURLEncoding.EncodeToString
	var canonical string
	switch k := pub.(type) {
	case *rsa.PublicKey:
		canonical = `{"e":"` + enc(big.NewInt(int64(k.E)).Bytes()) + `","kty":"RSA","n":"` + enc(k.N.Bytes()) + `"}`
	case *ecdsa.PublicKey:
		point, err := k.Bytes() // 0x04 || X || Y, each coordinate full length
		if err != nil {
			return nil, err
		}
		size := (len(point) - 1) / 2
		canonical = `{"crv":"` + k.Curve.Params().Name + `","kty":"EC","x":"` + enc(point[1:1+size]) + `","y":"` + enc(point[1+size:]) + `"}`
	case ed25519.PublicKey:
		canonical = `{"crv":"Ed25519","kty":"OKP","x":"` + enc(k) + `"}`
	default:
		return nil, errProofKey
	}
	sum := sha256.Sum256([]byte(canonical))
	return sum[:], nil
}

// sameURI reports whether htu names the request's URI without query and
// fragment (RFC 9449 §4.3 check 9), after the syntax- and scheme-based
// normalisation of RFC 3986 §6.2.2 and §6.2.3: scheme and host compared in
// lower case, a default port dropped, an empty path read as "/", and
// percent-encodings compared in upper case. The request's scheme and host
// are DPoP.PublicBaseURL's when set.
func sameURI(htu string, pr *presentation) bool {
	u, err := url.Parse(htu)
	if err != nil || u.Opaque != "" || u.User != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, pr.scheme) &&
		normalHost(u.Scheme, u.Host) == normalHost(pr.scheme, pr.host) &&
		normalPath(u.EscapedPath()) == normalPath(pr.path)
}

// normalHost lower-cases host and drops the default port of scheme.
func normalHost(scheme, host string) string {
	host = strings.ToLower(host)
	switch strings.ToLower(scheme) {
	case "https":
		host = strings.TrimSuffix(host, ":443")
	case "http":
		host = strings.TrimSuffix(host, ":80")
	}
	return host
}

// normalPath reads an empty path as "/" and upper-cases the hex digits of
// percent-encodings.
func normalPath(p string) string {
	if p == "" {
		return "/"
	}
	if strings.IndexByte(p, '%') < 0 {
		return p
	}
	b := []byte(p)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = upperHex(b[i+1]), upperHex(b[i+2])
		}
	}
	return string(b)
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
