package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The tests run the SDK's own client against the example's handler on a
// loopback httptest server, with tokens from a real client_credentials
// token endpoint (the test kit's) fetched by golang.org/x/oauth2.

type fixture struct {
	kit      *middlewaretest.Issuer
	srv      *httptest.Server
	resource string // the MCP endpoint's URL, the tokens' audience
}

// start runs the example behind a validator of a fresh issuer. setup runs
// before the validator is made (to take the issuer down, say).
func start(t *testing.T, setup func(*middlewaretest.Issuer)) *fixture {
	t.Helper()
	kit := middlewaretest.NewIssuer()
	t.Cleanup(kit.Close)
	kit.AddClient(middlewaretest.Client{ID: "writer", Secret: "writer-secret", Scopes: []string{"notes:read", "notes:write"}})
	kit.AddClient(middlewaretest.Client{ID: "reader", Secret: "reader-secret", Scopes: []string{"notes:read"}})
	if setup != nil {
		setup(kit)
	}
	srv := httptest.NewUnstartedServer(nil)
	resource := "http://" + srv.Listener.Addr().String() + "/mcp"
	ctx, cancel := context.WithCancel(context.Background())
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    kit.URL,
		Audiences: []string{resource},
		KeyWait:   200 * time.Millisecond,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	h, err := newHandler(v, kit.URL, resource)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(func() { srv.Close(); cancel() })
	return &fixture{kit: kit, srv: srv, resource: resource}
}

// exchange is one response the client got from the MCP endpoint.
type exchange struct {
	withToken bool
	status    int
	header    http.Header
}

// recorder is the client's transport: it records the MCP endpoint's
// answers.
type recorder struct {
	base     http.RoundTripper
	endpoint string
	mu       sync.Mutex
	seen     []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err == nil && req.URL.String() == r.endpoint {
		r.mu.Lock()
		r.seen = append(r.seen, exchange{req.Header.Get("Authorization") != "", resp.StatusCode, resp.Header.Clone()})
		r.mu.Unlock()
	}
	return resp, err
}

func (r *recorder) exchanges() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// clientCredentials is an auth.OAuthHandler as an MCP client following the
// MCP authorization spec implements it for the client credentials grant:
// on 401 or 403 it reads the resource_metadata of the challenge, the
// metadata document there, the authorization server's metadata, and asks
// the token endpoint for a token for the resource (RFC 8707).
type clientCredentials struct {
	id, secret string
	resource   string // requested instead of the metadata's resource if set
	client     *http.Client

	mu         sync.Mutex
	ts         oauth2.TokenSource
	authorized int
	metadata   *oauthex.ProtectedResourceMetadata
}

func (c *clientCredentials) TokenSource(context.Context) (oauth2.TokenSource, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ts, nil
}

func (c *clientCredentials) Authorize(ctx context.Context, req *http.Request, resp *http.Response) error {
	resp.Body.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.authorized++
	challenges, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		return err
	}
	metadataURL, scope := param(challenges, "resource_metadata"), param(challenges, "scope")
	if metadataURL == "" {
		return errors.New("no resource_metadata in the challenge")
	}
	// The SDK checks that the document names the endpoint as its resource.
	prm, err := oauthex.GetProtectedResourceMetadata(ctx, metadataURL, req.URL.String(), c.client)
	if err != nil {
		return err
	}
	c.metadata = prm
	tokenURL, err := tokenEndpoint(ctx, c.client, prm.AuthorizationServers[0])
	if err != nil {
		return err
	}
	resource := prm.Resource
	if c.resource != "" {
		resource = c.resource
	}
	cfg := clientcredentials.Config{
		ClientID:       c.id,
		ClientSecret:   c.secret,
		TokenURL:       tokenURL,
		Scopes:         strings.Fields(scope),
		EndpointParams: url.Values{"resource": {resource}},
	}
	ts := cfg.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, c.client))
	if _, err := ts.Token(); err != nil {
		return err
	}
	c.ts = ts
	return nil
}

// tokenEndpoint reads the token endpoint from the RFC 8414 metadata of
// issuer. (The SDK's auth.GetAuthServerMetadata refuses servers that do not
// advertise PKCE, which a client_credentials-only server need not.)
func tokenEndpoint(ctx context.Context, client *http.Client, issuer string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(issuer, "/")+"/.well-known/oauth-authorization-server", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var asm oauthex.AuthServerMeta
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&asm); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("authorization server metadata: status %d, %v", resp.StatusCode, err)
	}
	if asm.Issuer != issuer || asm.TokenEndpoint == "" {
		return "", errors.New("authorization server metadata of another issuer, or without token endpoint")
	}
	return asm.TokenEndpoint, nil
}

func param(cs []oauthex.Challenge, name string) string {
	for _, c := range cs {
		if c.Scheme == "bearer" && c.Params[name] != "" {
			return c.Params[name]
		}
	}
	return ""
}

// connect connects the SDK's client to f's endpoint with h as its OAuth
// handler; the session is closed when the test ends.
func (f *fixture) connect(t *testing.T, h auth.OAuthHandler) (*mcp.ClientSession, *recorder, error) {
	t.Helper()
	rec := &recorder{base: f.srv.Client().Transport, endpoint: f.resource}
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "v0.0.1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:             f.resource,
		HTTPClient:           &http.Client{Transport: rec, Timeout: 10 * time.Second},
		OAuthHandler:         h,
		MaxRetries:           -1,
		DisableStandaloneSSE: true,
	}, nil)
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, rec, err
}

func (f *fixture) handler(id, secret string) *clientCredentials {
	return &clientCredentials{id: id, secret: secret, client: f.srv.Client()}
}

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// challengeOf parses the Bearer challenge of h.
func challengeOf(t *testing.T, h http.Header) map[string]string {
	t.Helper()
	cs, err := oauthex.ParseWWWAuthenticate(h.Values("WWW-Authenticate"))
	if err != nil || len(cs) != 1 || cs[0].Scheme != "bearer" {
		t.Fatalf("WWW-Authenticate %q: want one Bearer challenge (%v)", h.Values("WWW-Authenticate"), err)
	}
	return cs[0].Params
}

// TestUnauthenticated: a request without token gets 401 with a bare
// challenge pointing at the metadata, and the metadata there names this
// endpoint, its issuer and its scopes.
func TestUnauthenticated(t *testing.T) {
	f := start(t, nil)
	resp, err := f.srv.Client().Post(f.resource, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", resp.StatusCode)
	}
	ch := challengeOf(t, resp.Header)
	if _, ok := ch["error"]; ok {
		t.Errorf("challenge %v: a request without token gets no error code (RFC 6750 §3.1)", ch)
	}
	metadataURL := ch["resource_metadata"]
	if want := f.srv.URL + "/.well-known/oauth-protected-resource/mcp"; metadataURL != want {
		t.Fatalf("resource_metadata %q, want %q (RFC 9728 §3.1)", metadataURL, want)
	}

	resp, err = f.srv.Client().Get(metadataURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var prm oauthex.ProtectedResourceMetadata
	if err := json.NewDecoder(resp.Body).Decode(&prm); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("metadata: status %d, %v", resp.StatusCode, err)
	}
	if prm.Resource != f.resource || !slices.Equal(prm.AuthorizationServers, []string{f.kit.URL}) ||
		!slices.Equal(prm.ScopesSupported, []string{"notes:read", "notes:write"}) ||
		!slices.Equal(prm.BearerMethodsSupported, []string{"header"}) {
		t.Errorf("metadata %+v", prm)
	}
}

// TestClientCallsTools: the SDK's client, sent away with 401, follows
// resource_metadata, gets a token for the endpoint from the issuer and
// calls tools; the tools see the token's claims.
func TestClientCallsTools(t *testing.T) {
	f := start(t, nil)
	h := f.handler("writer", "writer-secret")
	cs, rec, err := f.connect(t, h)
	if err != nil {
		t.Fatal(err)
	}
	if h.metadata == nil || h.metadata.Resource != f.resource {
		t.Fatalf("the client read metadata %+v, want the endpoint's", h.metadata)
	}
	if seen := rec.exchanges(); len(seen) < 2 || seen[0].withToken || seen[0].status != http.StatusUnauthorized ||
		!seen[1].withToken || seen[1].status != http.StatusOK {
		t.Errorf("exchanges %+v: want 401 without token, then 200 with one", seen)
	}

	var who whoamiOut
	res := callTool(t, cs, "whoami", map[string]any{})
	if res.IsError || decode(t, res, &who) != nil || who.ClientID != "writer" || !slices.Contains(who.Scopes, "notes:write") {
		t.Errorf("whoami: error %t, %+v", res.IsError, who)
	}
	if res := callTool(t, cs, "add_note", map[string]any{"text": "hello"}); res.IsError {
		t.Error("add_note refused with notes:write")
	}
	var l listOut
	if res := callTool(t, cs, "list_notes", map[string]any{}); res.IsError || decode(t, res, &l) != nil || !slices.Equal(l.Notes, []string{"hello"}) {
		t.Errorf("list_notes: error %t, %+v", res.IsError, l)
	}
	if h.authorized != 1 {
		t.Errorf("the client authorized %d times, want 1", h.authorized)
	}
}

func decode(t *testing.T, res *mcp.CallToolResult, v any) error {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// TestToolScope: a tool whose scope the token lacks answers a tool error,
// while the tools its scopes allow work in the same session.
func TestToolScope(t *testing.T) {
	f := start(t, nil)
	cs, _, err := f.connect(t, f.handler("reader", "reader-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if res := callTool(t, cs, "add_note", map[string]any{"text": "nope"}); !res.IsError {
		t.Error("add_note ran without notes:write")
	}
	var l listOut
	if res := callTool(t, cs, "list_notes", map[string]any{}); res.IsError || decode(t, res, &l) != nil || len(l.Notes) != 0 {
		t.Errorf("list_notes: error %t, %+v (the refused add_note must not have run)", res.IsError, l)
	}
}

// TestOtherResource: a valid token the issuer made for another resource is
// refused with 401 invalid_token, resource_metadata still in the challenge.
func TestOtherResource(t *testing.T) {
	f := start(t, nil)
	h := f.handler("writer", "writer-secret")
	h.resource = "https://other.example.test/mcp"
	if _, _, err := f.connect(t, h); err == nil {
		t.Fatal("connected with a token for another resource")
	}
	_, rec, _ := f.connect(t, h) // h now holds the token: no new authorization needed
	seen := rec.exchanges()
	if len(seen) == 0 || !seen[0].withToken || seen[0].status != http.StatusUnauthorized {
		t.Fatalf("exchanges %+v: want 401 to the request with the token", seen)
	}
	ch := challengeOf(t, seen[0].header)
	if ch["error"] != middleware.CodeInvalidToken || ch["resource_metadata"] == "" {
		t.Errorf("challenge %v: want invalid_token and resource_metadata", ch)
	}
}

// TestIssuerDown: while the issuer's keys cannot be obtained, a request
// with a token is answered 503 with Retry-After, not 401, so the client is
// not sent to get another token.
func TestIssuerDown(t *testing.T) {
	f := start(t, func(kit *middlewaretest.Issuer) { kit.SetStatus(http.StatusInternalServerError) })
	token := f.kit.Token(middlewaretest.Spec{Machine: true, ClientID: "writer", Audience: []string{f.resource}, Scopes: []string{"notes:read"}})
	h := &staticToken{oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"}), 0}
	if _, _, err := f.connect(t, h); err == nil {
		t.Fatal("connected while the issuer is down")
	}
	if h.authorized != 0 {
		t.Error("the client was sent to authorize again")
	}
	resp := post(t, f, token)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After %q, want whole seconds >= 1", resp.Header.Get("Retry-After"))
	}
	if resp.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("WWW-Authenticate %q on a 503", resp.Header.Get("WWW-Authenticate"))
	}
}

// staticToken is an OAuth handler with a token fixed in advance.
type staticToken struct {
	ts         oauth2.TokenSource
	authorized int
}

func (s *staticToken) TokenSource(context.Context) (oauth2.TokenSource, error) { return s.ts, nil }

func (s *staticToken) Authorize(_ context.Context, _ *http.Request, resp *http.Response) error {
	resp.Body.Close()
	s.authorized++
	return errors.New("no other token")
}

// post sends an initialize request with token to f's endpoint.
func post(t *testing.T, f *fixture, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", f.resource, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
