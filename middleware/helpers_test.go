package middleware_test

// The helpers of the external tests of package middleware (package
// middleware_test), one family, prefix "hg". A refusal is asserted with
// hgWant (errors.Is on the category and every specific sentinel, the
// status and RFC 6750 code) and, where a request is involved, through the
// net/http middleware by hgHarness.refuse / serve (status and challenge).
// Message text is never asserted.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
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

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// hgAudience is the audience of the tokens of every test issuer.
const hgAudience = "https://api.example.test"

// hgCategories are the seven category sentinels; every refusal matches
// exactly one.
var hgCategories = []error{
	middleware.ErrNoToken,
	middleware.ErrInvalidRequest,
	middleware.ErrInvalidToken,
	middleware.ErrInsufficientScope,
	middleware.ErrInsufficientClaims,
	middleware.ErrInsufficientUserAuthentication,
	middleware.ErrKeysUnavailable,
	middleware.ErrInvalidDPoPProof,
}

// hgCategoryCount returns how many category sentinels err matches.
func hgCategoryCount(err error) int {
	n := 0
	for _, c := range hgCategories {
		if errors.Is(err, c) {
			n++
		}
	}
	return n
}

// hgCategoryOf returns the category of the wanted sentinels: the first
// category sentinel among them, or else the category of the first.
func hgCategoryOf(want ...error) error {
	for _, w := range want {
		for _, c := range hgCategories {
			if w == c {
				return c
			}
		}
	}
	switch want[0] {
	case middleware.ErrMalformedHeader, middleware.ErrMultipleHeaders, middleware.ErrMultipleTokens:
		return middleware.ErrInvalidRequest
	case middleware.ErrACRNotAccepted, middleware.ErrAuthenticationTooOld, middleware.ErrMachineToken:
		return middleware.ErrInsufficientUserAuthentication
	case middleware.ErrClaimMissing, middleware.ErrClaimValuesNotAccepted, middleware.ErrCheckRejected:
		return middleware.ErrInsufficientClaims
	case middleware.ErrReplayStoreFailed, middleware.ErrReplayKeyLimit:
		return middleware.ErrKeysUnavailable
	}
	return middleware.ErrInvalidToken
}

// hgStatusOf returns the RFC 6750 §3.1 status of a category.
func hgStatusOf(category error) int {
	switch category {
	case middleware.ErrNoToken, middleware.ErrInvalidToken, middleware.ErrInsufficientUserAuthentication,
		middleware.ErrInvalidDPoPProof:
		return http.StatusUnauthorized
	case middleware.ErrInvalidRequest:
		return http.StatusBadRequest
	case middleware.ErrInsufficientScope, middleware.ErrInsufficientClaims:
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
	case middleware.ErrInsufficientClaims:
		return "insufficient_claims"
	case middleware.ErrInsufficientUserAuthentication:
		return "insufficient_user_authentication"
	case middleware.ErrInvalidDPoPProof:
		return "invalid_dpop_proof"
	}
	return ""
}

// hgWant is the suite's one "want this error" assertion. With no want, err
// must be nil. Otherwise err must be an *middleware.Error of exactly one
// category that matches (errors.Is) every sentinel of want, with the
// status and RFC 6750 code of that category: the first category sentinel
// in want, or else the category of want[0]. It returns the *Error.
func hgWant(t testing.TB, err error, want ...error) *middleware.Error {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("error %v, want none", err)
		}
		return nil
	}
	if err == nil {
		t.Fatalf("accepted; want refusal matching %v", want)
	}
	e, ok := err.(*middleware.Error)
	if !ok {
		t.Fatalf("error is %T, want *middleware.Error: %v", err, err)
	}
	if n := hgCategoryCount(e); n != 1 {
		t.Errorf("error matches %d categories, want exactly 1: %v", n, e)
	}
	for _, w := range want {
		if !errors.Is(e, w) {
			t.Errorf("error does not match %v: %v", w, e)
		}
	}
	cat := hgCategoryOf(want...)
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
// hgAudience. The validator's context ends with the test.
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
		cfg.Audiences = []string{hgAudience}
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
	e := hgWant(t, err, want)
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
	hgWant(t, got, want)
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

// hgFixture is one issuer and one validator used by read-only tests.
// Nobody mutates the issuer; tests that change what the issuer serves
// start their own.
type hgFixture struct {
	kit *middlewaretest.Issuer
	h   *hgHarness
}

// hgStartFixture starts a harness for kit that lives for the whole test
// binary, like the issuer, and waits for its keys. Every unknown kid may
// cause a fetch at once (MinRefreshInterval 1 ns), so that the tests of
// hostile kids get the 401 of a kid a fetch found absent, not the 503 of a
// kid the budget allows no fetch for now.
func hgStartFixture(kit *middlewaretest.Issuer) *hgFixture {
	h := hgStartHarness(hgPanicTB{}, context.Background(), kit, middleware.Config{MinRefreshInterval: time.Nanosecond})
	h.waitReady(hgPanicTB{})
	return &hgFixture{kit: kit, h: h}
}

// hgShared is the fixture of the hostile-token tests that need no key of
// their own.
var hgShared = sync.OnceValue(func() *hgFixture {
	return hgStartFixture(middlewaretest.NewIssuer())
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
		"aud":       hgAudience,
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

// hgNow is the fixed time of the validators' clock (Config.Now) and of the
// tokens minted by hgToken.
var hgNow = time.Date(2030, time.March, 1, 12, 0, 0, 0, time.UTC)

// hgKit starts a test issuer that is closed when the test ends.
func hgKit(t testing.TB) *middlewaretest.Issuer {
	t.Helper()
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	return iss
}

// hgAllAlgs are the algorithms the kit can sign with.
var hgAllAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// hgKitAll is hgKit with a key for every algorithm generated up front, so
// that they are all in the JWKS the validator loads first. (A key the kit
// generates later has a kid the validator only learns about at the next
// refresh allowed by Config.MinRefreshInterval.)
func hgKitAll(t testing.TB) *middlewaretest.Issuer {
	t.Helper()
	kit := hgKit(t)
	for _, alg := range hgAllAlgs {
		kit.KeyID(alg)
	}
	return kit
}

// hgNew creates a validator for kit (unless cfg.Issuer is set) with the
// fixed clock. Its context is cancelled when the test ends, before the
// kits are closed. It does not wait for the keys.
func hgNew(t testing.TB, kit *middlewaretest.Issuer, cfg middleware.Config) *middleware.Validator {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = kit.URL
	}
	if cfg.Audiences == nil && cfg.ClientIDs == nil {
		cfg.Audiences = []string{hgAudience}
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return hgNow }
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := middleware.New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// hgReady is hgNew followed by WaitReady.
func hgReady(t testing.TB, kit *middlewaretest.Issuer, cfg middleware.Config) *middleware.Validator {
	t.Helper()
	v := hgNew(t, kit, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return v
}

// hgToken mints a token issued at hgNow unless s says otherwise.
func hgToken(kit *middlewaretest.Issuer, s middlewaretest.Spec) string {
	if s.IssuedAt.IsZero() {
		s.IssuedAt = hgNow
	}
	return kit.Token(s)
}

// hgClaims returns the claims of a valid generic access token of kit, for
// Sign and SignWith; changes are applied on top (nil deletes).
func hgClaims(kit *middlewaretest.Issuer, changes map[string]any) map[string]any {
	c := map[string]any{
		"iss":       kit.URL,
		"sub":       "user-123",
		"aud":       hgAudience,
		"iat":       hgNow.Unix(),
		"exp":       hgNow.Add(time.Hour).Unix(),
		"jti":       "jti-1",
		"client_id": "test-client",
		"scope":     "read:users",
	}
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// hgHeader returns a JOSE header with typ at+jwt plus changes (nil deletes).
func hgHeader(changes map[string]any) map[string]any {
	h := map[string]any{"typ": "at+jwt"}
	for k, v := range changes {
		h[k] = v
	}
	return h
}

// hgRequest returns a GET request carrying token in the Authorization
// header (none if token is empty).
func hgRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/resource", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// hgServe runs h on r and returns the recorded answer.
func hgServe(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// hgOK is a handler that answers 200 with the subject of the claims, or
// "anonymous".
var hgOK = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if c, ok := claims.FromContext(r.Context()); ok {
		_, _ = w.Write([]byte(c.Subject))
		return
	}
	_, _ = w.Write([]byte("anonymous"))
})

// hgSegment replaces segment i of a compact JWS.
func hgSegment(token string, i int, seg string) string {
	parts := strings.Split(token, ".")
	parts[i] = seg
	return strings.Join(parts, ".")
}

// hgFetchJWKS returns the keys kit currently publishes.
func hgFetchJWKS(t testing.TB, kit *middlewaretest.Issuer) []map[string]any {
	t.Helper()
	resp, err := kit.Client().Get(kit.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set.Keys
}

func hgMerge(a, b map[string]any) map[string]any {
	m := map[string]any{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// hgHeld is a fixture whose issuer's JWKS holds keys the tests have the
// private half of (see hgKeys), so that a test can make a genuine signature
// with an issuer key and change only the algorithm or the encoding.
var hgHeld = sync.OnceValue(func() *hgFixture {
	k := hgKeys()
	kit := middlewaretest.NewIssuer()
	kit.SetJWKS(hgJwks(
		hgJwk(k.rsa, "rsa-rs256", "RS256"),
		hgJwk(k.rsa, "rsa-ps256", "PS256"),
		hgJwk(k.rsa, "rsa-noalg", ""),
		hgJwk(k.ec, "ec-es256", "ES256"),
		hgJwk(k.ec, "ec-es384-on-p256", "ES384"),
		hgJwk(k.ec384, "ec384-noalg", ""),
		hgJwk(k.rsa, "rsa-as-es256", "ES256"),
		hgJwk(k.ec, "ec-as-rs256", "RS256"),
		hgJwk(k.ed, "ed-eddsa", "EdDSA"),
		hgJwk(k.ed, "ed-as-es256", "ES256"),
		hgJwk(k.rsaWeak, "rsa-weak", "RS256"),
		// Two keys sharing a kid: neither is ever used.
		hgJwk(k.rsa, "dup", "RS256"),
		hgJwk(k.rsa2, "dup", "RS256"),
		// Not signature keys.
		hgWithUse(hgJwk(k.ec2, "ec-enc", "ES256"), "enc"),
	))
	return hgStartFixture(kit)
})

func hgWithUse(m map[string]any, use string) map[string]any {
	m["use"] = use
	return m
}

// token signs valid claims of the fixture's issuer with key under alg,
// naming kid.
func (f *hgFixture) token(t testing.TB, alg, kid string, key any) string {
	t.Helper()
	return hgSignRaw(t, alg, key, hgMustJSON(map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"}),
		hgMustJSON(hgValidClaims(f.kit.URL)))
}

// hgConcurrently runs f(i) for i in [0, n) on n goroutines released at
// once, and waits for them.
func hgConcurrently(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

// hgTokenFor returns a well-formed token of issuer iss with a filler
// signature: enough to be routed to the issuer's keys.
func hgTokenFor(iss string) string {
	return hgCraft(`{"alg":"RS256","kid":"k","typ":"at+jwt"}`, hgMustJSON(hgValidClaims(iss)), make([]byte, 256))
}

// hgPayload returns the JSON of valid claims of iss with extra raw members
// appended, after the valid ones.
func hgPayload(iss string, members ...string) string {
	s := hgMustJSON(hgValidClaims(iss))
	if len(members) == 0 {
		return s
	}
	return s[:len(s)-1] + "," + strings.Join(members, ",") + "}"
}

// hgOpaqueSecret is the secret of hgOpaqueClient at the kit.
const hgOpaqueSecret = "s3cret: with spaces & symbols+%"

// hgOpaqueClient is the client the validators of the opaque-token tests
// introspect as.
const hgOpaqueClient = "resource-server"

// hgIntrospecting registers hgOpaqueClient at kit and returns a validator
// for kit that introspects opaque tokens as it, with cfg's other settings
// (Introspection.ClientID and ClientSecret default to the client's) and
// the real clock unless cfg.Now is set: the kit answers by the real time.
func hgIntrospecting(t testing.TB, kit *middlewaretest.Issuer, cfg middleware.Config) *middleware.Validator {
	t.Helper()
	kit.AddClient(middlewaretest.Client{ID: hgOpaqueClient, Secret: hgOpaqueSecret})
	in := &middleware.Introspection{}
	if cfg.Introspection != nil {
		*in = *cfg.Introspection
	}
	cfg.Introspection = in
	if in.ClientID == "" {
		in.ClientID = hgOpaqueClient
	}
	if in.ClientSecret == "" && in.PrivateKey == nil {
		in.ClientSecret = hgOpaqueSecret
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = kit.Client()
	}
	return hgNew(t, kit, cfg)
}

// hgDPoPURL is the URL of the DPoP tests' requests: https, so r.TLS is set.
const hgDPoPURL = "https://api.example.test/resource"

// hgDPoPRequest returns a GET of hgDPoPURL with "Authorization: DPoP token"
// and one DPoP header per proof.
func hgDPoPRequest(token string, proofs ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, hgDPoPURL+"?page=2", nil)
	r.Header.Set("Authorization", "DPoP "+token)
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return r
}

// hgProof returns a valid proof of key for a GET of hgDPoPURL with token,
// issued at hgNow, with p's other fields on top.
func hgProof(key *middlewaretest.DPoPKey, token string, p middlewaretest.Proof) string {
	if p.URL == "" {
		p.URL = hgDPoPURL
	}
	if p.AccessToken == "" {
		p.AccessToken = token
	}
	if p.IssuedAt.IsZero() {
		p.IssuedAt = hgNow
	}
	return key.Proof(p)
}

// hgReplayFunc is a ReplayStore made of a function.
type hgReplayFunc func(ctx context.Context, key string, until time.Time) (bool, error)

func (f hgReplayFunc) Add(ctx context.Context, key string, until time.Time) (bool, error) {
	return f(ctx, key, until)
}

// hgRSA1024 returns a 1024-bit RSA key, below what any check accepts.
func hgRSA1024(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// hgThumbprintOf returns the RFC 7638 SHA-256 thumbprint of an RSA JWK.
func hgThumbprintOf(t testing.TB, jwk map[string]any) string {
	t.Helper()
	canonical := `{"e":"` + jwk["e"].(string) + `","kty":"RSA","n":"` + jwk["n"].(string) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
