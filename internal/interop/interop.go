// Package interop runs real OAuth 2.0 authorization servers on loopback so that
// tests can obtain access tokens through the genuine client_credentials flow
// (RFC 6749 section 4.4) instead of minting them by hand.
//
// Three servers are supported:
//
//   - oidc-provider (the engine under Logto), driven by oidcprovider/server.mjs:
//     RFC 8707 resource indicators, RFC 9068 JWT access tokens (typ at+jwt)
//     signed RS256 for https://api.example.test and ES256 for
//     https://api-es.example.test, key rotation while running, and ID tokens
//     through the authorization code flow with PKCE (RFC 7636), and
//     DPoP-bound JWT access tokens (RFC 9449, cnf.jkt) for a token request
//     with a DPoP proof (DPoPToken, proofs from DPoPKey), its nonce required.
//   - Authlib (Debian's python3-authlib), driven by authlib/server.py: RS256
//     JWT access tokens with typ JWT, audience from "resource" or the
//     Auth0-style "audience" parameter, RFC 8414 metadata.
//   - Ory Hydra (StartHydra, hydra.go), a Go program built by
//     .ci/install-interop.sh from the version testdata/hydra/go.mod pins:
//     clients registered through its admin API, opaque access tokens
//     ("ory_at_...") introspected at the admin API, and per client RS256
//     JWT access tokens with typ JWT and the scopes in "scp".
//
// The first two also issue opaque access tokens (OpaqueToken) and answer for
// them at an RFC 7662 introspection endpoint (Introspect) and an RFC 7009
// revocation endpoint (Revoke): oidc-provider for a client_credentials
// request without a resource, or for ResourceOpaque, keeping them in process
// memory; Authlib for OpaqueClient, with its default token generator,
// keeping them (by SHA-256) in an SQLite file that survives Stop and Start.
//
// Each server is a child process started by the test, bound to 127.0.0.1 and
// stopped through t.Cleanup. When node, the npm packages, Authlib or Hydra
// are missing the test is skipped with one line saying how to install them, except
// when the environment has CI=true, where a missing dependency fails the test.
// .ci/install-interop.sh installs everything.
//
// This package is test support, not API: it calls t.Fatal on any failure.
package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ReadyTimeout bounds how long Start waits for a server to answer its
// metadata URL.
const ReadyTimeout = 30 * time.Second

// requestTimeout bounds every HTTP exchange the harness makes.
const requestTimeout = 10 * time.Second

// pollInterval is how often bounded waits look again.
const pollInterval = 20 * time.Millisecond

// Resource identifiers known to both servers. The oidc-provider server signs
// tokens for ResourceRS256 with RS256 and for ResourceES256 with ES256; the
// Authlib server signs everything with RS256.
const (
	ResourceRS256 = "https://api.example.test"
	ResourceES256 = "https://api-es.example.test"
	// ResourceOpaque is a resource for which oidc-provider issues opaque
	// access tokens whose introspection names it in aud; Authlib names it in
	// aud for OpaqueClient's tokens asked for it.
	ResourceOpaque = "https://api-opaque.example.test"
)

// Scopes the servers grant for the resources above. Both clients may also ask
// for ScopeDelete, which the oidc-provider resources do not allow and so drop.
const (
	ScopeRead   = "read:users"
	ScopeWrite  = "write:users"
	ScopeDelete = "delete:users"
)

// IDTokenSubject is the account the harness signs in as in IDToken.
const IDTokenSubject = "alice"

// Credentials identify a confidential client at the token endpoint.
type Credentials struct {
	ID, Secret string
}

// The clients both server scripts register. Keep in step with server.mjs and
// server.py.
var (
	basicClient = Credentials{ID: "bearerguard-basic", Secret: "bearerguard-basic-secret-0123456789abcdef"}
	postClient  = Credentials{ID: "bearerguard-post", Secret: "bearerguard-post-secret-0123456789abcdef"}
	// opaqueClient gets opaque tokens at Authlib (at oidc-provider any
	// client does without a resource); it may revoke its own tokens.
	opaqueClient = Credentials{ID: "bearerguard-opaque", Secret: "bearerguard-opaque-secret-0123456789abcdef"}
	// apiClient is the protected API as a client of the server: the only
	// one whose introspection requests are answered.
	apiClient = Credentials{ID: "bearerguard-api", Secret: "bearerguard-api-secret-0123456789abcdef"}
)

// redirectURI is registered for the basic client at oidc-provider. Nothing
// listens there: IDToken stops at the redirect and reads the code from it.
const redirectURI = "http://127.0.0.1/callback"

// AuthStyle is how a client authenticates at the token endpoint.
type AuthStyle int

const (
	// Basic is client_secret_basic (RFC 6749 section 2.3.1, HTTP Basic).
	Basic AuthStyle = iota + 1
	// Post is client_secret_post (credentials in the form body).
	Post
)

// String returns the RFC 7591 token_endpoint_auth_method name.
func (a AuthStyle) String() string {
	switch a {
	case Basic:
		return "client_secret_basic"
	case Post:
		return "client_secret_post"
	}
	return "AuthStyle(" + strconv.Itoa(int(a)) + ")"
}

type kind int

const (
	kindOIDCProvider kind = iota + 1
	kindAuthlib
)

func (k kind) String() string {
	if k == kindOIDCProvider {
		return "oidc-provider"
	}
	return "authlib"
}

// Server is an authorization server child process on 127.0.0.1. Its exported
// fields are valid once it has been started (or, for a server made with
// New...Stopped, as soon as it exists) and do not change across Stop and
// Start, which reuse the same port.
//
// A Server belongs to the test that created it: call its methods from that
// test's goroutine.
type Server struct {
	// Issuer is the issuer identifier exactly as the server's metadata says.
	Issuer string
	// MetadataURL is where the server publishes its metadata document.
	MetadataURL string
	// TokenURL is the token endpoint.
	TokenURL string
	// JWKSURL is the jwks_uri from the metadata.
	JWKSURL string
	// IntrospectionURL is the RFC 7662 introspection_endpoint and
	// RevocationURL the RFC 7009 revocation_endpoint from the metadata.
	IntrospectionURL, RevocationURL string
	// BasicClient is registered for client_secret_basic, PostClient for
	// client_secret_post. Authlib refuses the other method for each;
	// oidc-provider accepts either for both. Only BasicClient may use the
	// authorization code flow (IDToken).
	BasicClient, PostClient Credentials
	// OpaqueClient is the client OpaqueToken obtains tokens for and Revoke
	// revokes them as (client_secret_basic at both servers).
	OpaqueClient Credentials
	// IntrospectionClient is the protected API's own registration, the one
	// client whose introspection requests are answered; both servers accept
	// client_secret_basic and client_secret_post from it at
	// IntrospectionURL. It may not obtain tokens.
	IntrospectionClient Credentials

	t        testing.TB
	kind     kind
	dir      string // directory holding the server script
	stateDir string // keys that survive a restart
	port     int
	authURL  string

	process
}

// StartOIDCProvider starts an oidc-provider server on a free loopback port
// and waits until it is ready.
func StartOIDCProvider(t testing.TB) *Server {
	t.Helper()
	s := newServer(t, kindOIDCProvider, 0)
	s.Start()
	return s
}

// StartAuthlib starts an Authlib server on a free loopback port and waits
// until it is ready.
func StartAuthlib(t testing.TB) *Server {
	t.Helper()
	s := newServer(t, kindAuthlib, 0)
	s.Start()
	return s
}

// NewOIDCProviderStopped returns an oidc-provider server that has a reserved
// port, and so its issuer and endpoint URLs, but is not running: for tests in
// which the issuer is down from the start. Start brings it up.
func NewOIDCProviderStopped(t testing.TB) *Server {
	t.Helper()
	return newServer(t, kindOIDCProvider, ReservePort(t))
}

// NewAuthlibStopped is NewOIDCProviderStopped for the Authlib server.
func NewAuthlibStopped(t testing.TB) *Server {
	t.Helper()
	return newServer(t, kindAuthlib, ReservePort(t))
}

// ReservePort returns a loopback TCP port that was free a moment ago. Another
// process may take it before it is used; the harness uses it only for servers
// that must have a known address before they start.
func ReservePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("interop: reserve port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("interop: reserve port: %v", err)
	}
	return port
}

func newServer(t testing.TB, k kind, port int) *Server {
	t.Helper()
	var dir string
	switch k {
	case kindOIDCProvider:
		dir = requireOIDCProvider(t)
	case kindAuthlib:
		dir = requireAuthlib(t)
	}
	s := &Server{
		BasicClient:         basicClient,
		PostClient:          postClient,
		OpaqueClient:        opaqueClient,
		IntrospectionClient: apiClient,
		t:                   t,
		kind:                k,
		process:             process{name: k.String()},
		dir:                 dir,
		stateDir:            t.TempDir(),
		port:                port,
	}
	if port != 0 {
		s.setURLs("http://127.0.0.1:" + strconv.Itoa(port))
	}
	// Registered after TempDir, so it runs before the directory is removed.
	s.stopAtCleanup(t)
	return s
}

// setURLs fills in the URLs that follow from the issuer before the metadata
// can be read.
func (s *Server) setURLs(issuer string) {
	s.Issuer = issuer
	switch s.kind {
	case kindOIDCProvider:
		s.MetadataURL = issuer + "/.well-known/openid-configuration"
		s.TokenURL = issuer + "/token"
		s.JWKSURL = issuer + "/jwks"
		s.IntrospectionURL = issuer + "/token/introspection"
		s.RevocationURL = issuer + "/token/revocation"
		s.authURL = issuer + "/auth"
	case kindAuthlib:
		s.MetadataURL = issuer + "/.well-known/oauth-authorization-server"
		s.TokenURL = issuer + "/oauth/token"
		s.JWKSURL = issuer + "/.well-known/jwks.json"
		s.IntrospectionURL = issuer + "/oauth/introspect"
		s.RevocationURL = issuer + "/oauth/revoke"
	}
}

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Logs returns everything the server process has printed so far.
func (s *Server) Logs() string { return s.logs.String() }

// Start starts the server process on its port (a free one the first time, if
// it has none) and waits at most ReadyTimeout until its metadata answers.
// Starting a running server is a no-op. Keys persist across Stop and Start.
func (s *Server) Start() {
	t := s.t
	t.Helper()
	var cmd *exec.Cmd
	args := []string{"--port", strconv.Itoa(s.port), "--state", s.stateDir}
	switch s.kind {
	case kindOIDCProvider:
		cmd = exec.Command("node", append([]string{"server.mjs"}, args...)...)
	case kindAuthlib:
		cmd = exec.Command(pythonPath(), append([]string{"server.py"}, args...)...)
	}
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	offset, done := s.start(t, cmd, "on port "+strconv.Itoa(s.port))
	if done == nil {
		return // running already
	}
	if err := s.waitReady(offset, done); err != nil {
		s.Stop()
		t.Fatalf("interop: %s not ready: %v (server log follows)", s.kind, err)
	}
}

var listeningRE = regexp.MustCompile(`listening on (http://127\.0\.0\.1:(\d+))\n`)

func (s *Server) waitReady(offset int, done <-chan struct{}) error {
	deadline := time.Now().Add(ReadyTimeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if m := listeningRE.FindStringSubmatch(s.logs.From(offset)); m != nil {
			port, _ := strconv.Atoi(m[2])
			if s.port != 0 && port != s.port {
				return fmt.Errorf("listening on port %d, want %d", port, s.port)
			}
			s.port = port
			if s.Issuer == "" {
				s.setURLs(m[1])
			}
			break
		}
		select {
		case <-done:
			return errors.New("process exited before listening")
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no listening line within %v", ReadyTimeout)
		}
	}
	var lastErr error
	for {
		md, err := s.fetchMetadata()
		if err == nil {
			return s.applyMetadata(md)
		}
		lastErr = err
		select {
		case <-done:
			return errors.New("process exited before serving metadata")
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("metadata not served within %v: %v", ReadyTimeout, lastErr)
		}
	}
}

type metadata struct {
	Issuer                string `json:"issuer"`
	TokenEndpoint         string `json:"token_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
}

func (s *Server) fetchMetadata() (*metadata, error) {
	var md metadata
	if err := getJSON(s.MetadataURL, &md); err != nil {
		return nil, err
	}
	return &md, nil
}

func (s *Server) applyMetadata(md *metadata) error {
	// RFC 8414 section 3.3: the issuer in the metadata must be the one the
	// metadata URL was built from.
	if md.Issuer != s.Issuer {
		return fmt.Errorf("metadata issuer %q, want %q", md.Issuer, s.Issuer)
	}
	if md.TokenEndpoint == "" || md.JWKSURI == "" || md.IntrospectionEndpoint == "" || md.RevocationEndpoint == "" {
		return fmt.Errorf("metadata lacks token_endpoint, jwks_uri, introspection_endpoint or revocation_endpoint: %+v", md)
	}
	s.TokenURL, s.JWKSURL, s.authURL = md.TokenEndpoint, md.JWKSURI, md.AuthorizationEndpoint
	s.IntrospectionURL, s.RevocationURL = md.IntrospectionEndpoint, md.RevocationEndpoint
	return nil
}

// Stop kills the server process, as in an issuer outage, and waits until it
// has exited and its port is closed. Stopping a stopped server is a no-op.
func (s *Server) Stop() { s.stop(s.t) }

// FetchToken runs the client_credentials grant for c with golang.org/x/oauth2,
// authenticating as style says. params go into the token request as they are,
// for example resource (RFC 8707, Logto style) or audience (Auth0 style).
func (s *Server) FetchToken(ctx context.Context, c Credentials, style AuthStyle, scopes []string, params url.Values) (*oauth2.Token, error) {
	conf := clientcredentials.Config{
		ClientID:       c.ID,
		ClientSecret:   c.Secret,
		TokenURL:       s.TokenURL,
		Scopes:         scopes,
		EndpointParams: params,
	}
	switch style {
	case Basic:
		conf.AuthStyle = oauth2.AuthStyleInHeader
	case Post:
		conf.AuthStyle = oauth2.AuthStyleInParams
	default:
		return nil, fmt.Errorf("interop: unknown auth style %v", style)
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, httpClient(nil))
	return conf.Token(ctx)
}

// ClientCredentialsToken is FetchToken that returns the access token and fails
// the test on any error.
func (s *Server) ClientCredentialsToken(t testing.TB, c Credentials, style AuthStyle, scopes []string, params url.Values) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	tok, err := s.FetchToken(ctx, c, style, scopes, params)
	if err != nil {
		t.Fatalf("interop: %s client_credentials token for %s (%v): %v", s.kind, c.ID, style, err)
	}
	return tok.AccessToken
}

// OpaqueToken runs the client_credentials grant for OpaqueClient
// (client_secret_basic) and returns its access token, failing the test if
// that is a compact JWS rather than an opaque string. params may name
// ResourceOpaque (either server) or, at Authlib, another known resource or
// audience, which then appears as aud in the introspection response; without
// one, oidc-provider's answer has no aud and Authlib's has aud = the client
// id, as the example in Authlib's documentation does.
func (s *Server) OpaqueToken(t testing.TB, scopes []string, params url.Values) string {
	t.Helper()
	token := s.ClientCredentialsToken(t, s.OpaqueClient, Basic, scopes, params)
	if looksLikeJWS(token) {
		t.Fatalf("interop: %s issued a JWS %q where an opaque token was wanted", s.kind, token)
	}
	return token
}

func looksLikeJWS(token string) bool { return strings.Count(token, ".") == 2 }

// Introspect asks IntrospectionURL about token as IntrospectionClient,
// authenticating as style says, and returns the JSON answer (RFC 7662
// section 2.2). It fails the test unless the server answers 200 with JSON.
func (s *Server) Introspect(t testing.TB, token string, style AuthStyle) map[string]any {
	t.Helper()
	resp, err := postForm(s.IntrospectionURL, s.IntrospectionClient, style, url.Values{"token": {token}})
	if err != nil {
		t.Fatalf("interop: %s introspection: %v", s.kind, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := decodeJSON(resp, &out); err != nil {
		t.Fatalf("interop: %s introspection: %v", s.kind, err)
	}
	return out
}

// Revoke revokes token at RevocationURL (RFC 7009) as OpaqueClient, the
// client OpaqueToken obtains tokens for, and fails the test unless the
// server answers 200.
func (s *Server) Revoke(t testing.TB, token string) {
	t.Helper()
	revoke(t, s.name, s.RevocationURL, s.OpaqueClient, token)
}

// revoke revokes token at target, the RFC 7009 revocation endpoint of the
// server called name, as client c (client_secret_basic), and fails the test
// unless the server answers 200.
func revoke(t testing.TB, name, target string, c Credentials, token string) {
	t.Helper()
	resp, err := postForm(target, c, Basic, url.Values{"token": {token}, "token_type_hint": {"access_token"}})
	if err != nil {
		t.Fatalf("interop: %s revocation: %v", name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("interop: %s revocation: status %d: %s", name, resp.StatusCode, body)
	}
}

// postForm posts form to target as client c, authenticated as style says.
func postForm(target string, c Credentials, style AuthStyle, form url.Values) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	form = maps.Clone(form)
	var req *http.Request
	var err error
	switch style {
	case Basic:
		req, err = newFormRequest(ctx, target, form)
		if err == nil {
			// RFC 6749 section 2.3.1: form-encode, then Basic.
			req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
		}
	case Post:
		form.Set("client_id", c.ID)
		form.Set("client_secret", c.Secret)
		req, err = newFormRequest(ctx, target, form)
	default:
		err = fmt.Errorf("unknown auth style %v", style)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

func newFormRequest(ctx context.Context, target string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// cancelOnClose ends a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// KeyIDs returns the kid of every key the server publishes at JWKSURL, in
// the order published.
func (s *Server) KeyIDs(t testing.TB) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := getJSON(s.JWKSURL, &set); err != nil {
		t.Fatalf("interop: %s JWKS: %v", s.kind, err)
	}
	kids := make([]string, 0, len(set.Keys))
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// RotateKey makes oidc-provider sign with a new RSA key and a new EC key from
// now on; the previous keys stay in the JWKS. It returns the published kids,
// newest first.
func (s *Server) RotateKey(t testing.TB) []string {
	t.Helper()
	return s.admin(t, "rotate")
}

// DropOldKeys makes oidc-provider publish only its newest RSA and EC keys. It
// returns the published kids, newest first.
func (s *Server) DropOldKeys(t testing.TB) []string {
	t.Helper()
	return s.admin(t, "drop")
}

func (s *Server) admin(t testing.TB, op string) []string {
	t.Helper()
	if s.kind != kindOIDCProvider {
		t.Fatalf("interop: %s has no key rotation", s.kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Issuer+"/__admin/"+op, nil)
	if err != nil {
		t.Fatalf("interop: %s: %v", op, err)
	}
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		t.Fatalf("interop: %s: %v", op, err)
	}
	defer resp.Body.Close()
	var out struct {
		Kids []string `json:"kids"`
	}
	if err := decodeJSON(resp, &out); err != nil {
		t.Fatalf("interop: %s: %v", op, err)
	}
	return out.Kids
}

// IDToken signs in as IDTokenSubject at oidc-provider through its development
// login and consent pages, following the authorization code flow with PKCE
// for BasicClient the way a browser would, and returns the ID token from the
// token response. Its aud is BasicClient.ID and it carries a nonce.
func (s *Server) IDToken(t testing.TB) string {
	t.Helper()
	if s.kind != kindOIDCProvider {
		t.Fatalf("interop: %s issues no ID tokens", s.kind)
	}
	tok, err := s.authorizationCodeToken()
	if err != nil {
		t.Fatalf("interop: ID token: %v", err)
	}
	id, ok := tok.Extra("id_token").(string)
	if !ok || id == "" {
		t.Fatalf("interop: token response has no id_token")
	}
	return id
}

var promptRE = regexp.MustCompile(`name="prompt" value="(\w+)"`)

func (s *Server) authorizationCodeToken() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	conf := oauth2.Config{
		ClientID:     s.BasicClient.ID,
		ClientSecret: s.BasicClient.Secret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   s.authURL,
			TokenURL:  s.TokenURL,
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: redirectURI,
		Scopes:      []string{"openid"},
	}
	verifier := oauth2.GenerateVerifier()
	state, nonce := randomString(), randomString()
	next := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce))

	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	browser := httpClient(jar)
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	const maxSteps = 12
	for range maxSteps {
		if strings.HasPrefix(next, redirectURI) {
			return s.exchangeCode(ctx, &conf, next, state, verifier)
		}
		resp, err := doRequest(ctx, browser, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err != nil {
				return nil, fmt.Errorf("GET %s: %v", next, err)
			}
			next = loc.String()
		case resp.StatusCode == http.StatusOK:
			// A devInteractions page: answer its prompt by posting back to it.
			m := promptRE.FindSubmatch(body)
			if m == nil {
				return nil, fmt.Errorf("GET %s: page without a prompt:\n%s", next, body)
			}
			form := url.Values{"prompt": {string(m[1])}}
			if string(m[1]) == "login" {
				form.Set("login", IDTokenSubject)
				form.Set("password", "any password works")
			}
			post, err := doRequest(ctx, browser, http.MethodPost, next, form)
			if err != nil {
				return nil, err
			}
			post.Body.Close()
			loc, err := post.Location()
			if err != nil {
				return nil, fmt.Errorf("POST %s: status %d: %v", next, post.StatusCode, err)
			}
			next = loc.String()
		default:
			return nil, fmt.Errorf("GET %s: status %d:\n%s", next, resp.StatusCode, body)
		}
	}
	return nil, fmt.Errorf("no redirect to %s within %d steps", redirectURI, maxSteps)
}

func (s *Server) exchangeCode(ctx context.Context, conf *oauth2.Config, callback, state, verifier string) (*oauth2.Token, error) {
	u, err := url.Parse(callback)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state {
		return nil, fmt.Errorf("state %q, want %q", q.Get("state"), state)
	}
	// RFC 9207: oidc-provider names itself in the authorization response.
	if iss := q.Get("iss"); iss != "" && iss != s.Issuer {
		return nil, fmt.Errorf("authorization response iss %q, want %q", iss, s.Issuer)
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, httpClient(nil))
	return conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
}

func doRequest(ctx context.Context, c *http.Client, method, target string, form url.Values) (*http.Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return c.Do(req)
}

// DecodeUnverified splits a compact JWS and decodes its header and payload
// without checking anything: for asserting what a server issued.
func DecodeUnverified(t testing.TB, token string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("interop: token has %d parts, want 3: %q", len(parts), token)
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("interop: token part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("interop: token part %d: %v", i, err)
		}
	}
	return header, payload
}

// httpClient talks to loopback only, so it ignores proxy settings.
func httpClient(jar http.CookieJar) *http.Client {
	return &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   requestTimeout,
		Jar:       jar,
	}
}

func getJSON(target string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	resp, err := doRequest(ctx, httpClient(nil), http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeJSON(resp, v)
}

func decodeJSON(resp *http.Response, v any) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, body)
	}
	return json.Unmarshal(body, v)
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Dependencies.

func inCI() bool { return os.Getenv("CI") == "true" }

// missing skips the test, or fails it under CI, with one line saying what
// is missing and how to install it.
func missing(t testing.TB, what, install string) {
	t.Helper()
	msg := fmt.Sprintf("interop: %s not installed; %s", what, install)
	if inCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// skipShort skips a test that starts a real authorization server under
// go test -short (scripts/quick.sh, the inner loop).
func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("interop: starts a real authorization server; skipped with -short")
	}
}

// pythonPath is Debian's interpreter, which sees python3-authlib; a pyenv or
// virtualenv python3 earlier in PATH would not. INTEROP_PYTHON overrides it.
func pythonPath() string {
	if p := os.Getenv("INTEROP_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

func requireOIDCProvider(t testing.TB) string {
	skipShort(t)
	t.Helper()
	dir := filepath.Join(packageDir(t), "oidcprovider")
	const install = "npm ci --prefix internal/interop/oidcprovider"
	if _, err := exec.LookPath("node"); err != nil {
		missing(t, "node", "install Node.js 20 or later, then run: "+install)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		missing(t, "oidc-provider", "run: "+install)
	}
	return dir
}

var authlibImportable = sync.OnceValue(func() error {
	out, err := exec.Command(pythonPath(), "-c", "import authlib, flask").CombinedOutput()
	if err != nil {
		// The last line of a traceback names the missing module.
		if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); lines[len(lines)-1] != "" {
			return errors.New(lines[len(lines)-1])
		}
		return err
	}
	return nil
})

func requireAuthlib(t testing.TB) string {
	skipShort(t)
	t.Helper()
	if err := authlibImportable(); err != nil {
		missing(t, "Authlib for "+pythonPath()+" ("+err.Error()+")",
			"run: sudo apt-get install -y --no-install-recommends python3-authlib python3-flask")
	}
	return filepath.Join(packageDir(t), "authlib")
}

// packageDir finds internal/interop on disk: from this source file when the
// build kept its path, else from the module root above the working directory.
func packageDir(t testing.TB) string {
	t.Helper()
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Dir(file)
		if _, err := os.Stat(filepath.Join(dir, "oidcprovider", "server.mjs")); err == nil {
			return dir
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "internal", "interop")
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("interop: no go.mod above %s", wd)
		}
	}
}

// process is a server's child process: its output and, while it runs, its
// command and a channel closed once it has exited.
type process struct {
	name string // the server's name in log lines and messages
	logs logBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// start starts cmd in a process group of its own, its output going to the
// log after a line naming the server and where (for example "on port 8080"),
// and returns the log offset of that line and a channel closed once cmd has
// exited. If the process is running already, start starts nothing and
// returns a nil channel. It fails the test if cmd cannot be started.
func (p *process) start(t testing.TB, cmd *exec.Cmd, where string) (offset int, done <-chan struct{}) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return 0, nil
	}
	cmd.Stdout = &p.logs
	cmd.Stderr = &p.logs
	setProcAttr(cmd)
	offset = p.logs.Len()
	fmt.Fprintf(&p.logs, "--- interop: starting %s %s\n", p.name, where)
	if err := cmd.Start(); err != nil {
		t.Fatalf("interop: start %s: %v", p.name, err)
	}
	exited := make(chan struct{})
	p.cmd, p.done = cmd, exited
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(&p.logs, "--- interop: %s exited: %v\n", p.name, err)
		close(exited)
	}()
	return offset, exited
}

// stop kills the process (its group, by PID) and waits at most ReadyTimeout
// until it has exited, failing the test if it has not. Stopping a stopped
// process is a no-op.
func (p *process) stop(t testing.TB) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd, p.done = nil, nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	killProcess(cmd)
	select {
	case <-done:
	case <-time.After(ReadyTimeout):
		t.Errorf("interop: %s (pid %d) did not exit after kill", p.name, cmd.Process.Pid)
	}
}

// stopAtCleanup stops the process when t's test ends and, if it failed,
// logs everything the process printed.
func (p *process) stopAtCleanup(t testing.TB) {
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("interop: %s server log:\n%s", p.name, p.logs.String())
		}
	})
}

// logBuffer collects a child's output; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *logBuffer) String() string { return b.From(0) }

// From returns the output from byte offset on.
func (b *logBuffer) From(offset int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf.Bytes()[offset:])
}
