// Command example is an MCP server (streamable HTTP) protected by
// bearerguard: a small notes service whose tools need OAuth 2.0 scopes.
//
// It serves its RFC 9728 protected-resource metadata, so an MCP client that
// is sent away with 401 learns where to get a token, and for which
// resource. Give it the issuer and the URL clients reach the endpoint at,
// which is also the audience its tokens must carry (RFC 8707):
//
//	go run ./example -issuer https://TENANT.eu.auth0.com/ -resource https://mcp.example.com/mcp
//
// Routes:
//
//	GET  /.well-known/oauth-protected-resource/mcp  public: the metadata document
//	GET  /health                                    public; "ready" tells whether the issuer's keys are loaded
//	/mcp                                            MCP over streamable HTTP: any valid access token
//
// Tools:
//
//	whoami      any valid token
//	list_notes  scope notes:read
//	add_note    scope notes:write
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bearerguard/bearerguard/adapters/mcpguard"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

func main() {
	// Every setting is a flag with an environment fallback, as in the other
	// examples.
	issuer := flag.String("issuer", os.Getenv("ISSUER_URL"), "issuer identifier, exactly as the tokens' \"iss\" claim has it (env ISSUER_URL)")
	resource := flag.String("resource", envOr("RESOURCE_URL", "http://127.0.0.1:8080/mcp"), "URL clients reach the MCP endpoint at; tokens must carry it in \"aud\" (env RESOURCE_URL)")
	audience := flag.String("audience", os.Getenv("AUDIENCE"), "further accepted audiences, comma-separated, for authorization servers that ignore RFC 8707 resource indicators (env AUDIENCE)")
	addr := flag.String("addr", envOr("ADDR", "127.0.0.1:8080"), "address to listen on (env ADDR)")
	flag.Parse()
	if *issuer == "" || *resource == "" {
		fmt.Fprintln(os.Stderr, "example: -issuer and -resource are required")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*issuer, *resource, list(*audience), *addr); err != nil {
		log.Fatal(err)
	}
}

func run(issuer, resource string, audiences []string, addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The validator fetches the issuer's keys until run returns.
	keysCtx, stopKeys := context.WithCancel(context.Background())
	defer stopKeys()
	v, err := middleware.New(keysCtx, middleware.Config{
		Issuer:    issuer,
		Audiences: append([]string{resource}, audiences...),
		Logger:    slog.Default(),
	})
	if err != nil {
		return err
	}
	h, err := newHandler(v, issuer, resource)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on http://%s, MCP endpoint %s\n", ln.Addr(), resource)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: MCP answers may be long-lived event streams.
		IdleTimeout: 2 * time.Minute,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Print("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler returns the whole server: the metadata document, the health
// check and the MCP endpoint at resource's path, behind v.
func newHandler(v *middleware.Validator, issuer, resource string) (http.Handler, error) {
	g, err := mcpguard.New(v, &oauthex.ProtectedResourceMetadata{
		Resource:             resource,
		AuthorizationServers: []string{issuer},
		ScopesSupported:      []string{"notes:read", "notes:write"},
		ResourceName:         "bearerguard notes example",
	})
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(resource)
	if err != nil {
		return nil, err
	}

	server := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "v0.1.0"}, nil)
	n := &notes{}
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Who the token was issued to"}, whoami)
	mcp.AddTool(server, &mcp.Tool{Name: "list_notes", Description: "List the notes"},
		mcpguard.RequireToolScope(n.list, "notes:read"))
	mcp.AddTool(server, &mcp.Tool{Name: "add_note", Description: "Add a note"},
		mcpguard.RequireToolScope(n.add, "notes:write"))
	endpoint := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{SessionTimeout: 30 * time.Minute})

	mux := http.NewServeMux()
	mux.Handle("GET "+g.MetadataPath(), g.MetadataHandler())
	mux.Handle("OPTIONS "+g.MetadataPath(), g.MetadataHandler()) // CORS preflight
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "ready": v.Ready() == nil})
	})
	path := u.Path
	if path == "" {
		path = "/"
	}
	mux.Handle(path, g.Authenticate(endpoint))
	return mux, nil
}

type whoamiOut struct {
	Subject  string   `json:"sub"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
}

// whoami needs no scope: the Guard let the request in with a valid token.
func whoami(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoamiOut, error) {
	c, ok := mcpguard.Claims(req.Extra.TokenInfo)
	if !ok {
		return nil, whoamiOut{}, errors.New("no token")
	}
	return nil, whoamiOut{Subject: c.Subject, ClientID: c.ClientID, Scopes: append([]string{}, c.Scopes...)}, nil
}

// notes is what this server manages. A real server would use a database.
type notes struct {
	mu   sync.Mutex
	text []string
}

type listOut struct {
	Notes []string `json:"notes"`
}

func (n *notes) list(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, listOut, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return nil, listOut{Notes: append([]string{}, n.text...)}, nil
}

type addIn struct {
	Text string `json:"text" jsonschema:"the note"`
}

type addOut struct {
	Count int `json:"count"`
}

func (n *notes) add(ctx context.Context, req *mcp.CallToolRequest, in addIn) (*mcp.CallToolResult, addOut, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.text = append(n.text, in.Text)
	return nil, addOut{Count: len(n.text)}, nil
}

// envOr returns the environment variable key, or def if it is unset or empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// list splits a comma-separated flag value, dropping empty entries.
func list(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
