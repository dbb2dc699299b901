package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// TestDPoPProof: every check of RFC 9449 §4.3 and §7.1 on a DPoP request,
// one case each, against one valid request that is accepted. Each case
// changes one thing of the valid request.
func TestDPoPProof(t *testing.T) {
	kit := hgKit(t)
	v := hgReady(t, kit, middleware.Config{DPoP: middleware.DPoP{
		Mode:       middleware.DPoPAllowed,
		Algorithms: []string{"ES256", "RS256"},
	}})
	key := middlewaretest.NewDPoPKey("ES256")
	other := middlewaretest.NewDPoPKey("ES256")
	token := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	proof := func(p middlewaretest.Proof) string { return hgProof(key, token, p) }
	req := func(proofs ...string) *http.Request { return hgDPoPRequest(token, proofs...) }

	eddsa := middlewaretest.NewDPoPKey("EdDSA")
	eddsaToken := hgToken(kit, middlewaretest.Spec{JKT: eddsa.Thumbprint()})
	otherToken := hgToken(kit, middlewaretest.Spec{JKT: other.Thumbprint()})
	unbound := hgToken(kit, middlewaretest.Spec{})
	rsa := middlewaretest.NewDPoPKey("RS256")
	rsaToken := hgToken(kit, middlewaretest.Spec{JKT: rsa.Thumbprint()})

	// A proof whose signature is another proof's: every claim right.
	forged := hgSegment(proof(middlewaretest.Proof{JTI: "forged"}), 2, strings.Split(proof(middlewaretest.Proof{}), ".")[2])
	// A proof of a 1024-bit RSA key, which golang-jwt would verify.
	weak := hgRSA1024(t)
	weakJWK := hgJwk(&weak.PublicKey, "", "RS256")
	delete(weakJWK, "kid")
	delete(weakJWK, "alg")
	delete(weakJWK, "use")
	weakJKT := hgThumbprintOf(t, weakJWK)
	weakToken := hgToken(kit, middlewaretest.Spec{JKT: weakJKT})
	weakProof := kit.SignWith(weak, map[string]any{"typ": "dpop+jwt", "alg": "RS256", "jwk": weakJWK}, map[string]any{
		"htm": "GET", "htu": hgDPoPURL, "iat": hgNow.Unix(), "jti": "weak", "ath": middlewaretest.ATH(weakToken),
	})

	for _, tc := range []struct {
		name string
		r    *http.Request
		want error // nil: accepted
	}{
		{"valid", req(proof(middlewaretest.Proof{})), nil},
		{"valid RS256 key", hgDPoPRequest(rsaToken, hgProof(rsa, rsaToken, middlewaretest.Proof{})), nil},
		{"htu normalised: scheme and host case, default port", req(proof(middlewaretest.Proof{URL: "HTTPS://API.Example.TEST:443/resource"})), nil},
		{"htu query and fragment ignored", req(proof(middlewaretest.Proof{URL: hgDPoPURL + "?other=1#f"})), nil},
		{"iat within the leeway ahead", req(proof(middlewaretest.Proof{IssuedAt: hgNow.Add(20 * time.Second)})), nil},
		{"iat at the end of the lifetime", req(proof(middlewaretest.Proof{IssuedAt: hgNow.Add(-middleware.DefaultDPoPProofLifetime)})), nil},

		{"no DPoP header", req(), middleware.ErrInvalidDPoPProof},
		{"two DPoP headers", req(proof(middlewaretest.Proof{}), proof(middlewaretest.Proof{})), middleware.ErrInvalidDPoPProof},
		{"not a JWS", req("not-a-jws"), middleware.ErrInvalidDPoPProof},
		{"duplicate header member", req(hgCraft(`{"typ":"dpop+jwt","typ":"dpop+jwt","alg":"ES256"}`, `{}`, []byte("sig"))), middleware.ErrInvalidDPoPProof},
		{"typ JWT", req(proof(middlewaretest.Proof{Header: map[string]any{"typ": "JWT"}})), middleware.ErrInvalidDPoPProof},
		{"typ absent", req(proof(middlewaretest.Proof{Header: map[string]any{"typ": nil}})), middleware.ErrInvalidDPoPProof},
		{"alg not allowed", hgDPoPRequest(eddsaToken, hgProof(eddsa, eddsaToken, middlewaretest.Proof{})), middleware.ErrInvalidDPoPProof},
		{"alg HS256 claimed", req(proof(middlewaretest.Proof{Header: map[string]any{"alg": "HS256"}})), middleware.ErrInvalidDPoPProof},
		{"alg none claimed", req(proof(middlewaretest.Proof{Header: map[string]any{"alg": "none"}})), middleware.ErrInvalidDPoPProof},
		{"jwk absent", req(proof(middlewaretest.Proof{Header: map[string]any{"jwk": nil}})), middleware.ErrInvalidDPoPProof},
		{"jwk with private key", req(proof(middlewaretest.Proof{Header: map[string]any{"jwk": key.PrivateJWK()}})), middleware.ErrInvalidDPoPProof},
		{"jwk of RSA key with private members", hgDPoPRequest(rsaToken, hgProof(rsa, rsaToken, middlewaretest.Proof{Header: map[string]any{"jwk": rsa.PrivateJWK()}})), middleware.ErrInvalidDPoPProof},
		{"signature of another proof", req(forged), middleware.ErrInvalidDPoPProof},
		{"RSA key of 1024 bits", hgDPoPRequest(weakToken, weakProof), middleware.ErrInvalidDPoPProof},
		{"jwk of another key", req(proof(middlewaretest.Proof{Header: map[string]any{"jwk": other.JWK()}})), middleware.ErrInvalidDPoPProof},
		{"jwk of another type than alg", req(proof(middlewaretest.Proof{Header: map[string]any{"jwk": rsa.JWK()}})), middleware.ErrInvalidDPoPProof},
		{"crit", req(proof(middlewaretest.Proof{Header: map[string]any{"crit": []string{"x"}, "x": 1}})), middleware.ErrInvalidDPoPProof},
		{"htm POST", req(proof(middlewaretest.Proof{Method: "POST"})), middleware.ErrInvalidDPoPProof},
		{"htm lower case", req(proof(middlewaretest.Proof{Method: "get"})), middleware.ErrInvalidDPoPProof},
		{"htu other path", req(proof(middlewaretest.Proof{URL: "https://api.example.test/other"})), middleware.ErrInvalidDPoPProof},
		{"htu path case", req(proof(middlewaretest.Proof{URL: "https://api.example.test/Resource"})), middleware.ErrInvalidDPoPProof},
		{"htu other host", req(proof(middlewaretest.Proof{URL: "https://evil.example.test/resource"})), middleware.ErrInvalidDPoPProof},
		{"htu other port", req(proof(middlewaretest.Proof{URL: "https://api.example.test:8443/resource"})), middleware.ErrInvalidDPoPProof},
		{"htu http", req(proof(middlewaretest.Proof{URL: "http://api.example.test/resource"})), middleware.ErrInvalidDPoPProof},
		{"htu absent", req(proof(middlewaretest.Proof{Claims: map[string]any{"htu": nil}})), middleware.ErrInvalidDPoPProof},
		{"iat too old", req(proof(middlewaretest.Proof{IssuedAt: hgNow.Add(-middleware.DefaultDPoPProofLifetime - middleware.DefaultLeeway - time.Second)})), middleware.ErrInvalidDPoPProof},
		{"iat in the future", req(proof(middlewaretest.Proof{IssuedAt: hgNow.Add(time.Minute)})), middleware.ErrInvalidDPoPProof},
		{"iat absent", req(proof(middlewaretest.Proof{Claims: map[string]any{"iat": nil}})), middleware.ErrInvalidDPoPProof},
		{"iat a string", req(proof(middlewaretest.Proof{Claims: map[string]any{"iat": "now"}})), middleware.ErrInvalidDPoPProof},
		{"jti absent", req(proof(middlewaretest.Proof{Claims: map[string]any{"jti": nil}})), middleware.ErrInvalidDPoPProof},
		{"jti too long", req(proof(middlewaretest.Proof{JTI: strings.Repeat("j", 257)})), middleware.ErrInvalidDPoPProof},
		{"ath absent", req(proof(middlewaretest.Proof{Claims: map[string]any{"ath": nil}})), middleware.ErrInvalidDPoPProof},
		{"ath of another token", req(proof(middlewaretest.Proof{AccessToken: unbound})), middleware.ErrInvalidDPoPProof},
		{"token bound to another key", hgDPoPRequest(otherToken, hgProof(key, otherToken, middlewaretest.Proof{})), middleware.ErrInvalidDPoPProof},
		{"token not bound", hgDPoPRequest(unbound, hgProof(key, unbound, middlewaretest.Proof{})), middleware.ErrNotDPoPBound},
		{"token invalid", hgDPoPRequest(token+"x", hgProof(key, token+"x", middlewaretest.Proof{})), middleware.ErrInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Check(tc.r, middleware.Policy{})
			hgWant(t, err, hgWants(tc.want)...)
		})
	}
}

// TestDPoPReplay: a proof is accepted once (its jti is recorded, RFC 9449
// §11.1); a proof refused for another reason does not burn its jti; the
// replay store failing refuses the request with 503, never accepts it.
func TestDPoPReplay(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	token := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	cfg := middleware.Config{DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed}}

	t.Run("replayed", func(t *testing.T) {
		v := hgReady(t, kit, cfg)
		p := hgProof(key, token, middlewaretest.Proof{})
		_, err := v.Check(hgDPoPRequest(token, p), middleware.Policy{})
		hgWant(t, err)
		_, err = v.Check(hgDPoPRequest(token, p), middleware.Policy{})
		hgWant(t, err, middleware.ErrInvalidDPoPProof)
	})
	t.Run("jti kept by a refused proof", func(t *testing.T) {
		v := hgReady(t, kit, cfg)
		bad := hgProof(key, token, middlewaretest.Proof{JTI: "j1", Method: "POST"})
		_, err := v.Check(hgDPoPRequest(token, bad), middleware.Policy{})
		hgWant(t, err, middleware.ErrInvalidDPoPProof)
		good := hgProof(key, token, middlewaretest.Proof{JTI: "j1"})
		_, err = v.Check(hgDPoPRequest(token, good), middleware.Policy{})
		hgWant(t, err)
	})
	t.Run("store key and expiry", func(t *testing.T) {
		var mu sync.Mutex
		var keys []string
		var until time.Time
		c := cfg
		c.DPoP.ReplayStore = hgReplayFunc(func(_ context.Context, k string, u time.Time) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			keys, until = append(keys, k), u
			return true, nil
		})
		v := hgReady(t, kit, c)
		p := hgProof(key, token, middlewaretest.Proof{JTI: "abc"})
		_, err := v.Check(hgDPoPRequest(token, p), middleware.Policy{})
		hgWant(t, err)
		// SHA-256("abc"), base64url.
		want := key.Thumbprint() + ".ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
		if len(keys) != 1 || keys[0] != want {
			t.Errorf("store keys %q, want [%q]", keys, want)
		}
		if w := hgNow.Add(middleware.DefaultDPoPProofLifetime + middleware.DefaultLeeway); !until.Equal(w) {
			t.Errorf("until %v, want %v", until, w)
		}
	})
	t.Run("store fails", func(t *testing.T) {
		c := cfg
		c.DPoP.ReplayStore = hgReplayFunc(func(context.Context, string, time.Time) (bool, error) {
			return false, errors.New("redis down")
		})
		h := hgNewHarness(t, kit, hgWithNow(c))
		h.waitReady(t)
		r := hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{}))
		h.serve(t, h.v.Authenticate, r, middleware.ErrReplayStoreFailed)
	})
}

// hgWithNow sets the fixed clock on cfg.
func hgWithNow(cfg middleware.Config) middleware.Config {
	cfg.Now = func() time.Time { return hgNow }
	return cfg
}

// TestDPoPModes: which scheme each mode accepts, and that a DPoP-bound
// token is never accepted as Bearer (RFC 9449 §7.2), per Config and per
// route (Policy.DPoP).
func TestDPoPModes(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	bound := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	unbound := hgToken(kit, middlewaretest.Spec{})
	dpop := func() *http.Request { return hgDPoPRequest(bound, hgProof(key, bound, middlewaretest.Proof{})) }

	for _, tc := range []struct {
		name   string
		config middleware.DPoPMode
		route  middleware.DPoPMode
		r      func() *http.Request
		want   error
	}{
		{"off: bearer", middleware.DPoPOff, middleware.DPoPDefault, func() *http.Request { return hgRequest(unbound) }, nil},
		{"off: bound as bearer", middleware.DPoPOff, middleware.DPoPDefault, func() *http.Request { return hgRequest(bound) }, middleware.ErrSenderConstrained},
		{"off: DPoP scheme is no token", middleware.DPoPOff, middleware.DPoPDefault, dpop, middleware.ErrNoToken},
		{"allowed: bearer", middleware.DPoPAllowed, middleware.DPoPDefault, func() *http.Request { return hgRequest(unbound) }, nil},
		{"allowed: DPoP", middleware.DPoPAllowed, middleware.DPoPDefault, dpop, nil},
		{"allowed: bound as bearer", middleware.DPoPAllowed, middleware.DPoPDefault, func() *http.Request { return hgRequest(bound) }, middleware.ErrSenderConstrained},
		{"allowed: bound as bearer with a proof", middleware.DPoPAllowed, middleware.DPoPDefault, func() *http.Request {
			r := hgRequest(bound)
			r.Header.Set("DPoP", hgProof(key, bound, middlewaretest.Proof{}))
			return r
		}, middleware.ErrSenderConstrained},
		{"required: DPoP", middleware.DPoPRequired, middleware.DPoPDefault, dpop, nil},
		{"required: bearer", middleware.DPoPRequired, middleware.DPoPDefault, func() *http.Request { return hgRequest(unbound) }, middleware.ErrDPoPRequired},
		{"required: bound as bearer", middleware.DPoPRequired, middleware.DPoPDefault, func() *http.Request { return hgRequest(bound) }, middleware.ErrDPoPRequired},
		{"default: DPoP scheme is no token", middleware.DPoPDefault, middleware.DPoPDefault, dpop, middleware.ErrNoToken},
		{"route required over config default", middleware.DPoPDefault, middleware.DPoPRequired, func() *http.Request { return hgRequest(unbound) }, middleware.ErrDPoPRequired},
		{"route off over config required", middleware.DPoPRequired, middleware.DPoPOff, dpop, middleware.ErrNoToken},
		{"route required over config off", middleware.DPoPOff, middleware.DPoPRequired, func() *http.Request { return hgRequest(unbound) }, middleware.ErrDPoPRequired},
		{"route allowed over config off", middleware.DPoPOff, middleware.DPoPAllowed, dpop, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := hgReady(t, kit, middleware.Config{DPoP: middleware.DPoP{Mode: tc.config}})
			_, err := v.Check(tc.r(), middleware.Policy{DPoP: tc.route})
			hgWant(t, err, hgWants(tc.want)...)
		})
	}
	t.Run("ValidateToken is bearer", func(t *testing.T) {
		v := hgReady(t, kit, middleware.Config{DPoP: middleware.DPoP{Mode: middleware.DPoPRequired}})
		_, err := v.ValidateToken(context.Background(), bound)
		hgWant(t, err, middleware.ErrSenderConstrained)
	})
}

// TestDPoPCachedToken: a DPoP-bound token verified before (the token cache)
// still needs a fresh proof on every request, and is still refused as
// Bearer.
func TestDPoPCachedToken(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	token := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	v := hgReady(t, kit, middleware.Config{DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed}})
	p := hgProof(key, token, middlewaretest.Proof{})
	_, err := v.Check(hgDPoPRequest(token, p), middleware.Policy{})
	hgWant(t, err)
	_, err = v.Check(hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{})), middleware.Policy{})
	hgWant(t, err)
	_, err = v.Check(hgDPoPRequest(token, p), middleware.Policy{})
	hgWant(t, err, middleware.ErrInvalidDPoPProof)
	_, err = v.Check(hgDPoPRequest(token), middleware.Policy{})
	hgWant(t, err, middleware.ErrInvalidDPoPProof)
	_, err = v.Check(hgRequest(token), middleware.Policy{})
	hgWant(t, err, middleware.ErrSenderConstrained)
}

// TestDPoPOpaqueToken: an opaque token whose claims carry "cnf" "jkt" goes
// through the same binding step as a JWT.
func TestDPoPOpaqueToken(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	const token = "opaque-token-1"
	v := hgReady(t, kit, middleware.Config{
		DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed},
		LookupToken: func(_ context.Context, tok string) (*claims.Claims, error) {
			if tok != token {
				return nil, nil
			}
			return &claims.Claims{
				Issuer: kit.URL, Subject: "u", Audience: []string{hgAudience},
				ExpiresAt: hgNow.Add(time.Hour),
				Payload:   []byte(`{"cnf":{"jkt":"` + key.Thumbprint() + `"}}`),
			}, nil
		},
	})
	_, err := v.Check(hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{})), middleware.Policy{})
	hgWant(t, err)
	_, err = v.Check(hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{Method: "PUT"})), middleware.Policy{})
	hgWant(t, err, middleware.ErrInvalidDPoPProof)
	_, err = v.Check(hgRequest(token), middleware.Policy{})
	hgWant(t, err, middleware.ErrSenderConstrained)
}

// TestDPoPPublicBaseURL: behind a proxy, htu is compared with
// DPoP.PublicBaseURL's scheme and host, never with forwarded headers.
func TestDPoPPublicBaseURL(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	token := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	v := hgReady(t, kit, middleware.Config{DPoP: middleware.DPoP{
		Mode: middleware.DPoPAllowed, PublicBaseURL: "https://public.example.test",
	}})
	internal := func(htu string, forwarded bool) *http.Request {
		r := hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{URL: htu}))
		r.URL.Scheme, r.URL.Host, r.Host, r.TLS = "", "", "10.0.0.7:8080", nil // what the proxy sends
		if forwarded {
			r.Header.Set("X-Forwarded-Host", "evil.example.test")
			r.Header.Set("Forwarded", "host=evil.example.test;proto=https")
		}
		return r
	}
	_, err := v.Check(internal("https://public.example.test/resource", true), middleware.Policy{})
	hgWant(t, err)
	_, err = v.Check(internal("http://10.0.0.7:8080/resource", false), middleware.Policy{})
	hgWant(t, err, middleware.ErrInvalidDPoPProof)
	_, err = v.Check(internal("https://evil.example.test/resource", true), middleware.Policy{})
	hgWant(t, err, middleware.ErrInvalidDPoPProof)
}

// TestDPoPChallenge: the WWW-Authenticate answers of RFC 9449 §7.1: a DPoP
// challenge with algs, after a Bearer one when Bearer is accepted too, in
// one header field (RFC 9110 §11.6.1); the error goes with the scheme used.
func TestDPoPChallenge(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	bound := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	dpopAlgs := middleware.DPoP{Algorithms: []string{"ES256", "EdDSA"}}
	for _, tc := range []struct {
		name string
		mode middleware.DPoPMode
		r    *http.Request
		want string
	}{
		{"off: no token", middleware.DPoPOff, hgRequest(""), `Bearer realm="api"`},
		{"allowed: no token", middleware.DPoPAllowed, hgRequest(""), `Bearer realm="api", DPoP realm="api", algs="ES256 EdDSA"`},
		{"allowed: bad proof", middleware.DPoPAllowed, hgDPoPRequest(bound, "x.y.z"),
			`Bearer realm="api", DPoP realm="api", error="invalid_dpop_proof", error_description="the DPoP proof is invalid", algs="ES256 EdDSA"`},
		{"allowed: bad bearer token", middleware.DPoPAllowed, hgRequest("a.b.c"),
			`Bearer realm="api", error="invalid_token", error_description="the token is malformed", DPoP realm="api", algs="ES256 EdDSA"`},
		{"required: bearer", middleware.DPoPRequired, hgRequest(bound),
			`DPoP realm="api", error="invalid_token", error_description="a DPoP-bound token and proof are required", algs="ES256 EdDSA"`},
		{"required: no token", middleware.DPoPRequired, hgRequest(""), `DPoP realm="api", algs="ES256 EdDSA"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := dpopAlgs
			d.Mode = tc.mode
			v := hgReady(t, kit, middleware.Config{Realm: "api", DPoP: d})
			w := hgServe(v.Authenticate(hgOK), tc.r)
			if w.Code != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", w.Code)
			}
			if got := w.Header().Values("WWW-Authenticate"); len(got) != 1 || got[0] != tc.want {
				t.Errorf("WWW-Authenticate %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestDPoPConfig: New refuses DPoP settings it cannot honour.
func TestDPoPConfig(t *testing.T) {
	for name, d := range map[string]middleware.DPoP{
		"unknown mode":          {Mode: 7},
		"symmetric alg":         {Algorithms: []string{"HS256"}},
		"negative lifetime":     {ProofLifetime: -time.Second},
		"base URL with path":    {PublicBaseURL: "https://api.example.test/v1"},
		"base URL not http(s)":  {PublicBaseURL: "ftp://api.example.test"},
		"base URL with a query": {PublicBaseURL: "https://api.example.test?x=1"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := middleware.New(context.Background(), middleware.Config{
				Issuer: "https://issuer.example.test", Audiences: []string{hgAudience}, DPoP: d,
			})
			if !errors.Is(err, middleware.ErrInvalidConfig) {
				t.Errorf("New: %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// TestDPoPIntrospectedToken: an introspection answer for a DPoP-bound
// token says "token_type": "DPoP" with "cnf" "jkt" (RFC 9449 §6.2): the
// token is accepted with a valid proof of that key, and refused as Bearer
// because it is bound, not because of its type. An answer typed DPoP that
// names no DPoP key cannot be checked.
func TestDPoPIntrospectedToken(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	v := hgIntrospecting(t, kit, middleware.Config{
		Now:  func() time.Time { return hgNow },
		DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed},
	})
	opaque := func(s middlewaretest.Spec, tokenType string) string {
		s.IssuedAt = hgNow
		s.Claims = map[string]any{"token_type": tokenType}
		return kit.OpaqueToken(s)
	}
	bound := opaque(middlewaretest.Spec{JKT: key.Thumbprint()}, "DPoP")
	lower := opaque(middlewaretest.Spec{JKT: key.Thumbprint()}, "dpop")
	unbound := opaque(middlewaretest.Spec{}, "DPoP")
	certBound := opaque(middlewaretest.Spec{CertThumbprint: "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}, "DPoP")
	viaDPoP := func(token string) *http.Request {
		return hgDPoPRequest(token, hgProof(key, token, middlewaretest.Proof{}))
	}
	for _, tc := range []struct {
		name string
		r    *http.Request
		want []error
	}{
		{"DPoP with a proof", viaDPoP(bound), nil},
		{"dpop, in another case, with a proof", viaDPoP(lower), nil},
		{"DPoP with a proof by another key", hgDPoPRequest(bound, hgProof(middlewaretest.NewDPoPKey("ES256"), bound, middlewaretest.Proof{})), []error{middleware.ErrInvalidDPoPProof}},
		{"DPoP as Bearer", hgRequest(bound), []error{middleware.ErrSenderConstrained}},
		{"DPoP without cnf", viaDPoP(unbound), []error{middleware.ErrUnsupportedConfirmation}},
		{"DPoP without cnf as Bearer", hgRequest(unbound), []error{middleware.ErrUnsupportedConfirmation}},
		{"DPoP bound to a certificate only", hgRequest(certBound), []error{middleware.ErrUnsupportedConfirmation}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Check(tc.r, middleware.Policy{})
			hgWant(t, err, tc.want...)
		})
	}
	t.Run("ValidateToken is bearer", func(t *testing.T) {
		_, err := v.ValidateToken(t.Context(), bound)
		hgWant(t, err, middleware.ErrSenderConstrained)
	})
}

// TestDPoPRequestTarget: htu is compared with the URI the client requested
// (RFC 9449 §4.3, check 9), the request-target as received, not with the
// r.URL that routing rewrote: under http.StripPrefix a proof for the
// mounted path is accepted and one for the stripped path refused. A
// request made in process without a RequestURI is compared by r.URL.
func TestDPoPRequestTarget(t *testing.T) {
	kit := hgKit(t)
	key := middlewaretest.NewDPoPKey("ES256")
	token := hgToken(kit, middlewaretest.Spec{JKT: key.Thumbprint()})
	v := hgReady(t, kit, middleware.Config{DPoP: middleware.DPoP{Mode: middleware.DPoPAllowed}})
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", v.Authenticate(hgOK)))
	const host = "https://api.example.test"
	request := func(target, htu string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.Header.Set("Authorization", "DPoP "+token)
		r.Header.Set("DPoP", hgProof(key, token, middlewaretest.Proof{URL: htu}))
		return r
	}
	inProcess := func(target, htu string) *http.Request {
		r := request(target, htu)
		r.RequestURI = ""
		return r
	}
	for _, tc := range []struct {
		name string
		h    http.Handler
		r    *http.Request
		want int
	}{
		{"StripPrefix: proof for the URI requested", mux, request(host+"/api/resource", host+"/api/resource"), http.StatusOK},
		{"StripPrefix: origin-form request-target", mux, request("/api/resource?page=2", "http://example.com/api/resource"), http.StatusOK},
		{"StripPrefix: proof for the stripped path", mux, request(host+"/api/resource", host+"/resource"), http.StatusUnauthorized},
		{"StripPrefix: percent-encoded path", mux, request(host+"/api/a%2fb", host+"/api/a%2Fb"), http.StatusOK},
		{"StripPrefix: proof for the stripped percent-encoded path", mux, request(host+"/api/a%2Fb", host+"/a%2Fb"), http.StatusUnauthorized},
		{"no RequestURI: r.URL", v.Authenticate(hgOK), inProcess(host+"/resource", host+"/resource"), http.StatusOK},
		{"no RequestURI: another path", v.Authenticate(hgOK), inProcess(host+"/resource", host+"/other"), http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := hgServe(tc.h, tc.r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (WWW-Authenticate %q)", w.Code, tc.want, w.Header().Values("WWW-Authenticate"))
			}
			if tc.want == http.StatusUnauthorized && !strings.Contains(w.Header().Get("WWW-Authenticate"), `DPoP error="invalid_dpop_proof"`) {
				t.Errorf("WWW-Authenticate %q, want invalid_dpop_proof", w.Header().Values("WWW-Authenticate"))
			}
		})
	}
}
