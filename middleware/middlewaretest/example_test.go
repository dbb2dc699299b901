package middlewaretest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// payload decodes the claims of a compact JWT without verifying it.
func payload(token string) map[string]any {
	part := strings.Split(token, ".")[1]
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		panic(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		panic(err)
	}
	return claims
}

// Start an issuer, mint an RFC 9068 access token and check it against the
// issuer's public key. In a handler test, send the token in an
// "Authorization: Bearer" header and point the middleware at iss.URL.
func Example() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()

	token := iss.Token(middlewaretest.Spec{
		Subject: "alice",
		Scopes:  []string{"read:items", "write:items"},
	})

	parsed, err := jwt.Parse(token, func(*jwt.Token) (any, error) {
		return iss.PublicKey("RS256"), nil
	}, jwt.WithIssuer(iss.URL), jwt.WithAudience("https://api.example.test"))
	if err != nil {
		fmt.Println("invalid:", err)
		return
	}
	claims := parsed.Claims.(jwt.MapClaims)
	fmt.Println("typ:", parsed.Header["typ"])
	fmt.Println("kid matches:", parsed.Header["kid"] == iss.KeyID("RS256"))
	fmt.Println("sub:", claims["sub"])
	fmt.Println("client_id:", claims["client_id"])
	fmt.Println("scope:", claims["scope"])
	// Output:
	// typ: at+jwt
	// kid matches: true
	// sub: alice
	// client_id: test-client
	// scope: read:items write:items
}

// The same grant as an Auth0 machine-to-machine token: scopes in both
// scope and permissions, sub with the "@clients" suffix, a single aud.
func ExampleSpec_auth0Machine() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()

	claims := payload(iss.Token(middlewaretest.Spec{
		Profile:  middlewaretest.Auth0,
		Machine:  true,
		ClientID: "billing-worker",
		Scopes:   []string{"read:invoices"},
	}))
	fmt.Println(claims["sub"], claims["gty"], claims["aud"], claims["scope"], claims["permissions"])
	// Output:
	// billing-worker@clients client-credentials https://api.example.test read:invoices [read:invoices]
}

// Obtain a token from the client credentials endpoint (RFC 6749 §4.4),
// as a service would from a real authorization server.
func ExampleIssuer_AddClient() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	iss.AddClient(middlewaretest.Client{
		ID:      "reporting",
		Secret:  "s3cret",
		Scopes:  []string{"read", "write"},
		Profile: middlewaretest.Logto,
	})

	form := url.Values{
		"grant_type": {"client_credentials"},
		"scope":      {"read"},
		"resource":   {"https://reports.example.test"},
	}
	req, _ := http.NewRequest(http.MethodPost, iss.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape("reporting"), url.QueryEscape("s3cret"))
	resp, err := iss.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		fmt.Println(err)
		return
	}
	claims := payload(body.AccessToken)
	fmt.Println(resp.StatusCode, body.TokenType, body.ExpiresIn, body.Scope)
	fmt.Println(claims["sub"], claims["aud"])
	// Output:
	// 200 Bearer 3600 read
	// reporting https://reports.example.test
}
