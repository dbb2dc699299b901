package interop

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestOIDCProviderDPoPToken obtains DPoP-bound tokens from oidc-provider with
// real proofs (answering its use_dpop_nonce challenge) for both JWT
// resources: each is an at+jwt whose cnf.jkt is the RFC 7638 thumbprint of
// the test's key, and a plain request for the same resource still gets an
// unbound token.
func TestOIDCProviderDPoPToken(t *testing.T) {
	s := StartOIDCProvider(t)
	key := NewDPoPKey(t)
	for _, tc := range []struct{ resource, alg string }{
		{ResourceRS256, "RS256"},
		{ResourceES256, "ES256"},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			token := s.DPoPToken(t, key, s.BasicClient, []string{ScopeRead}, resource(tc.resource))
			header, payload := DecodeUnverified(t, token)
			if header["typ"] != "at+jwt" || header["alg"] != tc.alg {
				t.Fatalf("header %v, want typ at+jwt, alg %s", header, tc.alg)
			}
			cnf, _ := payload["cnf"].(map[string]any)
			if cnf["jkt"] != key.Thumbprint {
				t.Fatalf("cnf %v, want jkt %q", payload["cnf"], key.Thumbprint)
			}
			if payload["aud"] != tc.resource || payload["client_id"] != s.BasicClient.ID {
				t.Fatalf("aud %v, client_id %v", payload["aud"], payload["client_id"])
			}

			plain := s.ClientCredentialsToken(t, s.BasicClient, Basic, []string{ScopeRead}, resource(tc.resource))
			if _, p := DecodeUnverified(t, plain); p["cnf"] != nil {
				t.Fatalf("a token requested without a proof has cnf %v", p["cnf"])
			}
		})
	}
}

// TestOIDCProviderDPoPProofChecked shows the server checks the proofs the
// helper makes: without its nonce it answers use_dpop_nonce and a DPoP-Nonce
// header; a proof for another URL is refused.
func TestOIDCProviderDPoPProofChecked(t *testing.T) {
	s := StartOIDCProvider(t)
	key := NewDPoPKey(t)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {ScopeRead}, "resource": {ResourceES256}}

	status, header, body := s.dpopTokenRequest(t, s.BasicClient, form, key.Proof(t, DPoPProof{Method: http.MethodPost, URL: s.TokenURL}))
	if status != http.StatusBadRequest || oauthError(body) != "use_dpop_nonce" || header.Get("DPoP-Nonce") == "" {
		t.Fatalf("proof without nonce: %d %s, DPoP-Nonce %q; want 400 use_dpop_nonce with a nonce", status, body, header.Get("DPoP-Nonce"))
	}
	nonce := header.Get("DPoP-Nonce")

	other := key.Proof(t, DPoPProof{Method: http.MethodPost, URL: s.Issuer + "/elsewhere", Nonce: nonce})
	if status, _, body := s.dpopTokenRequest(t, s.BasicClient, form, other); status != http.StatusBadRequest || oauthError(body) != "invalid_dpop_proof" {
		t.Fatalf("proof for another URL: %d %s, want 400 invalid_dpop_proof", status, body)
	}
}

func oauthError(body []byte) string {
	var answer struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &answer)
	return answer.Error
}
