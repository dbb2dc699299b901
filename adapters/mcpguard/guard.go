package mcpguard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// wellKnown is the well-known URI suffix of RFC 9728 §3.
const wellKnown = "/.well-known/oauth-protected-resource"

// Guard protects the streamable HTTP endpoint of an MCP server with a
// bearerguard [middleware.Validator] and serves the endpoint's RFC 9728
// protected-resource metadata. A Guard is immutable and safe for concurrent
// use.
type Guard struct {
	v           *middleware.Validator
	metadata    oauthex.ProtectedResourceMetadata
	metadataURL string
	sdk         func(http.Handler) http.Handler
}

// New returns a Guard for the MCP endpoint described by m, whose tokens v
// checks.
//
// m.Resource is required: the canonical URL of the MCP endpoint, exactly as
// clients connect to it (for example https://mcp.example.com/mcp), an https
// URL or http on a loopback host, without query or fragment. It must be one
// of v's Config.Audiences: MCP clients request tokens for it (RFC 8707) and
// check that the metadata names it (RFC 9728 §3.3). m.AuthorizationServers
// is required too (the MCP specification asks for at least one): the
// issuers v trusts. The Guard publishes the metadata: leave v's
// Config.Resource unset (it is for APIs that are not MCP servers). If it
// is set, it must name the same resource, or New refuses it; challenges
// then carry the validator's resource_metadata, the same URL. m.BearerMethodsSupported defaults to ["header"], the
// only method MCP allows. Other fields are served as given. New copies m.
//
// Every error matches [middleware.ErrInvalidConfig].
func New(v *middleware.Validator, m *oauthex.ProtectedResourceMetadata) (*Guard, error) {
	if v == nil {
		return nil, configError("a validator is required")
	}
	if m == nil {
		return nil, configError("protected-resource metadata is required")
	}
	u, err := url.Parse(m.Resource)
	switch {
	case m.Resource == "" || err != nil || u.Host == "":
		return nil, configError("metadata Resource must be the absolute URL of the MCP endpoint")
	case u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname())):
		return nil, configError("metadata Resource must be an https URL, or http on a loopback host")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, configError("metadata Resource must have no query, fragment or user information")
	case len(m.AuthorizationServers) == 0:
		return nil, configError("metadata AuthorizationServers must name at least one issuer")
	}
	g := &Guard{v: v, metadata: *m}
	g.metadata.AuthorizationServers = slices.Clone(m.AuthorizationServers)
	g.metadata.ScopesSupported = slices.Clone(m.ScopesSupported)
	g.metadata.BearerMethodsSupported = slices.Clone(m.BearerMethodsSupported)
	if len(g.metadata.BearerMethodsSupported) == 0 {
		g.metadata.BearerMethodsSupported = []string{"header"}
	}
	// RFC 9728 §3.1: the well-known suffix goes between the host and the
	// path, a terminating slash removed.
	mu := url.URL{Scheme: u.Scheme, Host: u.Host, Path: wellKnown + strings.TrimSuffix(u.Path, "/")}
	g.metadataURL = mu.String()
	if core := v.ResourceMetadataURL(); core != "" && core != g.metadataURL {
		// The challenges would point at the core's document, the Guard
		// serves its own elsewhere: clients would find the wrong one.
		return nil, configError("the validator's Config.Resource names another resource than metadata Resource: set one of them only (for an MCP server, metadata Resource)")
	}
	// Behind bearerguard, the SDK's own middleware only puts the verified
	// token into the context under the SDK's key (auth.TokenInfoFromContext
	// has no setter). bearerguard has already decided on expiry, with its
	// leeway, so the SDK's second look at it must not contradict that.
	g.sdk = auth.RequireBearerToken(fromContext, &auth.RequireBearerTokenOptions{
		AllowMissingExpiration: true,
		ClockSkew:              middleware.MaxLeeway,
	})
	return g, nil
}

func configError(msg string) error {
	return fmt.Errorf("%w: mcpguard: %s", middleware.ErrInvalidConfig, msg)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Authenticate returns a handler that lets a request through to next, the
// SDK's streamable HTTP handler, only with a valid access token, whatever
// its scopes. next finds the token as [claims.FromContext] and as the SDK's
// auth.TokenInfoFromContext; tool handlers find it in req.Extra.TokenInfo.
func (g *Guard) Authenticate(next http.Handler) http.Handler {
	return g.handler(next, middleware.Policy{})
}

// RequireScope returns a middleware that lets a request through only with
// a valid access token granted one of the alternatives, as
// [middleware.Validator.RequireScope]: every request to the endpoint needs
// it, whichever tool it calls. A token without it is answered 403 with an
// insufficient_scope challenge naming the scope, which MCP clients use to
// ask for it (step-up authorization). Per-tool scopes are
// [RequireToolScope]'s. RequireScope panics if an alternative is invalid.
func (g *Guard) RequireScope(alternatives ...string) func(http.Handler) http.Handler {
	p := middleware.ScopePolicy(alternatives...)
	return func(next http.Handler) http.Handler { return g.handler(next, p) }
}

func (g *Guard) handler(next http.Handler, p middleware.Policy) http.Handler {
	sdk := g.sdk(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := g.v.Check(r, p)
		if err != nil {
			g.writeError(w, err)
			return
		}
		g.v.SetSuccessHeaders(w.Header(), r) // a fresh DPoP-Nonce when one is due
		sdk.ServeHTTP(w, r.WithContext(claims.NewContext(r.Context(), c)))
	})
}

// fromContext is the SDK's verifier behind a Guard: the token has been
// verified, its claims are in the context.
func fromContext(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
	c, ok := claims.FromContext(ctx)
	if !ok {
		return nil, auth.ErrInvalidToken
	}
	return TokenInfo(c), nil
}

// writeError answers as [middleware.Validator.WriteError] does, with
// resource_metadata in the challenge.
func (g *Guard) writeError(w http.ResponseWriter, err error) {
	var e *middleware.Error
	if !errors.As(err, &e) { // Check returns only *Error; be safe anyway
		e = middleware.NewError(middleware.ErrInvalidToken, "", err)
	}
	g.v.SetHeaders(w.Header(), e)
	if c := g.challenge(e); c != "" {
		w.Header().Set("WWW-Authenticate", c)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e.Body())
}

// challenge is the core's challenge for e with resource_metadata
// (RFC 9728 §5.1) added to it. This is the seam for the core's own
// support of RFC 9728: once the validator's challenges carry
// resource_metadata themselves, they are used unchanged.
func (g *Guard) challenge(e *middleware.Error) string {
	c := g.v.Challenge(e)
	if c == "" || strings.Contains(c, "resource_metadata=") {
		return c
	}
	attr := `resource_metadata="` + g.metadataURL + `"`
	if c == "Bearer" {
		return "Bearer " + attr
	}
	return c + ", " + attr
}

// MetadataURL returns the URL of the protected-resource metadata
// (RFC 9728 §3.1), sent as resource_metadata in challenges, for example
// https://mcp.example.com/.well-known/oauth-protected-resource/mcp for the
// resource https://mcp.example.com/mcp.
func (g *Guard) MetadataURL() string { return g.metadataURL }

// MetadataPath returns the path of [Guard.MetadataURL], to register
// [Guard.MetadataHandler] at:
//
//	mux.Handle(g.MetadataPath(), g.MetadataHandler())
func (g *Guard) MetadataPath() string {
	u, _ := url.Parse(g.metadataURL) // built by New
	return u.Path
}

// MetadataHandler returns a handler serving the protected-resource metadata
// document (RFC 9728 §3.2) to GET requests, with CORS headers so that
// browser-based clients can read it. It is public: register it without
// authentication. Today it is the SDK's auth.ProtectedResourceMetadataHandler;
// once bearerguard's core serves RFC 9728 metadata itself, it will be the
// core's handler.
func (g *Guard) MetadataHandler() http.Handler {
	return auth.ProtectedResourceMetadataHandler(&g.metadata)
}
