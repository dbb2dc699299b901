package main

import (
	"crypto/rand"
	"crypto/rsa"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/internal/interop"
	"github.com/golang-jwt/jwt/v5"
)

// TestExplainOIDCProvider runs explain against a real oidc-provider issuer
// (the engine under Logto), started on loopback by internal/interop; the
// tokens come from its client_credentials grant and its authorization code
// flow.
func TestExplainOIDCProvider(t *testing.T) {
	t.Parallel()
	s := interop.StartOIDCProvider(t)
	token := s.ClientCredentialsToken(t, s.BasicClient, interop.Basic, []string{interop.ScopeRead}, url.Values{"resource": {interop.ResourceRS256}})

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// A token of a key the issuer does not publish.
	forge := func(issuer string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": issuer, "aud": interop.ResourceRS256, "sub": "x", "client_id": "x",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		})
		tok.Header["kid"], tok.Header["typ"] = "not-published", "at+jwt"
		signed, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	unknownKid := forge(s.Issuer)
	down := interop.NewOIDCProviderStopped(t)

	tests := []struct {
		name     string
		issuer   string
		token    string
		audience string
		scope    string
		now      func() time.Time
		code     int
		failed   string
		status   string
	}{
		{name: "good token", token: token, audience: interop.ResourceRS256, scope: interop.ScopeRead, code: exitOK, status: "200 OK"},
		{name: "wrong audience", token: token, audience: interop.ResourceES256, code: exitRefused, failed: "audience", status: "401 Unauthorized"},
		{name: "missing scope", token: token, audience: interop.ResourceRS256, scope: interop.ScopeWrite, code: exitRefused, failed: "scope", status: "403 Forbidden"},
		{name: "expired", token: token, audience: interop.ResourceRS256, now: func() time.Time { return time.Now().Add(2 * time.Hour) },
			code: exitRefused, failed: "times", status: "401 Unauthorized"},
		{name: "ID token", token: s.IDToken(t), audience: s.BasicClient.ID, code: exitRefused, failed: "type", status: "401 Unauthorized"},
		{name: "unknown kid", token: unknownKid, audience: interop.ResourceRS256, code: exitRefused, failed: "key", status: "401 Unauthorized"},
		{name: "issuer down", issuer: down.Issuer, token: forge(down.Issuer), audience: interop.ResourceRS256, code: exitUnavailable, failed: "key", status: "503 Service Unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			issuer := tc.issuer
			if issuer == "" {
				issuer = s.Issuer
			}
			args := []string{"explain", "-issuer", issuer, "-audience", tc.audience}
			if tc.scope != "" {
				args = append(args, "-scope", tc.scope)
			}
			res := runCmd(t, env{now: tc.now}, tc.token, args...)
			if res.code != tc.code {
				t.Errorf("exit code %d, want %d", res.code, tc.code)
			}
			if got := answer(res.stdout); got != tc.status {
				t.Errorf("answer %q, want %q", got, tc.status)
			}
			if tc.failed != "" && checkLine(res.stdout, tc.failed) != "FAIL" {
				t.Errorf("check %s: %q, want FAIL", tc.failed, checkLine(res.stdout, tc.failed))
			}
			if tc.failed == "" && strings.Contains(res.stdout, "  FAIL  ") {
				t.Error("a check FAILs for a good token")
			}
		})
	}
}
