package middleware_test

// Helpers shared by the hardening tests (hardening_*_test.go) and the
// whole-check fuzzer (fuzz_test.go). Every hostile case is asserted through
// ValidateToken and, where a request is involved, through the net/http
// middleware: the status, the RFC 6750 challenge and errors.Is on both the
// category and the specific sentinel. Message text is never asserted.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

const hgHardAudience = "https://api.example.test"

// hgCategories are the five category sentinels; every refusal matches
// exactly one.
var hgCategories = []error{
	middleware.ErrNoToken,
	middleware.ErrInvalidRequest,
	middleware.ErrInvalidToken,
	middleware.ErrInsufficientScope,
	middleware.ErrKeysUnavailable,
}

// hgCategoryOf returns the category sentinel of a specific sentinel.
func hgCategoryOf(reason error) error {
	switch reason {
	case middleware.ErrNoToken, middleware.ErrInsufficientScope, middleware.ErrKeysUnavailable,
		middleware.ErrInvalidRequest, middleware.ErrInvalidToken:
		return reason
	case middleware.ErrMalformedHeader, middleware.ErrMultipleHeaders, middleware.ErrMultipleTokens:
		return middleware.ErrInvalidRequest
	}
	return middleware.ErrInvalidToken
}

// hgStatusOf returns the RFC 6750 §3.1 status of a category.
func hgStatusOf(category error) int {
	switch category {
	case middleware.ErrNoToken, middleware.ErrInvalidToken:
		return http.StatusUnauthorized
	case middleware.ErrInvalidRequest:
		return http.StatusBadRequest
	case middleware.ErrInsufficientScope:
		return http.StatusForbidden
	}
	return http.StatusServiceUnavailable
}

// hgCodeOf returns the RFC 6750 error attribute of a category, "" for none.
func hgCodeOf(category error) string {
	switch category {
	case middleware.ErrInvalidRequest:
		return "invalid_request"
	case middleware.ErrInvalidToken:
		return "invalid_token"
	case middleware.ErrInsufficientScope:
		return "insufficient_scope"
	}
	return ""
}

// hgCheckError asserts that err is an *middleware.Error of exactly one
// category, matching want (a category or specific sentinel), with the
// status of its category. It returns the *Error.
func hgCheckError(t testing.TB, err error, want error) *middleware.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want refusal matching %v", want)
	}
	e, ok := err.(*middleware.Error)
	if !ok {
		t.Fatalf("error is %T, want *middleware.Error: %v", err, err)
	}
	n := 0
	for _, c := range hgCategories {
		if errors.Is(e, c) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("error matches %d categories, want exactly 1: %v", n, e)
	}
	if !errors.Is(e, want) {
		t.Errorf("error does not match %v: %v", want, e)
	}
	cat := hgCategoryOf(want)
	if !errors.Is(e, cat) {
		t.Errorf("error does not match category %v: %v", cat, e)
	}
	if e.Status != hgStatusOf(cat) {
		t.Errorf("status %d, want %d (%v)", e.Status, hgStatusOf(cat), e)
	}
	if e.Code != hgCodeOf(cat) && !(cat == middleware.ErrKeysUnavailable && e.Code == middleware.CodeUnavailable) {
		t.Errorf("code %q, want %q", e.Code, hgCodeOf(cat))
	}
	return e
}

// hgHarness is a validator plus a net/http handler behind it that records
// whether it ran. The validator's ErrorHandler hands the *Error of every
// refusal to the request that caused it, then writes the standard answer.
type hgHarness struct {
	v    *middleware.Validator
	kit  *middlewaretest.Issuer
	next http.Handler
}

type hgErrSlot struct{}

// hgNewHarness starts a validator for cfg. Audiences defaults to
// hardAudience. The validator's context ends with the test.
func hgNewHarness(t testing.TB, kit *middlewaretest.Issuer, cfg middleware.Config) *hgHarness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return hgStartHarness(t, ctx, kit, cfg)
}

func hgStartHarness(t testing.TB, ctx context.Context, kit *middlewaretest.Issuer, cfg middleware.Config) *hgHarness {
	t.Helper()
	h := &hgHarness{kit: kit}
	if cfg.Issuer == "" && kit != nil {
		cfg.Issuer = kit.URL
	}
	if len(cfg.Audiences) == 0 && len(cfg.ClientIDs) == 0 {
		cfg.Audiences = []string{hgHardAudience}
	}
	var vp atomic.Pointer[middleware.Validator]
	cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, e *middleware.Error) {
		if p, ok := r.Context().Value(hgErrSlot{}).(**middleware.Error); ok {
			*p = e
		}
		vp.Load().WriteError(w, e)
	}
	v, err := middleware.New(ctx, cfg)
	if err != nil {
		t.Fatalf("middleware.New: %v", err)
	}
	vp.Store(v)
	h.v = v
	h.next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	return h
}

// waitReady waits, bounded, until the validator has the issuers' keys.
func (h *hgHarness) waitReady(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.v.WaitReady(ctx); err != nil {
		t.Fatalf("validator not ready: %v", err)
	}
}

// refuse asserts that token is refused with want by ValidateToken and,
// when the token can travel in an Authorization header, by the net/http
// middleware with the matching RFC 6750 answer.
func (h *hgHarness) refuse(t testing.TB, token string, want error) *middleware.Error {
	t.Helper()
	_, err := h.v.ValidateToken(context.Background(), token)
	e := hgCheckError(t, err, want)
	if hgIsToken68(token) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		h.serve(t, h.v.Authenticate, r, want)
	}
	return e
}

// accept asserts that token is accepted, directly and over HTTP.
func (h *hgHarness) accept(t testing.TB, token string) {
	t.Helper()
	if _, err := h.v.ValidateToken(context.Background(), token); err != nil {
		t.Fatalf("refused: %v", err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	h.serve(t, h.v.Authenticate, r, nil)
}

// serve runs r through mw(next) and checks the answer: 200 from next when
// want is nil, otherwise the RFC 6750 answer of want, next not called.
func (h *hgHarness) serve(t testing.TB, mw func(http.Handler) http.Handler, r *http.Request, want error) *httptest.ResponseRecorder {
	t.Helper()
	var got *middleware.Error
	r = r.WithContext(context.WithValue(r.Context(), hgErrSlot{}, &got))
	called := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		h.next.ServeHTTP(w, r)
	})
	w := httptest.NewRecorder()
	mw(next).ServeHTTP(w, r)
	if want == nil {
		if !called || w.Code != http.StatusOK {
			t.Fatalf("HTTP: status %d, handler called %v; want 200 (error %v)", w.Code, called, got)
		}
		return w
	}
	if called {
		t.Fatalf("HTTP: handler ran for a request that must be refused with %v", want)
	}
	if got == nil {
		t.Fatalf("HTTP: status %d without an *Error; want %v", w.Code, want)
	}
	hgCheckError(t, got, want)
	cat := hgCategoryOf(want)
	if w.Code != hgStatusOf(cat) {
		t.Errorf("HTTP: status %d, want %d", w.Code, hgStatusOf(cat))
	}
	if w.Code >= 500 && cat != middleware.ErrKeysUnavailable {
		t.Errorf("HTTP: 5xx answer %d", w.Code)
	}
	hgCheckChallenge(t, w.Result().Header, cat)
	return w
}

// hgCheckChallenge checks the RFC 6750 §3 headers of a refusal of category
// cat: the error attribute of WWW-Authenticate, and Retry-After for 503.
func hgCheckChallenge(t testing.TB, hdr http.Header, cat error) {
	t.Helper()
	challenges := hdr.Values("WWW-Authenticate")
	if cat == middleware.ErrKeysUnavailable {
		if len(challenges) != 0 {
			t.Errorf("503 with WWW-Authenticate %q", challenges)
		}
		if hdr.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
		return
	}
	if len(challenges) != 1 {
		t.Fatalf("WWW-Authenticate: %q, want one challenge", challenges)
	}
	attrs := hgChallengeAttrs(t, challenges[0])
	if got, want := attrs["error"], hgCodeOf(cat); got != want {
		t.Errorf("WWW-Authenticate error=%q, want %q (%s)", got, want, challenges[0])
	}
	if cat == middleware.ErrInsufficientScope && attrs["scope"] == "" {
		t.Errorf("insufficient_scope challenge without scope: %s", challenges[0])
	}
}

// hgChallengeAttrs parses `Bearer a="b", c="d"`. Values never contain '"'
// (RFC 6750 §3 character set), which the parse relies on and checks.
func hgChallengeAttrs(t testing.TB, c string) map[string]string {
	t.Helper()
	rest, ok := strings.CutPrefix(c, "Bearer")
	if !ok {
		t.Fatalf("challenge %q does not use the Bearer scheme", c)
	}
	attrs := map[string]string{}
	rest = strings.TrimSpace(rest)
	for rest != "" {
		name, after, ok := strings.Cut(rest, `="`)
		if !ok {
			t.Fatalf("malformed challenge %q", c)
		}
		value, after, ok := strings.Cut(after, `"`)
		if !ok {
			t.Fatalf("malformed challenge %q", c)
		}
		attrs[strings.TrimSpace(name)] = value
		rest = strings.TrimPrefix(strings.TrimSpace(after), ",")
		rest = strings.TrimSpace(rest)
	}
	return attrs
}

// hgIsToken68 reports whether s can be sent as a bearer token (RFC 6750 §2.1).
func hgIsToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			break
		}
	}
	if i == 0 {
		return false
	}
	return strings.Trim(s[i:], "=") == ""
}

// hgSharedFixture is one issuer and one validator used by the read-only
// hostile-token tests. Nobody mutates the issuer; tests that change what
// the issuer serves start their own.
type hgSharedFixture struct {
	kit *middlewaretest.Issuer
	h   *hgHarness
}

var hgShared = sync.OnceValue(func() *hgSharedFixture {
	kit := middlewaretest.NewIssuer()
	// Lives for the whole test binary, like the issuer.
	h := hgStartHarness(hgPanicTB{}, context.Background(), kit, middleware.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.v.WaitReady(ctx); err != nil {
		panic(err)
	}
	return &hgSharedFixture{kit: kit, h: h}
})

// hgPanicTB is a testing.TB for set-up outside a test: it panics on failure.
type hgPanicTB struct{ testing.TB }

func (hgPanicTB) Helper()                           {}
func (hgPanicTB) Fatalf(format string, args ...any) { panic(format) }

// hgValidClaims are the claims of a valid access token of issuer iss.
func hgValidClaims(iss string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":       iss,
		"sub":       "user-123",
		"aud":       hgHardAudience,
		"iat":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
		"jti":       rand.Text(),
		"client_id": "test-client",
		"scope":     "read:users",
	}
}

// hgWith returns a copy of m with the entries of kv (name, value pairs)
// set; a nil value deletes the entry.
func hgWith(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

var hgB64 = base64.RawURLEncoding.EncodeToString

// hgCraft assembles a compact JWS from raw header and payload JSON and a
// signature, without signing: for tokens no library would produce.
func hgCraft(header, payload string, sig []byte) string {
	return hgB64([]byte(header)) + "." + hgB64([]byte(payload)) + "." + hgB64(sig)
}

// hgMustJSON marshals v.
func hgMustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// hgSignRaw signs header.payload (raw JSON) with key using the golang-jwt
// method alg, for payloads a map cannot express (duplicate names, exact
// number spelling).
func hgSignRaw(t testing.TB, alg string, key any, header, payload string) string {
	t.Helper()
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		t.Fatalf("no signing method %q", alg)
	}
	input := hgB64([]byte(header)) + "." + hgB64([]byte(payload))
	sig, err := m.Sign(input, key)
	if err != nil {
		t.Fatalf("sign %s: %v", alg, err)
	}
	return input + "." + hgB64(sig)
}

// Keys that the tests hold the private half of, generated once.
type hgTestKeys struct {
	rsa, rsa2 *rsa.PrivateKey // "issuer" and attacker RSA 2048
	rsaWeak   *rsa.PrivateKey // RSA 1024
	ec, ec2   *ecdsa.PrivateKey
	ec384     *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
}

var hgKeys = sync.OnceValue(func() *hgTestKeys {
	must := func(k crypto.Signer, err error) crypto.Signer {
		if err != nil {
			panic(err)
		}
		return k
	}
	k := &hgTestKeys{}
	k.rsa = must(rsa.GenerateKey(rand.Reader, 2048)).(*rsa.PrivateKey)
	k.rsa2 = must(rsa.GenerateKey(rand.Reader, 2048)).(*rsa.PrivateKey)
	k.rsaWeak = must(rsa.GenerateKey(rand.Reader, 1024)).(*rsa.PrivateKey)
	k.ec = must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)).(*ecdsa.PrivateKey)
	k.ec2 = must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)).(*ecdsa.PrivateKey)
	k.ec384 = must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)).(*ecdsa.PrivateKey)
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	return k
})

// hgJwk returns the public JWK of key (a public or private key) with the
// given kid and, if not empty, alg.
func hgJwk(key any, kid, alg string) map[string]any {
	if s, ok := key.(crypto.Signer); ok {
		key = s.Public()
	}
	m := map[string]any{"kid": kid, "use": "sig"}
	if alg != "" {
		m["alg"] = alg
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = hgB64(k.N.Bytes())
		m["e"] = hgB64(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		point, err := k.Bytes() // 0x04 || X || Y
		if err != nil {
			panic(err)
		}
		size := (len(point) - 1) / 2
		m["kty"] = "EC"
		m["crv"] = k.Curve.Params().Name
		m["x"] = hgB64(point[1 : 1+size])
		m["y"] = hgB64(point[1+size:])
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = hgB64(k)
	default:
		panic("jwk: unsupported key")
	}
	return m
}

// hgJwks returns the JSON of a JWK Set holding keys.
func hgJwks(hgKeys ...map[string]any) []byte {
	return []byte(hgMustJSON(map[string]any{"keys": hgKeys}))
}

// hgSelfSigned returns a DER self-signed certificate for key.
func hgSelfSigned(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "attacker"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// hgCountingServer is an httptest server that counts the requests it gets
// and answers with body.
type hgCountingServer struct {
	*httptest.Server
	n atomic.Int64
}

func hgNewCountingServer(t testing.TB, status int, contentType string, body []byte) *hgCountingServer {
	t.Helper()
	s := &hgCountingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.n.Add(1)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// hgPoll calls cond until it returns true or d passes, and reports the last
// result. It is the only waiting the hardening tests do.
func hgPoll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}
