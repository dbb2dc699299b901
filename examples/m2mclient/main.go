// Command m2mclient is the other side of the examples: a machine-to-machine
// client that gets an access token with the OAuth 2.0 client credentials
// grant (RFC 6749 §4.4) and calls a protected API with it.
//
// The client secret comes from the environment (CLIENT_SECRET): a
// -client-secret flag works too, but command-line arguments are visible to
// every user of the machine (ps, /proc).
//
// Auth0 names the API with an "audience" parameter:
//
//	export CLIENT_SECRET=...
//	go run ./examples/m2mclient -token-url https://TENANT.eu.auth0.com/oauth/token \
//		-client-id ID -audience https://api.example.com \
//		-scope read:users -api http://127.0.0.1:8080/users
//
// Logto names it with an RFC 8707 "resource" indicator and wants the client
// secret in HTTP Basic authentication:
//
//	go run ./examples/m2mclient -token-url https://TENANT.logto.app/oidc/token \
//		-client-id ID -resource https://api.example.com \
//		-scope read:users -api http://127.0.0.1:8080/users
//
// The token endpoint and the API must be https URLs, except on loopback
// (localhost, 127.0.0.1, [::1]): over plain http the client secret and the
// access token would cross the network in the clear. Redirects are not
// followed, so the token is only ever sent to the -api URL.
//
// It prints the answer's status and body, and exits with status 1 unless the
// API answered 2xx, and with status 2 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func main() {
	tokenURL := flag.String("token-url", os.Getenv("TOKEN_URL"), "token endpoint of the authorization server (env TOKEN_URL)")
	clientID := flag.String("client-id", os.Getenv("CLIENT_ID"), "client ID (env CLIENT_ID)")
	clientSecret := flag.String("client-secret", os.Getenv("CLIENT_SECRET"), "client secret; prefer the environment, flags show in ps (env CLIENT_SECRET)")
	scope := flag.String("scope", "", "space-separated scopes to request, e.g. \"read:users write:users\"; empty asks for the client's default")
	audience := flag.String("audience", "", "API identifier sent as \"audience\" (Auth0)")
	resource := flag.String("resource", "", "API resource indicator sent as \"resource\" (RFC 8707, Logto)")
	api := flag.String("api", "", "URL of the API to call with the token")
	flag.Parse()
	if *tokenURL == "" || *clientID == "" || *api == "" {
		fmt.Fprintln(os.Stderr, "m2mclient: -token-url, -client-id and -api are required")
		flag.Usage()
		os.Exit(2)
	}
	if *audience != "" && *resource != "" {
		fmt.Fprintln(os.Stderr, "m2mclient: give -audience (Auth0) or -resource (Logto), not both")
		os.Exit(2)
	}
	for _, u := range []struct{ flag, url string }{{"-token-url", *tokenURL}, {"-api", *api}} {
		if err := checkTransport(u.url); err != nil {
			fmt.Fprintf(os.Stderr, "m2mclient: %s: %v\n", u.flag, err)
			os.Exit(2)
		}
	}

	cfg := clientcredentials.Config{
		ClientID:     *clientID,
		ClientSecret: *clientSecret,
		TokenURL:     *tokenURL,
		Scopes:       strings.Fields(*scope),
	}
	switch {
	case *audience != "":
		// Auth0: the API is named by "audience"; the client authenticates
		// with client_id and client_secret in the form body.
		cfg.EndpointParams = url.Values{"audience": {*audience}}
		cfg.AuthStyle = oauth2.AuthStyleInParams
	case *resource != "":
		// Logto: the API is named by an RFC 8707 resource indicator; the
		// client authenticates with HTTP Basic (client_secret_basic).
		cfg.EndpointParams = url.Values{"resource": {*resource}}
		cfg.AuthStyle = oauth2.AuthStyleInHeader
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ok, err := call(ctx, cfg, *api)
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		os.Exit(1)
	}
}

// checkTransport refuses a URL over which a secret would travel in the
// clear: anything but https, except http to a loopback address, where the
// request never leaves the machine.
func checkTransport(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() || host == "localhost" {
			return nil
		}
		return fmt.Errorf("%s is plain http outside loopback: the client secret or the token would be sent in the clear; use https", raw)
	default:
		return fmt.Errorf("%q is not an https URL", raw)
	}
}

// call gets a token and sends GET api with it. It reports whether the API
// answered 2xx.
func call(ctx context.Context, cfg clientcredentials.Config, api string) (bool, error) {
	// A TokenSource caches the token and fetches a new one shortly before
	// it expires: a long-running client keeps one TokenSource and reuses it.
	ts := cfg.TokenSource(ctx)
	tok, err := ts.Token()
	if err != nil {
		// *oauth2.RetrieveError carries the server's RFC 6749 §5.2 error code.
		if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
			return false, fmt.Errorf("token request refused: %s %s", re.ErrorCode, re.ErrorDescription)
		}
		return false, fmt.Errorf("token request: %w", err)
	}
	fmt.Printf("got a %s token from %s, expires in %s", tok.Type(), cfg.TokenURL, time.Until(tok.Expiry).Round(time.Second))
	if s, ok := tok.Extra("scope").(string); ok {
		fmt.Printf(", scope %q", s)
	}
	fmt.Println()

	// oauth2.NewClient sends "Authorization: Bearer <token>" on every request.
	client := oauth2.NewClient(ctx, ts)
	// oauth2's transport adds the token to every request it sends, the
	// requests of a redirect too: do not follow redirects, so that a
	// redirect to another host (or to plain http) cannot take the token.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api, nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return false, err
	}
	fmt.Printf("GET %s\nHTTP %s\n", api, resp.Status)
	if h := resp.Header.Get("WWW-Authenticate"); h != "" {
		fmt.Printf("WWW-Authenticate: %s\n", h)
	}
	fmt.Printf("%s\n", strings.TrimSpace(string(body)))
	return resp.StatusCode/100 == 2, nil
}
