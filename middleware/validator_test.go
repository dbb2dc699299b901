package middleware_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// Helpers shared by the external tests of package middleware. Their names
// start with "vt" so they do not collide with other test files.

// vtAPI is the audience of the kit's access tokens.
const vtAPI = "https://api.example.test"

// vtNow is the fixed time of the validators' clock (Config.Now) and of the
// tokens minted by vtToken.
var vtNow = time.Date(2030, time.March, 1, 12, 0, 0, 0, time.UTC)

// vtKit starts a test issuer that is closed when the test ends.
func vtKit(t testing.TB) *middlewaretest.Issuer {
	t.Helper()
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	return iss
}

// vtAllAlgs are the algorithms the kit can sign with.
var vtAllAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// vtKitAll is vtKit with a key for every algorithm generated up front, so
// that they are all in the JWKS the validator loads first. (A key the kit
// generates later has a kid the validator only learns about at the next
// refresh allowed by Config.MinRefreshInterval.)
func vtKitAll(t testing.TB) *middlewaretest.Issuer {
	t.Helper()
	kit := vtKit(t)
	for _, alg := range vtAllAlgs {
		kit.KeyID(alg)
	}
	return kit
}

// vtNew creates a validator for kit (unless cfg.Issuer is set) with the
// fixed clock. Its context is cancelled when the test ends, before the
// kits are closed. It does not wait for the keys.
func vtNew(t testing.TB, kit *middlewaretest.Issuer, cfg middleware.Config) *middleware.Validator {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = kit.URL
	}
	if cfg.Audiences == nil && cfg.ClientIDs == nil {
		cfg.Audiences = []string{vtAPI}
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return vtNow }
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := middleware.New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// vtReady is vtNew followed by WaitReady.
func vtReady(t testing.TB, kit *middlewaretest.Issuer, cfg middleware.Config) *middleware.Validator {
	t.Helper()
	v := vtNew(t, kit, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return v
}

// vtToken mints a token issued at vtNow unless s says otherwise.
func vtToken(kit *middlewaretest.Issuer, s middlewaretest.Spec) string {
	if s.IssuedAt.IsZero() {
		s.IssuedAt = vtNow
	}
	return kit.Token(s)
}

// vtClaims returns the claims of a valid generic access token of kit, for
// Sign and SignWith; changes are applied on top (nil deletes).
func vtClaims(kit *middlewaretest.Issuer, changes map[string]any) map[string]any {
	c := map[string]any{
		"iss":       kit.URL,
		"sub":       "user-123",
		"aud":       vtAPI,
		"iat":       vtNow.Unix(),
		"exp":       vtNow.Add(time.Hour).Unix(),
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

// vtHeader returns a JOSE header with typ at+jwt plus changes (nil deletes).
func vtHeader(changes map[string]any) map[string]any {
	h := map[string]any{"typ": "at+jwt"}
	for k, v := range changes {
		h[k] = v
	}
	return h
}

// vtCheck fails the test unless err matches every one of want (no error if
// want is empty), and unless every error is an *middleware.Error.
func vtCheck(t testing.TB, err error, want ...error) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("error %v, want none", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	var e *middleware.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *middleware.Error", err, err)
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Fatalf("error %v does not match %v", err, w)
		}
	}
}

// vtRequest returns a GET request carrying token in the Authorization
// header (none if token is empty).
func vtRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/resource", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// vtServe runs h on r and returns the recorded answer.
func vtServe(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// vtOK is a handler that answers 200 with the subject of the claims, or
// "anonymous".
var vtOK = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if c, ok := claims.FromContext(r.Context()); ok {
		_, _ = w.Write([]byte(c.Subject))
		return
	}
	_, _ = w.Write([]byte("anonymous"))
})

// vtSegments replaces segment i of a compact JWS.
func vtSegment(token string, i int, seg string) string {
	parts := strings.Split(token, ".")
	parts[i] = seg
	return strings.Join(parts, ".")
}

func vtB64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestValidTokenClaims(t *testing.T) {
	kit := vtKit(t)
	v := vtReady(t, kit, middleware.Config{})
	tok := kit.Sign(vtHeader(nil), vtClaims(kit, map[string]any{
		"aud":   []string{"other", vtAPI},
		"nbf":   vtNow.Add(-time.Minute).Unix(),
		"scope": "openid read:users  write:users",
		"scp":   []string{"extra", "read:users"},
	}))
	c, err := v.ValidateToken(context.Background(), tok)
	vtCheck(t, err)
	if c.Issuer != kit.URL || c.Subject != "user-123" || c.ID != "jti-1" || c.ClientID != "test-client" {
		t.Errorf("registered claims: %+v", c)
	}
	if !slices.Equal(c.Audience, []string{"other", vtAPI}) {
		t.Errorf("Audience = %q", c.Audience)
	}
	if !c.ExpiresAt.Equal(vtNow.Add(time.Hour)) || !c.IssuedAt.Equal(vtNow) || !c.NotBefore.Equal(vtNow.Add(-time.Minute)) {
		t.Errorf("times: exp %v iat %v nbf %v", c.ExpiresAt, c.IssuedAt, c.NotBefore)
	}
	// scope and scp are both read by default, merged without duplicates.
	if want := []string{"openid", "read:users", "write:users", "extra"}; !slices.Equal(c.Scopes, want) {
		t.Errorf("Scopes = %q, want %q", c.Scopes, want)
	}
	if c.Machine {
		t.Error("user token reported as machine")
	}
	var custom struct {
		JTI string `json:"jti"`
	}
	if err := c.Decode(&custom); err != nil || custom.JTI != "jti-1" {
		t.Errorf("Decode: %v, %+v", err, custom)
	}
}

// TestTokenShape: compact JWS only (RFC 7515 §7.1); JWE and other shapes
// are refused before parsing.
func TestTokenShape(t *testing.T) {
	kit := vtKit(t)
	v := vtReady(t, kit, middleware.Config{})
	good := vtToken(kit, middlewaretest.Spec{})
	parts := strings.Split(good, ".")
	for _, tc := range []struct {
		name  string
		token string
		want  []error
	}{
		{"valid", good, nil},
		{"JWE five segments", good + ".c2VjcmV0.dGFn", []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"JWE header", kit.Sign(vtHeader(map[string]any{"enc": "A256GCM"}), vtClaims(kit, nil)), []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"two segments", parts[0] + "." + parts[1], []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"four segments", good + ".eA", []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"one segment", parts[0], []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"empty signature", parts[0] + "." + parts[1] + ".", []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"empty payload", parts[0] + ".." + parts[2], []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"padding", good + "=", []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"standard base64 characters", parts[0] + "." + parts[1] + "+/." + parts[2], []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"empty", "", []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"header not JSON", vtSegment(good, 0, vtB64("not json")), []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"payload not an object", vtSegment(good, 1, vtB64(`["a"]`)), []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"signature of another token", vtSegment(good, 2, strings.Split(vtToken(kit, middlewaretest.Spec{Subject: "other"}), ".")[2]), []error{middleware.ErrInvalidToken, middleware.ErrInvalidSignature}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.ValidateToken(context.Background(), tc.token)
			vtCheck(t, err, tc.want...)
		})
	}
}

// TestAlgorithms: asymmetric allowlist; none, HS* and algorithms outside
// Config.Algorithms are refused; the key must fit the algorithm.
func TestAlgorithms(t *testing.T) {
	kit := vtKitAll(t)
	v := vtReady(t, kit, middleware.Config{})
	v256 := vtReady(t, kit, middleware.Config{Algorithms: []string{"RS256"}})
	rsaPub := kit.PublicKey("RS256").(*rsa.PublicKey)
	bad := []error{middleware.ErrInvalidToken, middleware.ErrUnsupportedAlgorithm}
	for _, tc := range []struct {
		name  string
		v     *middleware.Validator
		token string
		want  []error
	}{
		{"RS256", v, vtToken(kit, middlewaretest.Spec{Alg: "RS256"}), nil},
		{"RS384", v, vtToken(kit, middlewaretest.Spec{Alg: "RS384"}), nil},
		{"RS512", v, vtToken(kit, middlewaretest.Spec{Alg: "RS512"}), nil},
		{"PS256", v, vtToken(kit, middlewaretest.Spec{Alg: "PS256"}), nil},
		{"PS384", v, vtToken(kit, middlewaretest.Spec{Alg: "PS384"}), nil},
		{"PS512", v, vtToken(kit, middlewaretest.Spec{Alg: "PS512"}), nil},
		{"ES256", v, vtToken(kit, middlewaretest.Spec{Alg: "ES256"}), nil},
		{"ES384", v, vtToken(kit, middlewaretest.Spec{Alg: "ES384"}), nil},
		{"ES512", v, vtToken(kit, middlewaretest.Spec{Alg: "ES512"}), nil},
		{"EdDSA", v, vtToken(kit, middlewaretest.Spec{Alg: "EdDSA"}), nil},
		{"none", v, kit.Sign(vtHeader(map[string]any{"alg": "none", "kid": nil}), vtClaims(kit, nil)), []error{middleware.ErrInvalidToken}},
		{"none with a signature", v, kit.Sign(vtHeader(map[string]any{"alg": "none", "kid": nil}), vtClaims(kit, nil)) + "c2ln", bad},
		{"none with kid and signature", v, kit.Sign(vtHeader(map[string]any{"alg": "none", "kid": kit.KeyID("RS256")}), vtClaims(kit, nil)) + "c2ln", bad},
		{"HS256 with the public key as secret", v, kit.SignWith(vtPEMish(t, rsaPub), vtHeader(map[string]any{"alg": "HS256", "kid": kit.KeyID("RS256")}), vtClaims(kit, nil)), bad},
		{"HS256 with modulus as secret", v, kit.SignWith(rsaPub.N.Bytes(), vtHeader(map[string]any{"alg": "HS256", "kid": kit.KeyID("RS256")}), vtClaims(kit, nil)), bad},
		{"HS384", v, kit.SignWith([]byte("secret"), vtHeader(map[string]any{"alg": "HS384"}), vtClaims(kit, nil)), bad},
		{"HS512", v, kit.SignWith([]byte("secret"), vtHeader(map[string]any{"alg": "HS512"}), vtClaims(kit, nil)), bad},
		{"unknown alg", v, vtSegment(vtToken(kit, middlewaretest.Spec{}), 0, vtB64(`{"alg":"XS999","typ":"at+jwt","kid":"`+kit.KeyID("RS256")+`"}`)), bad},
		{"alg missing", v, vtSegment(vtToken(kit, middlewaretest.Spec{}), 0, vtB64(`{"typ":"at+jwt","kid":"`+kit.KeyID("RS256")+`"}`)), bad},
		{"RS384 outside Config.Algorithms", v256, vtToken(kit, middlewaretest.Spec{Alg: "RS384"}), bad},
		{"ES256 outside Config.Algorithms", v256, vtToken(kit, middlewaretest.Spec{Alg: "ES256"}), bad},
		{"RS256 in Config.Algorithms", v256, vtToken(kit, middlewaretest.Spec{Alg: "RS256"}), nil},
		// The key named by kid must fit the token's alg.
		{"ES256 header with RSA kid", v, vtToken(kit, middlewaretest.Spec{Alg: "ES256", Header: map[string]any{"kid": kit.KeyID("RS256")}}), bad},
		{"RS256 header with EC kid", v, vtToken(kit, middlewaretest.Spec{Alg: "RS256", Header: map[string]any{"kid": kit.KeyID("ES256")}}), bad},
		{"ES384 claimed on P-256 key", v, vtToken(kit, middlewaretest.Spec{Alg: "ES384", Header: map[string]any{"kid": kit.KeyID("ES256")}}), bad},
		{"EdDSA header with RSA kid", v, vtToken(kit, middlewaretest.Spec{Alg: "EdDSA", Header: map[string]any{"kid": kit.KeyID("RS256")}}), bad},
		{"PS256 signature on RS256 key", v, vtToken(kit, middlewaretest.Spec{Alg: "PS256", Header: map[string]any{"kid": kit.KeyID("RS256")}}), bad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.ValidateToken(context.Background(), tc.token)
			vtCheck(t, err, tc.want...)
		})
	}
}

// vtPEMish returns a PEM-like byte form of pub, as used in HMAC key
// confusion attacks; any public byte string will do.
func vtPEMish(t *testing.T, pub *rsa.PublicKey) []byte {
	t.Helper()
	return append([]byte("-----BEGIN PUBLIC KEY-----\n"), pub.N.Bytes()...)
}

// TestKeyMustFitAlgWithoutJWKAlg: when the JWKS does not name an "alg" for
// its keys, the key's type and curve still have to fit the token's alg.
func TestKeyMustFitAlgWithoutJWKAlg(t *testing.T) {
	kit := vtKitAll(t)
	// Publish the kit's keys without their "alg" member, plus a short RSA key.
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set := vtFetchJWKS(t, kit)
	for _, k := range set {
		delete(k, "alg")
	}
	set = append(set,
		map[string]any{"kty": "RSA", "kid": "small", "use": "sig", "n": vtB64Bytes(small.N.Bytes()), "e": "AQAB"},
		vtECJWK("p384", p384),
	)
	kit.SetJWKS(vtMarshalJWKS(t, set))
	v := vtReady(t, kit, middleware.Config{})
	bad := []error{middleware.ErrInvalidToken, middleware.ErrUnsupportedAlgorithm}
	for _, tc := range []struct {
		name  string
		token string
		want  []error
	}{
		{"RS256 fits RSA", vtToken(kit, middlewaretest.Spec{Alg: "RS256"}), nil},
		{"ES256 fits P-256", vtToken(kit, middlewaretest.Spec{Alg: "ES256"}), nil},
		{"ES256 header with RSA kid", vtToken(kit, middlewaretest.Spec{Alg: "ES256", Header: map[string]any{"kid": kit.KeyID("RS256")}}), bad},
		{"ES384 claimed on P-256 key", vtToken(kit, middlewaretest.Spec{Alg: "ES384", Header: map[string]any{"kid": kit.KeyID("ES256")}}), bad},
		{"ES384 fits P-384", kit.SignWith(p384, vtHeader(map[string]any{"alg": "ES384", "kid": "p384"}), vtClaims(kit, nil)), nil},
		{"ES512 header on P-384 key", vtToken(kit, middlewaretest.Spec{Alg: "ES512", Header: map[string]any{"kid": "p384"}}), bad},
		{"EdDSA header with EC kid", vtToken(kit, middlewaretest.Spec{Alg: "EdDSA", Header: map[string]any{"kid": kit.KeyID("ES256")}}), bad},
		{"RSA key below 2048 bits", kit.SignWith(small, vtHeader(map[string]any{"alg": "RS256", "kid": "small"}), vtClaims(kit, nil)), bad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.ValidateToken(context.Background(), tc.token)
			vtCheck(t, err, tc.want...)
		})
	}
}

// TestCritical: a "crit" header is refused (RFC 7515 §4.1.11).
func TestCritical(t *testing.T) {
	kit := vtKit(t)
	v := vtReady(t, kit, middleware.Config{})
	for _, crit := range []any{[]string{"b64"}, []string{"exp"}, []string{}, "b64"} {
		tok := kit.Sign(vtHeader(map[string]any{"crit": crit, "b64": true}), vtClaims(kit, nil))
		_, err := v.ValidateToken(context.Background(), tok)
		vtCheck(t, err, middleware.ErrInvalidToken, middleware.ErrUnsupportedCritical)
	}
}

// TestTimes: exp required, nbf and iat not in the future, within the leeway.
func TestTimes(t *testing.T) {
	kit := vtKit(t)
	def := vtReady(t, kit, middleware.Config{})                              // DefaultLeeway
	none := vtReady(t, kit, middleware.Config{Leeway: -1})                   // no leeway
	five := vtReady(t, kit, middleware.Config{Leeway: middleware.MaxLeeway}) // the largest
	lw := middleware.DefaultLeeway
	expired := []error{middleware.ErrInvalidToken, middleware.ErrTokenExpired}
	early := []error{middleware.ErrInvalidToken, middleware.ErrTokenNotYetValid}
	at := func(d time.Duration) int64 { return vtNow.Add(d).Unix() }
	for _, tc := range []struct {
		name    string
		v       *middleware.Validator
		changes map[string]any
		want    []error
	}{
		{"exp missing", def, map[string]any{"exp": nil}, expired},
		{"exp past", def, map[string]any{"exp": at(-time.Hour)}, expired},
		{"exp within leeway", def, map[string]any{"exp": at(-lw + time.Second)}, nil},
		{"exp at leeway edge", def, map[string]any{"exp": at(-lw)}, expired},
		{"exp now without leeway", none, map[string]any{"exp": at(0)}, expired},
		{"exp one second ahead without leeway", none, map[string]any{"exp": at(time.Second)}, nil},
		{"exp past but within MaxLeeway", five, map[string]any{"exp": at(-middleware.MaxLeeway + time.Second)}, nil},
		{"exp past MaxLeeway", five, map[string]any{"exp": at(-middleware.MaxLeeway)}, expired},
		{"exp a string", def, map[string]any{"exp": "tomorrow"}, []error{middleware.ErrInvalidToken}},
		{"nbf past", def, map[string]any{"nbf": at(-time.Minute)}, nil},
		{"nbf within leeway", def, map[string]any{"nbf": at(lw)}, nil},
		{"nbf beyond leeway", def, map[string]any{"nbf": at(lw + time.Second)}, early},
		{"nbf future without leeway", none, map[string]any{"nbf": at(time.Second)}, early},
		{"nbf far future", def, map[string]any{"nbf": at(24 * time.Hour)}, early},
		{"iat missing", def, map[string]any{"iat": nil}, nil},
		{"iat within leeway", def, map[string]any{"iat": at(lw)}, nil},
		{"iat beyond leeway", def, map[string]any{"iat": at(lw + time.Second)}, early},
		{"iat future without leeway", none, map[string]any{"iat": at(time.Second)}, early},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := kit.Sign(vtHeader(nil), vtClaims(kit, tc.changes))
			_, err := tc.v.ValidateToken(context.Background(), tok)
			vtCheck(t, err, tc.want...)
		})
	}
}

// TestClock: Config.Now is the validator's only notion of time for tokens.
func TestClock(t *testing.T) {
	kit := vtKit(t)
	var now atomic.Pointer[time.Time]
	t0 := vtNow
	now.Store(&t0)
	v := vtReady(t, kit, middleware.Config{Now: func() time.Time { return *now.Load() }, TokenCacheSize: -1})
	tok := vtToken(kit, middlewaretest.Spec{Lifetime: time.Hour})
	for _, tc := range []struct {
		at   time.Duration
		want []error
	}{
		{0, nil},
		{-time.Hour, []error{middleware.ErrInvalidToken, middleware.ErrTokenNotYetValid}},
		{59 * time.Minute, nil},
		{2 * time.Hour, []error{middleware.ErrInvalidToken, middleware.ErrTokenExpired}},
	} {
		t.Run(tc.at.String(), func(t *testing.T) {
			ti := vtNow.Add(tc.at)
			now.Store(&ti)
			_, err := v.ValidateToken(context.Background(), tok)
			vtCheck(t, err, tc.want...)
		})
	}
}

// TestIssuerAndAudience: iss exact; aud any-of, string or array;
// ClientIDs for issuers without aud.
func TestIssuerAndAudience(t *testing.T) {
	kit := vtKit(t)
	v := vtReady(t, kit, middleware.Config{Audiences: []string{vtAPI, "urn:second"}})
	clients := vtReady(t, kit, middleware.Config{Audiences: []string{}, ClientIDs: []string{"test-client", "other-client"}})
	both := vtReady(t, kit, middleware.Config{Audiences: []string{vtAPI}, ClientIDs: []string{"test-client"}})
	badIss := []error{middleware.ErrInvalidToken, middleware.ErrInvalidIssuer}
	badAud := []error{middleware.ErrInvalidToken, middleware.ErrInvalidAudience}
	for _, tc := range []struct {
		name    string
		v       *middleware.Validator
		changes map[string]any
		want    []error
	}{
		{"iss exact", v, nil, nil},
		{"iss with trailing slash", v, map[string]any{"iss": kit.URL + "/"}, badIss},
		{"iss in upper case", v, map[string]any{"iss": strings.ToUpper(kit.URL)}, badIss},
		{"iss with path", v, map[string]any{"iss": kit.URL + "/tenant"}, badIss},
		{"iss missing", v, map[string]any{"iss": nil}, badIss},
		{"iss empty", v, map[string]any{"iss": ""}, badIss},
		{"iss another issuer", v, map[string]any{"iss": "https://evil.example"}, badIss},
		{"aud string", v, map[string]any{"aud": vtAPI}, nil},
		{"aud second configured", v, map[string]any{"aud": "urn:second"}, nil},
		{"aud array with one match", v, map[string]any{"aud": []string{"urn:other", vtAPI}}, nil},
		{"aud array without match", v, map[string]any{"aud": []string{"urn:other", "urn:third"}}, badAud},
		{"aud string without match", v, map[string]any{"aud": "urn:other"}, badAud},
		{"aud prefix look-alike", v, map[string]any{"aud": vtAPI + "/"}, badAud},
		{"aud missing", v, map[string]any{"aud": nil}, badAud},
		{"aud empty array", v, map[string]any{"aud": []string{}}, badAud},
		{"aud not a string", v, map[string]any{"aud": 42}, []error{middleware.ErrInvalidToken}},
		{"client listed, no aud", clients, map[string]any{"aud": nil}, nil},
		{"second client listed", clients, map[string]any{"aud": nil, "client_id": "other-client"}, nil},
		{"client not listed", clients, map[string]any{"aud": nil, "client_id": "evil-client"}, badAud},
		{"no client", clients, map[string]any{"aud": nil, "client_id": nil}, badAud},
		{"both checks pass", both, nil, nil},
		{"both: client not listed", both, map[string]any{"client_id": "evil-client"}, badAud},
		{"both: aud missing", both, map[string]any{"aud": nil}, badAud},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := kit.Sign(vtHeader(nil), vtClaims(kit, tc.changes))
			_, err := tc.v.ValidateToken(context.Background(), tok)
			vtCheck(t, err, tc.want...)
		})
	}
}

// TestKeyHeadersIgnored: jku, x5u, jwk and x5c are never used or fetched
// (RFC 8725 §3.10).
func TestKeyHeadersIgnored(t *testing.T) {
	kit := vtKit(t)
	var hits atomic.Int64
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer attacker.Close()
	v := vtReady(t, kit, middleware.Config{TokenCacheSize: -1})

	evil, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	evilJWK := map[string]any{"kty": "RSA", "kid": "evil", "n": vtB64Bytes(evil.N.Bytes()), "e": "AQAB"}
	x5c := []string{base64.StdEncoding.EncodeToString([]byte("not a certificate"))}
	headers := map[string]any{
		"jku": attacker.URL + "/jwks",
		"x5u": attacker.URL + "/cert.pem",
		"jwk": evilJWK,
		"x5c": x5c,
	}
	for _, tc := range []struct {
		name  string
		token string
		want  []error
	}{
		{"valid token with key headers", kit.Sign(vtHeader(headers), vtClaims(kit, nil)), nil},
		{"attacker key embedded, issuer kid", kit.SignWith(evil, vtHeader(vtMerge(headers, map[string]any{"kid": kit.KeyID("RS256")})), vtClaims(kit, nil)),
			[]error{middleware.ErrInvalidToken, middleware.ErrInvalidSignature}},
		{"attacker key embedded, attacker kid", kit.SignWith(evil, vtHeader(vtMerge(headers, map[string]any{"kid": "evil"})), vtClaims(kit, nil)),
			[]error{middleware.ErrInvalidToken, middleware.ErrUnknownKey}},
		{"attacker key embedded, no kid", kit.SignWith(evil, vtHeader(headers), vtClaims(kit, nil)),
			[]error{middleware.ErrInvalidToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.ValidateToken(context.Background(), tc.token)
			vtCheck(t, err, tc.want...)
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the URL of a jku or x5u header was fetched %d times", n)
	}
}

// vtFetchJWKS returns the keys kit currently publishes.
func vtFetchJWKS(t testing.TB, kit *middlewaretest.Issuer) []map[string]any {
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

// vtMarshalJWKS encodes keys as a JWK Set.
func vtMarshalJWKS(t testing.TB, keys []map[string]any) []byte {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// vtECJWK returns the public JWK of an EC key, without "alg".
func vtECJWK(kid string, k *ecdsa.PrivateKey) map[string]any {
	size := (k.Curve.Params().BitSize + 7) / 8
	x := make([]byte, size)
	y := make([]byte, size)
	k.X.FillBytes(x)
	k.Y.FillBytes(y)
	return map[string]any{"kty": "EC", "kid": kid, "use": "sig", "crv": k.Curve.Params().Name, "x": vtB64Bytes(x), "y": vtB64Bytes(y)}
}

func vtB64Bytes(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func vtMerge(a, b map[string]any) map[string]any {
	m := map[string]any{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// TestAccessTokenType: access tokens vs ID tokens and other JWTs (RFC 9068
// §2.1, §4; RFC 8725 §3.11), and sender-constrained tokens (RFC 9449 §7.2).
func TestAccessTokenType(t *testing.T) {
	kit := vtKit(t)
	lax := vtReady(t, kit, middleware.Config{})
	strict := vtReady(t, kit, middleware.Config{RequireAccessTokenType: true})
	notAT := []error{middleware.ErrInvalidToken, middleware.ErrNotAccessToken}
	bound := []error{middleware.ErrInvalidToken, middleware.ErrSenderConstrained}
	for _, tc := range []struct {
		name    string
		typ     any // header typ; nil: absent
		changes map[string]any
		lax     []error
		strict  []error
	}{
		{"at+jwt", "at+jwt", nil, nil, nil},
		{"application/at+jwt", "application/at+jwt", nil, nil, nil},
		{"AT+JWT", "AT+JWT", nil, nil, nil},
		{"Application/At+Jwt", "Application/At+Jwt", nil, nil, nil},
		{"JWT", "JWT", nil, nil, notAT},
		{"jwt", "jwt", nil, nil, notAT},
		{"absent", nil, nil, nil, notAT},
		{"JWT with nonce", "JWT", map[string]any{"nonce": "n-0S6_WzA2Mj"}, notAT, notAT},
		{"absent with nonce", nil, map[string]any{"nonce": "n"}, notAT, notAT},
		{"JWT with at_hash", "JWT", map[string]any{"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}, notAT, notAT},
		{"absent with c_hash", nil, map[string]any{"c_hash": "LDktKdoQak3Pk0cnXxCltA"}, notAT, notAT},
		{"Keycloak payload typ ID", "JWT", map[string]any{"typ": "ID"}, notAT, notAT},
		{"Keycloak payload typ Bearer", "JWT", map[string]any{"typ": "Bearer"}, nil, notAT},
		// Keycloak copies nonce (and at_hash) into access tokens before
		// v25 and with a compatibility mapper; its payload typ tells them
		// from ID tokens, as long as the header does not say otherwise.
		{"Keycloak payload typ Bearer with nonce", "JWT", map[string]any{"typ": "Bearer", "nonce": "n", "at_hash": "h"}, nil, notAT},
		{"Keycloak payload typ Bearer with nonce, no header typ", nil, map[string]any{"typ": "Bearer", "nonce": "n"}, nil, notAT},
		{"Keycloak payload typ Bearer with nonce, at+jwt", "at+jwt", map[string]any{"typ": "Bearer", "nonce": "n"}, nil, nil},
		{"Keycloak payload typ Bearer, header dpop+jwt", "dpop+jwt", map[string]any{"typ": "Bearer"}, notAT, notAT},
		{"payload typ bearer (not Keycloak's spelling) with nonce", "JWT", map[string]any{"typ": "bearer", "nonce": "n"}, notAT, notAT},
		{"payload typ Bearer with token_use id", "JWT", map[string]any{"typ": "Bearer", "token_use": "id"}, notAT, notAT},
		{"Cognito token_use id", nil, map[string]any{"token_use": "id"}, notAT, notAT},
		{"Cognito token_use access", nil, map[string]any{"token_use": "access"}, nil, notAT},
		{"at+jwt with nonce", "at+jwt", map[string]any{"nonce": "n"}, notAT, notAT},
		{"logout+jwt", "logout+jwt", nil, notAT, notAT},
		{"dpop+jwt", "dpop+jwt", nil, notAT, notAT},
		{"secevent+jwt", "secevent+jwt", nil, notAT, notAT},
		{"application/logout+jwt", "application/logout+jwt", nil, notAT, notAT},
		{"id_token+jwt", "id_token+jwt", nil, notAT, notAT},
		{"empty typ", "", nil, notAT, notAT},
		{"typ not a string", 1, nil, []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}, []error{middleware.ErrInvalidToken}},
		{"cnf.jkt", "at+jwt", map[string]any{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}, bound, bound},
		{"cnf.x5t#S256", "at+jwt", map[string]any{"cnf": map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}, bound, bound},
		{"cnf.jwk", "at+jwt", map[string]any{"cnf": map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}}, bound, bound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := vtHeader(nil)
			if tc.typ == nil {
				delete(h, "typ")
			} else {
				h["typ"] = tc.typ
			}
			tok := kit.Sign(h, vtClaims(kit, tc.changes))
			_, err := lax.ValidateToken(context.Background(), tok)
			vtCheck(t, err, tc.lax...)
			_, err = strict.ValidateToken(context.Background(), tok)
			vtCheck(t, err, tc.strict...)
		})
	}
}

// TestProfiles: every provider profile of the kit, user and machine access
// tokens, is accepted with the right configuration and its scopes are
// found; every profile's ID token is refused.
func TestProfiles(t *testing.T) {
	kit := vtKitAll(t)
	for _, tc := range []struct {
		profile middlewaretest.Profile
		cfg     middleware.Config
		alg     string
		machine bool
		claims  map[string]any // applied to the access token
	}{
		{profile: middlewaretest.Generic},
		{profile: middlewaretest.Generic, machine: true},
		// Only "permissions" carries the scopes (Auth0 RBAC).
		{profile: middlewaretest.Auth0, cfg: middleware.Config{ScopeClaims: []string{"permissions"}}, claims: map[string]any{"scope": nil}},
		{profile: middlewaretest.Auth0, cfg: middleware.Config{ScopeClaims: []string{"permissions"}}, machine: true, claims: map[string]any{"scope": nil}},
		{profile: middlewaretest.Logto, alg: "ES384"},
		{profile: middlewaretest.Logto, alg: "ES384", machine: true},
		// Only realm_access.roles carries the scopes (Keycloak).
		{profile: middlewaretest.Keycloak, cfg: middleware.Config{ScopeClaims: []string{"realm_access.roles"}}, claims: map[string]any{"scope": nil}},
		{profile: middlewaretest.Keycloak, cfg: middleware.Config{ScopeClaims: []string{"realm_access.roles"}}, machine: true, claims: map[string]any{"scope": nil}},
		{profile: middlewaretest.Entra, cfg: middleware.Config{ScopeClaims: []string{"scp", "roles"}}},
		// Entra app tokens: application roles in "roles".
		{profile: middlewaretest.Entra, cfg: middleware.Config{ScopeClaims: []string{"scp", "roles"}}, machine: true},
		{profile: middlewaretest.Okta},
		{profile: middlewaretest.Okta, machine: true},
		// Cognito access tokens have no aud: restrict the client instead.
		{profile: middlewaretest.Cognito, cfg: middleware.Config{ClientIDs: []string{"test-client"}}},
		{profile: middlewaretest.Cognito, cfg: middleware.Config{ClientIDs: []string{"test-client"}}, machine: true},
	} {
		name := tc.profile.String()
		if tc.machine {
			name += "/machine"
		} else {
			name += "/user"
		}
		t.Run(name, func(t *testing.T) {
			v := vtReady(t, kit, tc.cfg)
			h := v.RequireScope("read:users")(vtOK)
			tok := vtToken(kit, middlewaretest.Spec{
				Profile: tc.profile, Alg: tc.alg, Machine: tc.machine,
				Scopes: []string{"read:users", "write:users"}, Claims: tc.claims,
			})
			if w := vtServe(h, vtRequest(tok)); w.Code != http.StatusOK {
				t.Fatalf("access token: status %d, %s", w.Code, w.Header().Get("WWW-Authenticate"))
			}
			c, err := v.ValidateToken(context.Background(), tok)
			vtCheck(t, err)
			if !c.HasScope("read:users") || !c.HasScope("write:users") {
				t.Errorf("Scopes = %q", c.Scopes)
			}
			if c.ClientID != "test-client" {
				t.Errorf("ClientID = %q, want test-client", c.ClientID)
			}
			// Keycloak service-account tokens carry none of the signals
			// Machine looks for (gty, idtyp, sub == client id): their sub
			// is the service account's user id.
			if c.Machine != tc.machine && !(tc.profile == middlewaretest.Keycloak && tc.machine) {
				t.Errorf("Machine = %v, want %v", c.Machine, tc.machine)
			}
			// Without the scope, the same route answers 403.
			noScope := vtToken(kit, middlewaretest.Spec{Profile: tc.profile, Alg: tc.alg, Machine: tc.machine, Scopes: []string{"write:users"}, Claims: tc.claims})
			if w := vtServe(h, vtRequest(noScope)); w.Code != http.StatusForbidden {
				t.Errorf("token without the scope: status %d, want 403", w.Code)
			}

			// The same profile's ID token, even for this API's audience, is refused.
			for _, aud := range [][]string{{vtAPI}, {"test-client", vtAPI}} {
				id := vtToken(kit, middlewaretest.Spec{Profile: tc.profile, Alg: tc.alg, Kind: middlewaretest.IDToken, Audience: aud})
				_, err := v.ValidateToken(context.Background(), id)
				vtCheck(t, err, middleware.ErrInvalidToken, middleware.ErrNotAccessToken)
				if w := vtServe(h, vtRequest(id)); w.Code != http.StatusUnauthorized {
					t.Errorf("ID token: status %d, want 401", w.Code)
				}
			}
		})
	}
}

// TestScopeClaims: which claims scopes are read from.
func TestScopeClaims(t *testing.T) {
	kit := vtKit(t)
	payload := map[string]any{
		"scope":                      "s1 s2",
		"scp":                        []string{"p1"},
		"permissions":                []string{"perm1", "bad\"perm"},
		"roles":                      []string{"role1"},
		"realm_access":               map[string]any{"roles": []string{"realm1"}},
		"https://example.com/scopes": "ns1 ns2",
	}
	for _, tc := range []struct {
		name   string
		claims []string
		edit   map[string]any
		want   []string
		err    []error
	}{
		{"default scope and scp", nil, nil, []string{"s1", "s2", "p1"}, nil},
		{"scp as string", nil, map[string]any{"scp": "p1 p2"}, []string{"s1", "s2", "p1", "p2"}, nil},
		{"permissions only", []string{"permissions"}, nil, []string{"perm1"}, nil},
		{"roles only", []string{"roles"}, nil, []string{"role1"}, nil},
		{"nested path", []string{"realm_access.roles"}, nil, []string{"realm1"}, nil},
		{"namespaced claim with dots", []string{"https://example.com/scopes"}, nil, []string{"ns1", "ns2"}, nil},
		{"merged", []string{"scope", "permissions", "realm_access.roles"}, nil, []string{"s1", "s2", "perm1", "realm1"}, nil},
		{"absent claim", []string{"missing"}, nil, nil, nil},
		{"scope claim of the wrong type", []string{"permissions"}, map[string]any{"permissions": 42}, nil, []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
		{"array with a non-string", []string{"roles"}, map[string]any{"roles": []any{"a", 1}}, nil, []error{middleware.ErrInvalidToken, middleware.ErrMalformedToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := vtReady(t, kit, middleware.Config{ScopeClaims: tc.claims})
			c, err := v.ValidateToken(context.Background(), kit.Sign(vtHeader(nil), vtClaims(kit, vtMerge(payload, tc.edit))))
			vtCheck(t, err, tc.err...)
			if err == nil && !slices.Equal(c.Scopes, tc.want) {
				t.Errorf("Scopes = %q, want %q", c.Scopes, tc.want)
			}
		})
	}
}

// TestClientIDAndMachine: the client id is normalised from client_id, azp,
// cid and appid, in that order; Machine detects client_credentials tokens.
func TestClientIDAndMachine(t *testing.T) {
	kit := vtKit(t)
	v := vtReady(t, kit, middleware.Config{})
	for _, tc := range []struct {
		name    string
		changes map[string]any
		client  string
		machine bool
	}{
		{"client_id first", map[string]any{"client_id": "c1", "azp": "a1", "cid": "o1", "appid": "e1"}, "c1", false},
		{"azp second", map[string]any{"client_id": nil, "azp": "a1", "cid": "o1", "appid": "e1"}, "a1", false},
		{"cid third", map[string]any{"client_id": nil, "cid": "o1", "appid": "e1"}, "o1", false},
		{"appid last", map[string]any{"client_id": nil, "appid": "e1"}, "e1", false},
		{"empty client_id skipped", map[string]any{"client_id": "", "azp": "a1"}, "a1", false},
		{"none", map[string]any{"client_id": nil}, "", false},
		{"Auth0 gty client-credentials", map[string]any{"gty": "client-credentials", "sub": "c@clients"}, "test-client", true},
		{"gty client_credentials", map[string]any{"gty": "client_credentials"}, "test-client", true},
		{"gty array", map[string]any{"gty": []string{"password", "client-credentials"}}, "test-client", true},
		{"gty password", map[string]any{"gty": "password"}, "test-client", false},
		{"Entra idtyp app", map[string]any{"idtyp": "app"}, "test-client", true},
		{"Entra idtyp user", map[string]any{"idtyp": "user"}, "test-client", false},
		{"sub equals client id", map[string]any{"sub": "test-client"}, "test-client", true},
		{"sub equals azp", map[string]any{"client_id": nil, "azp": "svc", "sub": "svc"}, "svc", true},
		{"user token", nil, "test-client", false},
		{"no sub and no client", map[string]any{"sub": nil, "client_id": nil}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.ValidateToken(context.Background(), kit.Sign(vtHeader(nil), vtClaims(kit, tc.changes)))
			vtCheck(t, err)
			if c.ClientID != tc.client || c.Machine != tc.machine {
				t.Errorf("ClientID %q, Machine %v; want %q, %v", c.ClientID, c.Machine, tc.client, tc.machine)
			}
		})
	}
}

// TestMultiIssuer: several trusted issuers, each token routed by iss to its
// own issuer's keys.
func TestMultiIssuer(t *testing.T) {
	a, b := vtKit(t), vtKit(t)
	stranger := vtKit(t)
	v := vtReady(t, a, middleware.Config{ExtraIssuers: []middleware.Issuer{{Issuer: b.URL}}, TokenCacheSize: -1})
	for _, tc := range []struct {
		name  string
		token string
		want  []error
	}{
		{"issuer A", vtToken(a, middlewaretest.Spec{}), nil},
		{"issuer B", vtToken(b, middlewaretest.Spec{Alg: "ES256"}), nil},
		{"iss A signed by B with B's kid", b.Sign(vtHeader(nil), vtClaims(a, nil)),
			[]error{middleware.ErrInvalidToken, middleware.ErrUnknownKey}},
		{"iss A signed by B with A's kid", b.Sign(vtHeader(map[string]any{"kid": a.KeyID("RS256")}), vtClaims(a, nil)),
			[]error{middleware.ErrInvalidToken, middleware.ErrInvalidSignature}},
		{"iss B signed by A with A's kid", a.Sign(vtHeader(nil), vtClaims(b, nil)),
			[]error{middleware.ErrInvalidToken, middleware.ErrUnknownKey}},
		{"iss A signed by B without kid", b.Sign(vtHeader(map[string]any{"kid": nil}), vtClaims(a, nil)),
			[]error{middleware.ErrInvalidToken, middleware.ErrInvalidSignature}},
		{"untrusted issuer", vtToken(stranger, middlewaretest.Spec{}),
			[]error{middleware.ErrInvalidToken, middleware.ErrInvalidIssuer}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.ValidateToken(context.Background(), tc.token)
			vtCheck(t, err, tc.want...)
		})
	}
	if n := stranger.JWKSRequests() + stranger.DiscoveryRequests(); n != 0 {
		t.Errorf("an untrusted issuer named in a token was contacted %d times", n)
	}
}

// TestNoKid: a token without kid is checked against the issuer's keys that
// fit its algorithm.
func TestNoKid(t *testing.T) {
	kit := vtKit(t)
	v := vtReady(t, kit, middleware.Config{})
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			_, err := v.ValidateToken(context.Background(), vtToken(kit, middlewaretest.Spec{Alg: alg, Header: map[string]any{"kid": nil}}))
			vtCheck(t, err)
		})
	}
	t.Run("kid not a string", func(t *testing.T) {
		_, err := v.ValidateToken(context.Background(), vtToken(kit, middlewaretest.Spec{Header: map[string]any{"kid": 7}}))
		vtCheck(t, err, middleware.ErrInvalidToken, middleware.ErrMalformedToken)
	})
	t.Run("unknown kid", func(t *testing.T) {
		_, err := v.ValidateToken(context.Background(), vtToken(kit, middlewaretest.Spec{Header: map[string]any{"kid": "nope"}}))
		vtCheck(t, err, middleware.ErrInvalidToken, middleware.ErrUnknownKey)
	})
}

// TestValidateHook: Config.Validate runs after every other check.
func TestValidateHook(t *testing.T) {
	kit := vtKit(t)
	errNoOrg := errors.New("org_id required")
	var calls atomic.Int64
	v := vtReady(t, kit, middleware.Config{Validate: func(ctx context.Context, c *claims.Claims) error {
		calls.Add(1)
		var custom struct {
			OrgID string `json:"org_id"`
			Mode  string `json:"mode"`
		}
		if err := c.Decode(&custom); err != nil {
			return err
		}
		switch {
		case custom.Mode == "forbid":
			return middleware.NewError(middleware.ErrInsufficientScope, "org \"admin\" only\n", errNoOrg)
		case custom.Mode == "bad-request":
			return middleware.NewError(middleware.ErrInvalidRequest, "", nil)
		case custom.Mode == "unknown-category":
			return middleware.NewError(errNoOrg, "", nil)
		case custom.OrgID == "":
			return errNoOrg
		}
		return nil
	}})
	h := v.Authenticate(vtOK)
	for _, tc := range []struct {
		name    string
		changes map[string]any
		status  int
		want    []error
	}{
		{"accepted", map[string]any{"org_id": "org_1"}, http.StatusOK, nil},
		{"plain error", nil, http.StatusUnauthorized, []error{middleware.ErrInvalidToken, middleware.ErrClaimsRejected, errNoOrg}},
		{"NewError insufficient_scope", map[string]any{"mode": "forbid"}, http.StatusForbidden, []error{middleware.ErrInsufficientScope, errNoOrg}},
		{"NewError invalid_request", map[string]any{"mode": "bad-request"}, http.StatusBadRequest, []error{middleware.ErrInvalidRequest}},
		{"NewError unknown category", map[string]any{"mode": "unknown-category"}, http.StatusUnauthorized, []error{middleware.ErrInvalidToken, middleware.ErrClaimsRejected}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := kit.Sign(vtHeader(nil), vtClaims(kit, tc.changes))
			_, err := v.ValidateToken(context.Background(), tok)
			vtCheck(t, err, tc.want...)
			// The same token again (a cache hit) still goes through the hook.
			_, err = v.ValidateToken(context.Background(), tok)
			vtCheck(t, err, tc.want...)
			if w := vtServe(h, vtRequest(tok)); w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
		})
	}
	// The hook never sees tokens that fail other checks.
	before := calls.Load()
	_, err := v.ValidateToken(context.Background(), kit.Sign(vtHeader(nil), vtClaims(kit, map[string]any{"aud": "urn:other", "org_id": "o"})))
	vtCheck(t, err, middleware.ErrInvalidAudience)
	if calls.Load() != before {
		t.Error("Validate was called for a token with the wrong audience")
	}
}

// TestHookDescriptionSanitised: a description given to NewError is reduced
// to the RFC 6750 character set.
func TestHookDescriptionSanitised(t *testing.T) {
	e := middleware.NewError(middleware.ErrInsufficientScope, "org \"admin\"\\ only\n\x00é", nil)
	if e.Status != http.StatusForbidden || e.Code != middleware.CodeInsufficientScope {
		t.Errorf("Status %d Code %q", e.Status, e.Code)
	}
	for _, c := range []byte(e.Description) {
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			t.Fatalf("Description %q has character %q", e.Description, c)
		}
	}
	if e.Description != "org admin only" {
		t.Errorf("Description = %q", e.Description)
	}
}

func TestNewErrorCategories(t *testing.T) {
	for _, tc := range []struct {
		category error
		status   int
		code     string
	}{
		{middleware.ErrNoToken, http.StatusUnauthorized, ""},
		{middleware.ErrInvalidRequest, http.StatusBadRequest, middleware.CodeInvalidRequest},
		{middleware.ErrInvalidToken, http.StatusUnauthorized, middleware.CodeInvalidToken},
		{middleware.ErrInsufficientScope, http.StatusForbidden, middleware.CodeInsufficientScope},
		{middleware.ErrKeysUnavailable, http.StatusServiceUnavailable, middleware.CodeUnavailable},
		{errors.New("other"), http.StatusUnauthorized, middleware.CodeInvalidToken},
	} {
		t.Run(tc.category.Error(), func(t *testing.T) {
			cause := errors.New("cause")
			e := middleware.NewError(tc.category, "", cause)
			if e.Status != tc.status || e.Code != tc.code {
				t.Errorf("Status %d Code %q; want %d %q", e.Status, e.Code, tc.status, tc.code)
			}
			if !errors.Is(e, cause) {
				t.Error("cause not matched")
			}
			if e.Description == "" && tc.code != middleware.CodeInvalidRequest {
				t.Error("no default description")
			}
			// Exactly one category.
			n := 0
			for _, c := range []error{middleware.ErrNoToken, middleware.ErrInvalidRequest, middleware.ErrInvalidToken, middleware.ErrInsufficientScope, middleware.ErrKeysUnavailable} {
				if errors.Is(e, c) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("matches %d categories", n)
			}
		})
	}
}
