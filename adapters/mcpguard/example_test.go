package mcpguard_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/bearerguard/bearerguard/adapters/mcpguard"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

type addNoteIn struct {
	Text string `json:"text"`
}

func addNote(ctx context.Context, req *mcp.CallToolRequest, in addNoteIn) (*mcp.CallToolResult, any, error) {
	return nil, nil, nil
}

// A Guard in front of the SDK's streamable HTTP handler, with the
// protected-resource metadata beside it and a scope per tool. (The README's
// "MCP servers" snippet is this function's body, checked by TestReadme.)
func Example() {
	// A context already done: the example does not reach the issuer.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    "https://tenant.eu.auth0.com/",
		Audiences: []string{"https://mcp.example.com/mcp"},
	})
	if err != nil {
		log.Fatal(err)
	}
	g, err := mcpguard.New(v, &oauthex.ProtectedResourceMetadata{
		Resource:             "https://mcp.example.com/mcp",
		AuthorizationServers: []string{"https://tenant.eu.auth0.com/"},
		ScopesSupported:      []string{"notes:read", "notes:write"},
	})
	if err != nil {
		log.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "v1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "add_note"}, mcpguard.RequireToolScope(addNote, "notes:write"))

	mux := http.NewServeMux()
	mux.Handle("GET "+g.MetadataPath(), g.MetadataHandler())
	mux.Handle("/mcp", g.Authenticate(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)))

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("POST", "https://mcp.example.com/mcp", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
}
