// An MCP server protected by mcpguard.
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bearerguard/bearerguard/adapters/mcpguard"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

func main() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const resource = "http://127.0.0.1/mcp"
	v, err := middleware.New(ctx, middleware.Config{Issuer: iss.URL, Audiences: []string{resource}})
	if err != nil {
		panic(err)
	}
	g, err := mcpguard.New(v, &oauthex.ProtectedResourceMetadata{Resource: resource, AuthorizationServers: []string{iss.URL}})
	if err != nil {
		panic(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "v1.0.0"}, nil)
	mux := http.NewServeMux()
	mux.Handle("GET "+g.MetadataPath(), g.MetadataHandler())
	mux.Handle("/mcp", g.Authenticate(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)))

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", g.MetadataPath(), nil))
	fmt.Println("metadata:", w.Code)
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("POST", "/mcp", strings.NewReader("{}")))
	fmt.Println("no token:", w.Code, strings.Contains(w.Header().Get("WWW-Authenticate"), "resource_metadata="))
}
