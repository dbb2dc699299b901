package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DPoPKey is a client's ES256 key for DPoP proofs (RFC 9449), made in the
// test. Its public half travels in every proof's jwk header; a DPoP-bound
// token names it by Thumbprint in cnf.jkt.
type DPoPKey struct {
	priv *ecdsa.PrivateKey
	jwk  map[string]any
	// Thumbprint is the RFC 7638 SHA-256 thumbprint of the public key,
	// base64url without padding: what cnf.jkt must equal.
	Thumbprint string
}

// NewDPoPKey generates a P-256 key.
func NewDPoPKey(t testing.TB) *DPoPKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("interop: DPoP key: %v", err)
	}
	pub, err := priv.PublicKey.Bytes() // 0x04 || X || Y, 32 bytes each
	if err != nil {
		t.Fatalf("interop: DPoP key: %v", err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := b64(pub[1:33]), b64(pub[33:])
	// RFC 7638 section 3.2: the required members, in lexicographic order,
	// no whitespace.
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return &DPoPKey{
		priv:       priv,
		jwk:        map[string]any{"kty": "EC", "crv": "P-256", "x": x, "y": y},
		Thumbprint: b64(sum[:]),
	}
}

// DPoPProof describes one proof. Method and URL are required.
type DPoPProof struct {
	Method string // htm
	URL    string // htu; query and fragment are dropped as RFC 9449 says
	// AccessToken, when not empty, puts ath = base64url(SHA-256(token)) in
	// the proof, as a proof presented at a resource server needs.
	AccessToken string
	Nonce       string    // optional server nonce
	IssuedAt    time.Time // iat; default now
	JTI         string    // default a fresh random string
}

// Proof signs p with k: a compact JWS with typ dpop+jwt, alg ES256 and k's
// public key in the jwk header.
func (k *DPoPKey) Proof(t testing.TB, p DPoPProof) string {
	t.Helper()
	htu, err := url.Parse(p.URL)
	if err != nil {
		t.Fatalf("interop: DPoP proof htu %q: %v", p.URL, err)
	}
	htu.RawQuery, htu.Fragment, htu.RawFragment = "", "", ""
	iat := p.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	jti := p.JTI
	if jti == "" {
		jti = randomString()
	}
	claims := jwt.MapClaims{"htm": p.Method, "htu": htu.String(), "iat": iat.Unix(), "jti": jti}
	if p.AccessToken != "" {
		sum := sha256.Sum256([]byte(p.AccessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if p.Nonce != "" {
		claims["nonce"] = p.Nonce
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["typ"] = "dpop+jwt"
	tok.Header["jwk"] = k.jwk
	signed, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatalf("interop: sign DPoP proof: %v", err)
	}
	return signed
}

// DPoPToken runs the client_credentials grant for c (client_secret_basic)
// with a DPoP proof made with k, and returns the DPoP-bound access token. If
// the server asks for a nonce (400 use_dpop_nonce with a DPoP-Nonce header,
// RFC 9449 section 8), it retries once with a new proof carrying it. It fails
// the test unless the answer has token_type DPoP.
func (s *Server) DPoPToken(t testing.TB, k *DPoPKey, c Credentials, scopes []string, params url.Values) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	for name, vs := range params {
		form[name] = vs
	}
	nonce := ""
	for attempt := 0; attempt < 2; attempt++ {
		proof := k.Proof(t, DPoPProof{Method: http.MethodPost, URL: s.TokenURL, Nonce: nonce})
		status, header, body := s.dpopTokenRequest(t, c, form, proof)
		var answer struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if err := json.Unmarshal(body, &answer); err != nil {
			t.Fatalf("interop: %s DPoP token answer %d %q: %v", s.kind, status, body, err)
		}
		if status == http.StatusBadRequest && answer.Error == "use_dpop_nonce" && nonce == "" {
			if nonce = header.Get("DPoP-Nonce"); nonce == "" {
				t.Fatalf("interop: %s asked for a DPoP nonce without a DPoP-Nonce header", s.kind)
			}
			continue
		}
		if status != http.StatusOK {
			t.Fatalf("interop: %s DPoP token request: %d %s: %s", s.kind, status, answer.Error, answer.Description)
		}
		if !strings.EqualFold(answer.TokenType, "DPoP") || answer.AccessToken == "" {
			t.Fatalf("interop: %s DPoP token answer has token_type %q, want DPoP: %s", s.kind, answer.TokenType, body)
		}
		return answer.AccessToken
	}
	t.Fatalf("interop: %s kept asking for a DPoP nonce", s.kind)
	return ""
}

func (s *Server) dpopTokenRequest(t testing.TB, c Credentials, form url.Values, proof string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := s.postFormWith(s.TokenURL, c, form, http.Header{"Dpop": {proof}})
	if err != nil {
		t.Fatalf("interop: %s DPoP token request: %v", s.kind, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("interop: %s DPoP token request: %v", s.kind, err)
	}
	return resp.StatusCode, resp.Header, body
}

// postFormWith is postForm (client_secret_basic) with extra headers.
func (s *Server) postFormWith(target string, c Credentials, form url.Values, extra http.Header) (*http.Response, error) {
	ctx, cancel := contextWithRequestTimeout()
	req, err := newFormRequest(ctx, target, form)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("interop: %w", err)
	}
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	for name, vs := range extra {
		req.Header[http.CanonicalHeaderKey(name)] = vs
	}
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

func contextWithRequestTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), requestTimeout)
}
