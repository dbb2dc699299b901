package interop

// Library-level DPoP tests: real DPoP-bound tokens from oidc-provider
// against bearerguard through net/http, Echo and Gin.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
)

// publicBaseURL is the API's external origin: proofs name it in htu, and the
// validators are told it, so requests served in process need no Host games.
const publicBaseURL = "https://api.example.test"

// serveDPoP sends one request to h in process with "Authorization: DPoP
// token" and, unless proof is empty, a DPoP header.
func serveDPoP(t *testing.T, h http.Handler, method, path, token, proof string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, method, path, nil)
	req.Header.Set("Authorization", "DPoP "+token)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// proofFor is a fresh proof by key for method and path at the API, bound to
// token (ath).
func proofFor(t *testing.T, key *DPoPKey, method, path, token string) string {
	t.Helper()
	return key.Proof(t, DPoPProof{Method: method, URL: publicBaseURL + path, AccessToken: token})
}

// wantDPoPError checks a 401 whose challenges include the DPoP scheme with
// the given error code (RFC 9449 section 7.1), and whose body names it.
func wantDPoPError(t *testing.T, what string, resp *http.Response, code string) {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s: status %d, want 401", what, resp.StatusCode)
	}
	found := false
	// The DPoP challenge may share one header field with a Bearer one
	// (RFC 9110 §11.6.1): "Bearer realm=..., DPoP error=...".
	for _, c := range resp.Header.Values("WWW-Authenticate") {
		if i := strings.Index(c, "DPoP "); i >= 0 && (i == 0 || strings.HasSuffix(c[:i], ", ")) &&
			strings.Contains(c[i:], `error="`+code+`"`) {
			found = true
		}
	}
	if !found {
		t.Errorf("%s: WWW-Authenticate %q, want a DPoP challenge with error=%q", what, resp.Header.Values("WWW-Authenticate"), code)
	}
	var body middleware.ErrorBody
	decodeBody(t, resp, &body)
	if body.Error != code {
		t.Errorf("%s: body error %q, want %s", what, body.Error, code)
	}
}

func wantOK(t *testing.T, what string, resp *http.Response, want claimsView) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s: status %d, want 200 (WWW-Authenticate %q)", what, resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
		resp.Body.Close()
		return
	}
	var got claimsView
	decodeBody(t, resp, &got)
	if !sameView(got, want) {
		t.Errorf("%s: claims %+v, want %+v", what, got, want)
	}
}

// TestDPoPOIDCProvider uses real DPoP-bound tokens from oidc-provider, each
// obtained with a real proof at its token endpoint, against the test API in
// net/http, Echo and Gin, each on its own validator with DPoP allowed and
// the default (in-memory) replay store.
func TestDPoPOIDCProvider(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	targets := newTargets(t, middleware.Config{
		Issuer:    s.Issuer,
		Audiences: []string{ResourceRS256, ResourceES256},
		DPoP:      middleware.DPoP{Mode: middleware.DPoPAllowed, PublicBaseURL: publicBaseURL},
	})
	waitReady(t, targets)

	key := NewDPoPKey(t)
	for _, res := range []string{ResourceRS256, ResourceES256} {
		token := s.DPoPToken(t, key, s.BasicClient, []string{ScopeRead}, resource(res))
		want := machineView(s.BasicClient, ScopeRead)
		for _, tg := range targets {
			what := tg.name + " " + res

			// A fresh proof for the request: accepted, on every route
			// the token's scope allows.
			for _, path := range []string{"/users", "/me"} {
				proof := proofFor(t, key, http.MethodGet, path, token)
				wantOK(t, what+" GET "+path, serveDPoP(t, tg.h, http.MethodGet, path, token, proof), want)
			}

			// The same proof again: a replay.
			proof := proofFor(t, key, http.MethodGet, "/me", token)
			wantOK(t, what+" first use", serveDPoP(t, tg.h, http.MethodGet, "/me", token, proof), want)
			wantDPoPError(t, what+" replayed proof", serveDPoP(t, tg.h, http.MethodGet, "/me", token, proof), "invalid_dpop_proof")

			// A proof for another URL, or another method.
			other := proofFor(t, key, http.MethodGet, "/users", token)
			wantDPoPError(t, what+" proof for /users at /me", serveDPoP(t, tg.h, http.MethodGet, "/me", token, other), "invalid_dpop_proof")
			post := proofFor(t, key, http.MethodPost, "/me", token)
			wantDPoPError(t, what+" POST proof for GET", serveDPoP(t, tg.h, http.MethodGet, "/me", token, post), "invalid_dpop_proof")

			// A proof by another key: cnf.jkt does not match.
			stranger := proofFor(t, NewDPoPKey(t), http.MethodGet, "/me", token)
			resp := serveDPoP(t, tg.h, http.MethodGet, "/me", token, stranger)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: proof by another key: status %d, want 401", what, resp.StatusCode)
			}
			resp.Body.Close()

			// A proof without ath, or for another token.
			noATH := key.Proof(t, DPoPProof{Method: http.MethodGet, URL: publicBaseURL + "/me"})
			wantDPoPError(t, what+" proof without ath", serveDPoP(t, tg.h, http.MethodGet, "/me", token, noATH), "invalid_dpop_proof")

			// The DPoP-bound token presented as a bearer token, with or
			// without a proof beside it.
			resp = serve(t, tg.h, http.MethodGet, "/me", token)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: bound token as Bearer: status %d, want 401", what, resp.StatusCode)
			}
			resp.Body.Close()
			_, err := validate(tg.v, token)
			if err == nil {
				t.Errorf("%s: ValidateToken accepted a DPoP-bound token without a proof", what)
			}

			// No proof at all with the DPoP scheme.
			resp = serveDPoP(t, tg.h, http.MethodGet, "/me", token, "")
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: DPoP scheme without proof: status %d, want 401 or 400", what, resp.StatusCode)
			}
			resp.Body.Close()
		}
	}

	// A plain (unbound) token from the same server is still accepted as
	// Bearer in allowed mode, and refused with a DPoP proof beside it.
	plain := s.ClientCredentialsToken(t, s.BasicClient, Basic, []string{ScopeRead}, resource(ResourceES256))
	for _, tg := range targets {
		wantAccepted(t, tg, plain, machineView(s.BasicClient, ScopeRead))
		proof := proofFor(t, key, http.MethodGet, "/me", plain)
		resp := serveDPoP(t, tg.h, http.MethodGet, "/me", plain, proof)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: unbound token with a proof: status %d, want 401", tg.name, resp.StatusCode)
		}
		resp.Body.Close()
	}
}

// TestDPoPRequiredOIDCProvider: in required mode a bearer token is refused
// and a DPoP-bound token with its proof accepted.
func TestDPoPRequiredOIDCProvider(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	targets := newTargets(t, middleware.Config{
		Issuer:    s.Issuer,
		Audiences: []string{ResourceES256},
		DPoP:      middleware.DPoP{Mode: middleware.DPoPRequired, PublicBaseURL: publicBaseURL},
	})
	waitReady(t, targets)
	key := NewDPoPKey(t)
	token := s.DPoPToken(t, key, s.PostClient, []string{ScopeRead}, resource(ResourceES256))
	plain := s.ClientCredentialsToken(t, s.PostClient, Post, []string{ScopeRead}, resource(ResourceES256))
	for _, tg := range targets {
		wantOK(t, tg.name+" DPoP", serveDPoP(t, tg.h, http.MethodGet, "/me", token, proofFor(t, key, http.MethodGet, "/me", token)), machineView(s.PostClient, ScopeRead))
		resp := serve(t, tg.h, http.MethodGet, "/me", plain)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: Bearer token in required mode: status %d, want 401", tg.name, resp.StatusCode)
		}
		resp.Body.Close()
	}
}

// TestDPoPNonceOIDCProvider: with nonce secrets configured, a proof without
// the server's nonce is answered 401 use_dpop_nonce with a DPoP-Nonce header,
// and a proof carrying that nonce is accepted.
func TestDPoPNonceOIDCProvider(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	targets := newTargets(t, middleware.Config{
		Issuer:    s.Issuer,
		Audiences: []string{ResourceES256},
		DPoP: middleware.DPoP{
			Mode:          middleware.DPoPAllowed,
			PublicBaseURL: publicBaseURL,
			NonceSecrets:  [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		},
	})
	waitReady(t, targets)
	key := NewDPoPKey(t)
	token := s.DPoPToken(t, key, s.BasicClient, []string{ScopeRead}, resource(ResourceES256))
	for _, tg := range targets {
		resp := serveDPoP(t, tg.h, http.MethodGet, "/me", token, proofFor(t, key, http.MethodGet, "/me", token))
		nonce := resp.Header.Get("DPoP-Nonce")
		wantDPoPError(t, tg.name+" proof without nonce", resp, "use_dpop_nonce")
		if nonce == "" {
			t.Errorf("%s: use_dpop_nonce without a DPoP-Nonce header", tg.name)
			continue
		}
		proof := key.Proof(t, DPoPProof{Method: http.MethodGet, URL: publicBaseURL + "/me", AccessToken: token, Nonce: nonce})
		wantOK(t, tg.name+" proof with nonce", serveDPoP(t, tg.h, http.MethodGet, "/me", token, proof), machineView(s.BasicClient, ScopeRead))
		_, err := validate(tg.v, token)
		if err == nil {
			t.Errorf("%s: ValidateToken accepted a DPoP-bound token without a proof", tg.name)
		}
	}
}

// TestDPoPOpaqueOIDCProvider uses oidc-provider's real DPoP-bound opaque
// tokens (a DPoP token request for its opaque resource), whose
// introspection answer says "token_type": "DPoP" with "cnf" "jkt" (RFC 9449
// §6.2): through net/http, Echo and Gin, such a token is accepted with a
// valid proof and refused as Bearer because it is bound.
func TestDPoPOpaqueOIDCProvider(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	targets := newTargets(t, middleware.Config{
		Issuer:        s.Issuer,
		Audiences:     []string{ResourceOpaque},
		Introspection: introspectionAt(s, Basic),
		DPoP:          middleware.DPoP{Mode: middleware.DPoPAllowed, PublicBaseURL: publicBaseURL},
	})
	key := NewDPoPKey(t)
	token := s.DPoPToken(t, key, s.OpaqueClient, []string{ScopeRead}, resource(ResourceOpaque))
	if looksLikeJWS(token) {
		t.Fatalf("oidc-provider issued a JWT for %s, want an opaque token", ResourceOpaque)
	}
	// What the endpoint says of it: the RFC 9449 §6.2 answer.
	answer := s.Introspect(t, token, Basic)
	cnf, _ := answer["cnf"].(map[string]any)
	if answer["active"] != true || answer["token_type"] != "DPoP" || cnf["jkt"] != key.Thumbprint {
		t.Fatalf("introspection %s, want active, token_type DPoP and cnf.jkt %s", mustJSON(t, answer), key.Thumbprint)
	}

	want := claimsView{ClientID: s.OpaqueClient.ID, Scopes: []string{ScopeRead}}
	for _, tg := range targets {
		for _, path := range []string{"/users", "/me"} {
			proof := proofFor(t, key, http.MethodGet, path, token)
			wantOK(t, tg.name+" GET "+path+" with a proof", serveDPoP(t, tg.h, http.MethodGet, path, token, proof), want)
		}
		stranger := proofFor(t, NewDPoPKey(t), http.MethodGet, "/me", token)
		wantDPoPError(t, tg.name+" proof by another key", serveDPoP(t, tg.h, http.MethodGet, "/me", token, stranger), "invalid_dpop_proof")

		// As Bearer: refused because the token is bound, not because of
		// its type.
		for _, rt := range routes {
			wantBoundAsBearer(t, tg.name+" "+rt.method+" "+rt.path+" as Bearer", serve(t, tg.h, rt.method, rt.path, token))
		}
		if _, err := validate(tg.v, token); !errors.Is(err, middleware.ErrSenderConstrained) {
			t.Errorf("%s: ValidateToken error %v, want ErrSenderConstrained", tg.name, err)
		}
	}
}

// wantBoundAsBearer checks the answer to a bound token sent as Bearer: 401
// invalid_token with the description of ErrSenderConstrained.
func wantBoundAsBearer(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s: status %d, want 401", what, resp.StatusCode)
	}
	var body middleware.ErrorBody
	decodeBody(t, resp, &body)
	const desc = "the token is bound to a key and cannot be used as a bearer token"
	if body.Error != middleware.CodeInvalidToken || body.Description != desc {
		t.Errorf("%s: body %+v, want invalid_token %q", what, body, desc)
	}
}
