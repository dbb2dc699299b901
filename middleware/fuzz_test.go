package middleware_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// The whole-check fuzzer verifies with fixed keys, a fixed clock and a
// fixed issuer, so that the valid tokens committed under
// testdata/fuzz/FuzzValidateToken stay valid: they expire an hour after
// hgFuzzNow. The JWK Set is served in memory; no listener is involved.
const (
	hgFuzzIssuer   = "https://issuer.fuzz.example"
	hgFuzzJWKSURL  = "https://issuer.fuzz.example/jwks"
	hgFuzzAudience = "https://api.fuzz.example"
)

var hgFuzzNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// hgFuzzRSAKey is a 2048-bit RSA key for tests only.
var hgFuzzRSAKey = strings.ReplaceAll(`-----BEGIN TESTING KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCdg+T3LCxjbTxz
16N1Bslf7qPxEulgDMrTAM0np0U9QxNl8jdgMLW3ByECk7N3GdrpYDT/3dgsKpFW
TMcVz279b3eYOecPtsLyrdQNrhlHV1T7kHmaFpk4IW1Ngm54ISdDYq8Ad0iXOxyd
4P+fXPkEcn/fLl7TDqoVbdTJodUq5/F2LIP7Hmjh5HFDDxIjggX56HjJg+ObSJN5
L9rZZIrkYBLLZ0gcX3lPRVPZ6O/3H8xbNmkGIk+J+0moH0hWRSiz6QGkRguLgn07
SZW9bjXi87kRlSGXeyMNjoRVPRRDY7LAIRSObHPDCppmy3IG2Xy/kCXzLpycizOU
lQjIB86vAgMBAAECggEAP5ZFodSWzMKF03v7VBxbwdrsGr9YL/qqDFk3+KiJhowj
8hVAbpfrW4pItKocmll5Kpo4eww7HsVGa7DN88uMEkpj3LOPSCQu+dnbj3Q3Zznl
qDJwLJiv3N19qvsbDmrP11+opwcAanCmAkQY3WQicL2qSlYFWK2EUudGLemjTNC4
YsDVqsPsjSunz5Mqcy9Ws0LRHFyZA3xWK8X5u2ok/RCFXEaqZUH6GIh9x7NBmLUc
VqCyA23LNAEWO5ivB5713FFH9keT9+vVHQ2UqbQZZoCzUr/FiOzxvP8URWo9BHoO
5sKP5J0ScoHwqnGwrGK9klEIkmF0ppNpbj4qF2UPSQKBgQDKAkxdHJu1JEeOP3MC
0Zo3SEWlKBDrI9dsWMSFaWelh6Ui5FQtPnkoPd1yzfa0dP3hKCUj7fHYZksrpmeX
Kjs5QWK5trXRzVwFs/fzruUxUrsSrcIGc2ns25GKVhyCmGfC2nnA6FCRTlg+M857
4tmu6vrIKBuZqoVMBhw6Ico4hwKBgQDHnUc25tr+s6YtGSE9I3OqErfB9wTjyZ+6
XoZiOIoMoZ2NEQGm82WPmIxmK7pAniStEN8IwwVO2DXXQcewyDMBpBDMfMHUGTcp
t9G66Y9IPjROl8aLIcxgxrbOekggUDIlCnZkday7mF/Kews2psoMR8r4F3zITBqG
SgzWFcNKmQKBgBfkM7Hje0ruMoRRXsHbllipdIs29OFKiOTojr2UnMyIAXDh/k6n
j97BilpUn7PyDkC95b6dGrhUSNmtwZywQvbfk9SRFmns1tBZ2553deXiefuYj1UB
+2onAcyRqKeNbOAvxKybDURSNr+MkwQ17Tbx1Z0smS8Qatl184qwimErAoGBAMSh
JB5rx7tv4bi48WoVOwGEUKjrmFB+My5VoJCuWyZYKSdlYjg/uIJ75Ylbd6vhXAVz
AhDScq8ZAehZrshwXPY31ChqmFBCynj4zssM+QxT4hitH3G8SGPoOvknsVbLSKn+
JWOOGynrzihZjlE2eP8h1UkPceaoONShqwVUCLy5AoGAWKgKb5wcWlB6UpqwJDYq
qqwnGO7Fy+gnrlFK8pCWnN8Cgk9tgQbqdiyqPEMAyOX9hm7QAa0Uvz1nWP2zUtSP
z1BmS6GfHckUFaZmKHVVxhFw3+Rum/IVviFYqrPxX3K23wZg/1bgeeu+XbjHKd0a
0DXMXxxE6NTjZGAY62BKoHE=
-----END TESTING KEY-----
`, "TESTING KEY", "PRIVATE KEY")

type hgFuzzKeys struct {
	rsa              *rsa.PrivateKey
	p256, p384, p521 *ecdsa.PrivateKey
	ed               ed25519.PrivateKey
	jwks             []byte
}

// hgFuzzKeySet derives the fuzzer's keys from fixed bytes.
var hgFuzzKeySet = sync.OnceValue(func() *hgFuzzKeys {
	block, _ := pem.Decode([]byte(hgFuzzRSAKey))
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		panic(err)
	}
	ec := func(c elliptic.Curve, label string) *ecdsa.PrivateKey {
		// A 256-bit scalar, left-padded to the curve's size: below the
		// order of P-256 (checked by ParseRawPrivateKey), P-384 and P-521.
		size := (c.Params().BitSize + 7) / 8
		d := sha256.Sum256([]byte(label))
		raw := make([]byte, size)
		copy(raw[size-len(d):], d[:])
		key, err := ecdsa.ParseRawPrivateKey(c, raw)
		if err != nil {
			panic(err)
		}
		return key
	}
	seed := sha256.Sum256([]byte("bearerguard fuzz ed25519"))
	fk := &hgFuzzKeys{
		rsa:  k.(*rsa.PrivateKey),
		p256: ec(elliptic.P256(), "bearerguard fuzz p256"),
		p384: ec(elliptic.P384(), "bearerguard fuzz p384"),
		p521: ec(elliptic.P521(), "bearerguard fuzz p521"),
		ed:   ed25519.NewKeyFromSeed(seed[:]),
	}
	fk.jwks = hgJwks(
		hgJwk(fk.rsa, "rsa", ""), // no alg: RS* and PS*
		hgJwk(fk.p256, "p256", "ES256"),
		hgJwk(fk.p384, "p384", "ES384"),
		hgJwk(fk.p521, "p521", "ES512"),
		hgJwk(fk.ed, "ed", "EdDSA"),
	)
	return fk
})

// forAlg returns the kid and signing key for alg.
func (k *hgFuzzKeys) forAlg(alg string) (string, any) {
	switch alg {
	case "ES256":
		return "p256", k.p256
	case "ES384":
		return "p384", k.p384
	case "ES512":
		return "p521", k.p521
	case "EdDSA":
		return "ed", k.ed
	}
	return "rsa", k.rsa
}

// hgFuzzClaims are valid claims at hgFuzzNow.
func hgFuzzClaims() map[string]any {
	return map[string]any{
		"iss":       hgFuzzIssuer,
		"sub":       "user-123",
		"aud":       hgFuzzAudience,
		"iat":       hgFuzzNow.Unix(),
		"exp":       hgFuzzNow.Add(time.Hour).Unix(),
		"jti":       "fuzz",
		"client_id": "fuzz-client",
		"scope":     "read:users write:users",
	}
}

// hgFuzzToken signs raw header and payload JSON with the key for alg.
func hgFuzzToken(t testing.TB, alg, header, payload string) string {
	_, key := hgFuzzKeySet().forAlg(alg)
	return hgSignRaw(t, alg, key, header, payload)
}

// hgFuzzSeeds are valid tokens of every algorithm and hostile variants.
func hgFuzzSeeds(t testing.TB) []string {
	k := hgFuzzKeySet()
	claims := hgMustJSON(hgFuzzClaims())
	hdr := func(alg string, extra ...any) string {
		kid, _ := k.forAlg(alg)
		return hgMustJSON(hgWith(map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"}, extra...))
	}
	var seeds []string
	for _, alg := range middleware.DefaultAlgorithms() {
		seeds = append(seeds, hgFuzzToken(t, alg, hdr(alg), claims))
	}
	valid := seeds[0]
	parts := strings.Split(valid, ".")
	pub, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	with := func(kv ...any) string { return hgMustJSON(hgWith(hgFuzzClaims(), kv...)) }
	seeds = append(seeds,
		hgFuzzToken(t, "RS256", hdr("RS256", "typ", nil, "kid", nil), claims), // no typ, no kid
		hgFuzzToken(t, "ES256", hdr("ES256", "typ", "JWT"), with("scp", []string{"a", "b"})),
		hgFuzzToken(t, "RS256", hdr("RS256"), with("exp", float64(hgFuzzNow.Add(time.Hour).Unix())+0.5)),
		hgCraft(`{"alg":"none"}`, claims, nil),
		hgCraft(`{"alg":"none","typ":"at+jwt"}`, claims, []byte("x")),
		hgSignRaw(t, "HS256", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), hdr("HS256", "kid", "rsa"), claims),
		hgFuzzToken(t, "RS256", hdr("RS512"), claims), // header lies about alg
		hgCraft(hdr("ES256"), claims, make([]byte, 64)),
		hgFuzzToken(t, "RS256", hdr("RS256", "kid", "../../etc/passwd"), claims),
		hgFuzzToken(t, "RS256", hdr("RS256", "crit", []string{"b64"}, "b64", false), claims),
		hgFuzzToken(t, "RS256", hdr("RS256", "jku", "https://attacker.example/jwks"), claims),
		hgFuzzToken(t, "RS256", hdr("RS256", "typ", "dpop+jwt"), claims),
		hgFuzzToken(t, "RS256", hdr("RS256"), with("cnf", map[string]any{"jkt": "x"})),
		hgFuzzToken(t, "RS256", hdr("RS256"), with("nonce", "n", "at_hash", "h")),
		hgFuzzToken(t, "RS256", hdr("RS256"), with("exp", "1893459600")),
		hgFuzzToken(t, "RS256", hdr("RS256"), with("aud", 1)),
		hgFuzzToken(t, "RS256", hdr("RS256"), with("scope", []string{"a"})),
		hgFuzzToken(t, "RS256", hdr("RS256"), claims[:len(claims)-1]+`,"iss":"https://evil.example"}`),
		hgFuzzToken(t, "RS256", hdr("RS256"), claims[:len(claims)-1]+`,"Scope":"admin"}`),
		hgFuzzToken(t, "RS256", hdr("RS256"), claims[:len(claims)-1]+`,"x":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+"}"),
		hgFuzzToken(t, "RS256", hdr("RS256"), "null"),
		parts[0]+"."+parts[1]+"."+parts[2]+"."+parts[2]+"."+parts[2], // JWE-shaped
		valid+".",
		valid+"==",
		strings.ReplaceAll(strings.ReplaceAll(valid, "-", "+"), "_", "/"),
		parts[0]+"."+parts[1]+"\n."+parts[2],
		"",
		"..",
		"a.b.c",
	)
	return seeds
}

// hgStaticJWKS serves the fuzzer's JWK Set in memory.
type hgStaticJWKS []byte

func (s hgStaticJWKS) RoundTrip(r *http.Request) (*http.Response, error) {
	status := http.StatusOK
	body := []byte(s)
	if r.URL.String() != hgFuzzJWKSURL {
		status, body = http.StatusNotFound, nil
	}
	return &http.Response{
		StatusCode: status,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(bytes.NewReader(body)),
		Request:    r,
	}, nil
}

// hgFuzzValidator returns a validator of the fuzzer's issuer.
func hgFuzzValidator(tb testing.TB, cfg middleware.Config) *middleware.Validator {
	cfg.Issuer = hgFuzzIssuer
	cfg.JWKSURL = hgFuzzJWKSURL
	cfg.Audiences = []string{hgFuzzAudience}
	cfg.HTTPClient = &http.Client{Transport: hgStaticJWKS(hgFuzzKeySet().jwks)}
	cfg.Now = func() time.Time { return hgFuzzNow }
	v, err := middleware.New(context.Background(), cfg) // lives as long as the fuzz process
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		tb.Fatal(err)
	}
	return v
}

// hgFuzzCheck asserts the invariants of one answer of ValidateToken.
func hgFuzzCheck(t *testing.T, token string, err error) *middleware.Error {
	t.Helper()
	if err == nil {
		return nil
	}
	e, ok := err.(*middleware.Error)
	if !ok {
		t.Fatalf("error of type %T: %v", err, err)
	}
	if n := hgCategoryCount(e); n != 1 {
		t.Fatalf("error matches %d categories: %v", n, e)
	}
	// A token alone, with keys loaded, can only be invalid.
	if !errors.Is(e, middleware.ErrInvalidToken) || e.Status != http.StatusUnauthorized || e.Code != middleware.CodeInvalidToken {
		t.Fatalf("error %v: status %d code %q, want 401 invalid_token", e, e.Status, e.Code)
	}
	if e.Description == "" {
		t.Fatalf("error %v without description", e)
	}
	for i := 0; i < len(e.Description); i++ {
		c := e.Description[i]
		if !(c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)) {
			t.Fatalf("description %q outside the RFC 6750 character set", e.Description)
		}
	}
	if len(token) >= 8 && strings.Contains(e.Description, token) {
		t.Fatalf("description contains the token")
	}
	_ = e.Error()
	return e
}

// FuzzValidateToken runs the whole check, with real keys, on arbitrary
// tokens: it never panics, every refusal is a *middleware.Error of exactly
// one category (invalid_token: the keys are loaded), descriptions stay
// fixed texts, the token cache never changes an answer, and an accepted
// token is one of the configured issuer and audience that has not
// expired. The same token in an Authorization header gets an RFC 6750
// answer.
func FuzzValidateToken(f *testing.F) {
	for _, s := range hgFuzzSeeds(f) {
		f.Add(s)
	}
	plain := hgFuzzValidator(f, middleware.Config{TokenCacheSize: -1})
	cached := hgFuzzValidator(f, middleware.Config{})
	wide := hgFuzzValidator(f, middleware.Config{
		TokenCacheSize:  -1,
		ScopeClaims:     []string{"scope", "scp", "permissions", "roles", "realm_access.roles"},
		ClientIDs:       []string{"fuzz-client"},
		AllowQueryToken: true,
	})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token string) {
		c, err := plain.ValidateToken(ctx, token)
		e := hgFuzzCheck(t, token, err)
		if err == nil {
			if c == nil || c.Issuer != hgFuzzIssuer || !strings.Contains(strings.Join(c.Audience, "\x00")+"\x00", hgFuzzAudience+"\x00") {
				t.Fatalf("accepted claims %+v", c)
			}
			if !hgFuzzNow.Before(c.ExpiresAt.Add(middleware.DefaultLeeway)) {
				t.Fatalf("accepted an expired token: exp %v", c.ExpiresAt)
			}
		}
		// The cache: a miss then (possibly) a hit, both like plain.
		for range 2 {
			_, cerr := cached.ValidateToken(ctx, token)
			ce := hgFuzzCheck(t, token, cerr)
			if (e == nil) != (ce == nil) || (e != nil && ce.Description != e.Description) {
				t.Fatalf("cache changed the answer: %v, then %v", err, cerr)
			}
		}
		_, werr := wide.ValidateToken(ctx, token)
		hgFuzzCheck(t, token, werr)

		// Over HTTP, in the header and in the query.
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{"Bearer " + token}
		if _, err := wide.Check(r, middleware.Policy{}); err != nil {
			var he *middleware.Error
			if !errors.As(err, &he) {
				t.Fatalf("Check error %v is not an *Error", err)
			}
			if he.Status != http.StatusBadRequest && he.Status != http.StatusUnauthorized {
				t.Fatalf("HTTP status %d: %v", he.Status, he)
			}
			if ch := wide.Challenge(he); !strings.HasPrefix(ch, "Bearer") || strings.ContainsAny(ch, "\r\n") {
				t.Fatalf("challenge %q", ch)
			}
		}
	})
}

// TestHardeningFuzzSeeds keeps the fuzzer's seeds meaningful: the valid
// ones, generated and committed (testdata/fuzz/FuzzValidateToken/*-valid-*),
// are accepted by the fuzzer's validator, so mutations start from tokens
// that pass every check.
func TestHardeningFuzzSeeds(t *testing.T) {
	t.Parallel()
	v := hgFuzzValidator(t, middleware.Config{TokenCacheSize: -1})
	ctx := context.Background()
	for _, s := range hgFuzzSeeds(t)[:13] {
		if _, err := v.ValidateToken(ctx, s); err != nil {
			t.Errorf("generated seed refused: %v", err)
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzValidateToken", "*-valid-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < len(middleware.DefaultAlgorithms()) {
		t.Fatalf("%d committed valid seeds, want one per algorithm at least", len(files))
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "string(") {
			t.Fatalf("%s: not a string corpus entry", name)
		}
		tok, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := v.ValidateToken(ctx, tok); err != nil {
			t.Errorf("%s refused: %v", filepath.Base(name), err)
		}
	}
}

// FuzzDPoPProof: the whole check of a DPoP request with a fuzzed proof for
// a valid DPoP-bound token: never a panic, always an *Error of one
// category, and a proof accepted at most once.
func FuzzDPoPProof(f *testing.F) {
	key := middlewaretest.NewDPoPKey("ES256")
	claims := hgWith(hgFuzzClaims(), "cnf", map[string]any{"jkt": key.Thumbprint()})
	token := hgFuzzToken(f, "RS256", hgMustJSON(map[string]any{"alg": "RS256", "kid": hgFuzzKidOf("RS256"), "typ": "at+jwt"}), hgMustJSON(claims))
	proof := func(p middlewaretest.Proof) string {
		p.URL, p.AccessToken = "https://api.example.test/resource", token
		if p.IssuedAt.IsZero() {
			p.IssuedAt = hgFuzzNow
		}
		return key.Proof(p)
	}
	valid := proof(middlewaretest.Proof{})
	for _, s := range []string{
		valid, "", "a.b.c", valid + "x", strings.Replace(valid, ".", "..", 1),
		proof(middlewaretest.Proof{Header: map[string]any{"jwk": key.PrivateJWK()}}),
		proof(middlewaretest.Proof{Header: map[string]any{"jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": 1}}}),
		proof(middlewaretest.Proof{Claims: map[string]any{"iat": "x", "htm": 1}}),
	} {
		f.Add(s)
	}
	v := hgFuzzValidator(f, middleware.Config{DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed}})
	check := func(p string) error {
		r := httptest.NewRequest(http.MethodGet, "https://api.example.test/resource", nil)
		r.Header.Set("Authorization", "DPoP "+token)
		r.Header["Dpop"] = []string{p}
		_, err := v.Check(r, middleware.Policy{})
		return err
	}
	if err := check(proof(middlewaretest.Proof{})); err != nil {
		f.Fatalf("a valid proof is refused: %v", err)
	}
	accepted := map[string]bool{}
	f.Fuzz(func(t *testing.T, p string) {
		err := check(p)
		if err == nil {
			if accepted[p] {
				t.Fatalf("proof accepted twice")
			}
			accepted[p] = true
			return
		}
		e, ok := err.(*middleware.Error)
		if !ok {
			t.Fatalf("error of type %T: %v", err, err)
		}
		if n := hgCategoryCount(e); n != 1 {
			t.Fatalf("error matches %d categories: %v", n, e)
		}
	})
}

// hgFuzzKidOf returns the kid of the fuzz key set's key for alg.
func hgFuzzKidOf(alg string) string {
	kid, _ := hgFuzzKeySet().forAlg(alg)
	return kid
}
