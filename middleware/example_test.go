package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// Protect routes with any valid access token, one scope, or alternatives
// of scopes. The test issuer stands in for Auth0, Keycloak, Entra ID, ...
func ExampleNew() {
	issuer := middlewaretest.NewIssuer()
	defer issuer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the validator's key refresh before the issuer closes

	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    issuer.URL,                           // https in production
		Audiences: []string{"https://api.example.test"}, // this API
	})
	if err != nil {
		panic(err)
	}
	// Optional: a readiness probe. Without it the first requests wait
	// briefly for the keys, then get 503.
	if err := v.WaitReady(ctx); err != nil {
		panic(err)
	}

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		fmt.Fprint(w, "hello ", c.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /me", v.Authenticate(hello))
	mux.Handle("GET /users", v.RequireScope("read:users")(hello))
	// "admin", or both "users:write" and "users:delete".
	mux.Handle("DELETE /users/{id}", v.RequireScope("admin", "users:write users:delete")(hello))

	reader := issuer.Token(middlewaretest.Spec{Subject: "alice", Scopes: []string{"read:users"}})
	writer := issuer.Token(middlewaretest.Spec{Subject: "bob", Scopes: []string{"users:write", "users:delete"}})

	// call sends a request and prints the status, the challenge and the body.
	call := func(h http.Handler, method, path, token string) {
		r := httptest.NewRequest(method, path, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), strings.TrimSpace(w.Body.String()))
	}
	call(mux, "GET", "/me", reader)
	call(mux, "GET", "/users", reader)
	call(mux, "DELETE", "/users/1", writer)
	call(mux, "DELETE", "/users/1", reader)
	call(mux, "GET", "/me", "")
	// Output:
	// 200  hello alice
	// 200  hello alice
	// 200  hello bob
	// 403 Bearer error="insufficient_scope", error_description="the token lacks the required scope", scope="admin users:write users:delete" {"error":"insufficient_scope","error_description":"the token lacks the required scope","scope":"admin users:write users:delete"}
	// 401 Bearer {"error":"unauthorized","error_description":"a bearer token is required"}
}

// AuthenticateOptional lets anonymous requests through, but still refuses
// a bad token.
func ExampleValidator_AuthenticateOptional() {
	issuer := middlewaretest.NewIssuer()
	defer issuer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{Issuer: issuer.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		panic(err)
	}

	h := v.AuthenticateOptional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := claims.FromContext(r.Context()); ok {
			fmt.Fprint(w, "hello ", c.Subject)
			return
		}
		fmt.Fprint(w, "hello stranger")
	}))
	// call sends a request and prints the status, the challenge and the body.
	call := func(h http.Handler, method, path, token string) {
		r := httptest.NewRequest(method, path, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), strings.TrimSpace(w.Body.String()))
	}
	call(h, "GET", "/", "")
	call(h, "GET", "/", issuer.Token(middlewaretest.Spec{Subject: "alice"}))
	call(h, "GET", "/", issuer.Token(middlewaretest.Spec{Kind: middlewaretest.IDToken}))
	// Output:
	// 200  hello stranger
	// 200  hello alice
	// 401 Bearer error="invalid_token", error_description="the token is not an access token" {"error":"invalid_token","error_description":"the token is not an access token"}
}

// ValidateToken checks a token obtained some other way, such as from a
// WebSocket subprotocol. Errors match a category and a specific sentinel.
func ExampleValidator_ValidateToken() {
	issuer := middlewaretest.NewIssuer()
	defer issuer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{Issuer: issuer.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		panic(err)
	}

	c, err := v.ValidateToken(ctx, issuer.Token(middlewaretest.Spec{Machine: true, ClientID: "billing", Scopes: []string{"invoices:read"}}))
	if err != nil {
		panic(err)
	}
	fmt.Println(c.ClientID, c.Machine, c.Scopes)

	_, err = v.ValidateToken(ctx, issuer.Token(middlewaretest.Spec{Lifetime: -time.Hour}))
	fmt.Println(errors.Is(err, middleware.ErrInvalidToken), errors.Is(err, middleware.ErrTokenExpired))
	var e *middleware.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code)
	}
	// Output:
	// billing true [invoices:read]
	// true true
	// 401 invalid_token
}

// Handlers read the verified claims from the request's context, including
// custom claims decoded into their own struct.
func Example_claimsFromContext() {
	issuer := middlewaretest.NewIssuer()
	defer issuer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{Issuer: issuer.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		panic(err)
	}

	h := v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := claims.FromContext(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		var custom struct {
			OrgID string `json:"org_id"`
		}
		if err := c.Decode(&custom); err != nil {
			http.Error(w, "bad claims", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s of %s via %s, scopes %v", c.Subject, custom.OrgID, c.ClientID, c.Scopes)
	}))
	// call sends a request and prints the status, the challenge and the body.
	call := func(h http.Handler, method, path, token string) {
		r := httptest.NewRequest(method, path, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), strings.TrimSpace(w.Body.String()))
	}
	call(h, "GET", "/", issuer.Token(middlewaretest.Spec{
		Subject: "alice", ClientID: "web-app", Scopes: []string{"openid", "read:users"},
		Claims: map[string]any{"org_id": "org_42"},
	}))
	// Output:
	// 200  alice of org_42 via web-app, scopes [openid read:users]
}

// Config.Validate adds the application's own rules. A plain error refuses
// the token with 401 invalid_token; NewError chooses the answer.
func ExampleConfig_validate() {
	issuer := middlewaretest.NewIssuer()
	defer issuer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    issuer.URL,
		Audiences: []string{"https://api.example.test"},
		Validate: func(ctx context.Context, c *claims.Claims) error {
			org, _ := c.Lookup("org_id")
			switch org {
			case nil:
				return errors.New("no organization") // logged, never sent
			case "org_blocked":
				return middleware.NewError(middleware.ErrInsufficientScope, "organization suspended", nil)
			}
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	h := v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))

	// call sends a request and prints the status, the challenge and the body.
	call := func(h http.Handler, method, path, token string) {
		r := httptest.NewRequest(method, path, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), strings.TrimSpace(w.Body.String()))
	}
	call(h, "GET", "/", issuer.Token(middlewaretest.Spec{Claims: map[string]any{"org_id": "org_42"}}))
	call(h, "GET", "/", issuer.Token(middlewaretest.Spec{}))
	call(h, "GET", "/", issuer.Token(middlewaretest.Spec{Claims: map[string]any{"org_id": "org_blocked"}}))
	// Output:
	// 200  ok
	// 401 Bearer error="invalid_token", error_description="the token claims are not accepted" {"error":"invalid_token","error_description":"the token claims are not accepted"}
	// 403 Bearer error="insufficient_scope", error_description="organization suspended" {"error":"insufficient_scope","error_description":"organization suspended"}
}

// Providers put scopes in different claims: choose ScopeClaims to match.
// Auth0 RBAC uses "permissions", Keycloak "realm_access.roles", Entra ID
// application roles "roles"; Amazon Cognito access tokens have no "aud",
// so ClientIDs replaces Audiences.
func ExampleConfig_scopeClaims() {
	issuer := middlewaretest.NewIssuer()
	defer issuer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keycloak, err := middleware.New(ctx, middleware.Config{
		Issuer:      issuer.URL,
		Audiences:   []string{"https://api.example.test"},
		ScopeClaims: []string{"realm_access.roles"},
	})
	if err != nil {
		panic(err)
	}
	c, err := keycloak.ValidateToken(ctx, issuer.Token(middlewaretest.Spec{Profile: middlewaretest.Keycloak, Scopes: []string{"reports"}, Claims: map[string]any{"scope": nil}}))
	fmt.Println(c.Scopes, err)

	cognito, err := middleware.New(ctx, middleware.Config{
		Issuer:    issuer.URL,
		ClientIDs: []string{"test-client"},
	})
	if err != nil {
		panic(err)
	}
	c, err = cognito.ValidateToken(ctx, issuer.Token(middlewaretest.Spec{Profile: middlewaretest.Cognito, Scopes: []string{"reports"}}))
	fmt.Println(c.ClientID, c.Scopes, err)
	// Output:
	// [reports] <nil>
	// test-client [reports] <nil>
}

// Ask for a stronger or fresher user authentication on sensitive routes
// (RFC 9470): the client takes acr_values and max_age from the challenge
// into its next authorization request.
func ExampleValidator_Require() {
	issuer := middlewaretest.NewIssuer()
	defer issuer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    issuer.URL,
		Audiences: []string{"https://api.example.test"},
	})
	if err != nil {
		panic(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		panic(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "transferred") })
	// A multi-factor authentication within the last five minutes.
	transfer := v.Require(middleware.Policy{
		ACRValues: []string{"urn:example:mfa"},
		MaxAge:    5 * time.Minute,
	})(ok)

	for _, c := range []map[string]any{
		{"acr": "urn:example:pwd", "auth_time": time.Now().Unix()},
		{"acr": "urn:example:mfa", "auth_time": time.Now().Add(-time.Hour).Unix()},
		{"acr": "urn:example:mfa", "auth_time": time.Now().Add(-time.Minute).Unix()},
	} {
		r := httptest.NewRequest(http.MethodPost, "/transfers", nil)
		r.Header.Set("Authorization", "Bearer "+issuer.Token(middlewaretest.Spec{Claims: c}))
		w := httptest.NewRecorder()
		transfer.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 401 Bearer error="insufficient_user_authentication", error_description="a stronger user authentication is required", acr_values="urn:example:mfa", max_age="300" {"error":"insufficient_user_authentication","error_description":"a stronger user authentication is required"}
	// 401 Bearer error="insufficient_user_authentication", error_description="a more recent user authentication is required", acr_values="urn:example:mfa", max_age="300" {"error":"insufficient_user_authentication","error_description":"a more recent user authentication is required"}
	// 200  transferred
}

// Publish protected resource metadata (RFC 9728) so that clients, such as
// MCP clients, discover the authorization server from the 401 challenge.
func ExampleValidator_ResourceMetadataHandler() {
	issuer := middlewaretest.NewIssuer()
	defer issuer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    issuer.URL,
		Audiences: []string{"https://api.example.test/mcp"},
		Resource:  "https://api.example.test/mcp", // one of Audiences
		ResourceMetadata: middleware.ResourceMetadata{
			ScopesSupported: []string{"tools:read"},
			ResourceName:    "Example MCP server",
		},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle(v.ResourceMetadataPath(), v.ResourceMetadataHandler())
	mux.Handle("/mcp", v.Authenticate(http.NotFoundHandler()))

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/mcp", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))

	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource/mcp", nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Println(strings.Replace(strings.TrimSpace(w.Body.String()), issuer.URL, "ISSUER", 1))
	// Output:
	// 401 Bearer resource_metadata="https://api.example.test/.well-known/oauth-protected-resource/mcp"
	// 200 application/json
	// {"resource":"https://api.example.test/mcp","authorization_servers":["ISSUER"],"scopes_supported":["tools:read"],"bearer_methods_supported":["header"],"resource_name":"Example MCP server"}
}

// Restrict routes by claim values: an Organization, RBAC permissions read
// apart from the scopes, and a route's own check. Which to choose: a
// scope is what a client asks for (RequireScope, 403 insufficient_scope);
// a claim requirement is what the authorization server decided about the
// user or client (RequireClaim, 403 insufficient_claims with the claim
// and its values in the challenge); a check is any other rule, whose
// details stay private.
func ExampleValidator_RequireClaim() {
	issuer := middlewaretest.NewIssuer()
	defer issuer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{Issuer: issuer.URL, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		panic(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		panic(err)
	}

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux := http.NewServeMux()
	// Auth0 Organization.
	mux.Handle("GET /orgs/acme/invoices", v.RequireClaim("org_id", "org_acme")(ok))
	// Auth0 RBAC: "admin", or both "read:users" and "write:users".
	mux.Handle("PUT /users/{id}", v.RequireClaim("permissions", "admin", "read:users write:users")(ok))
	// A rule of the application's own.
	mux.Handle("GET /reports", v.Require(middleware.Policy{
		Check: func(ctx context.Context, c *claims.Claims) error {
			if c.Machine {
				return errors.New("reports are for users") // logged, never sent
			}
			return nil
		},
	})(ok))

	member := issuer.Token(middlewaretest.Spec{Claims: map[string]any{"org_id": "org_acme", "permissions": []string{"read:users"}}})
	machine := issuer.Token(middlewaretest.Spec{Machine: true, Scopes: []string{"admin"}})
	call := func(method, path, token string) {
		r := httptest.NewRequest(method, path, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Header().Get("WWW-Authenticate"))))
	}
	call("GET", "/orgs/acme/invoices", member)
	call("GET", "/orgs/acme/invoices", machine)
	call("PUT", "/users/1", member)
	call("PUT", "/users/1", machine) // a scope is not a permission
	call("GET", "/reports", member)
	call("GET", "/reports", machine)
	// Output:
	// 200
	// 403 Bearer error="insufficient_claims", error_description="the token lacks a claim the resource requires", claim="org_id", claim_values="org_acme"
	// 403 Bearer error="insufficient_claims", error_description="the token lacks a claim value the resource requires", claim="permissions", claim_values="admin read:users write:users"
	// 403 Bearer error="insufficient_claims", error_description="the token lacks a claim the resource requires", claim="permissions", claim_values="admin read:users write:users"
	// 200
	// 403 Bearer error="insufficient_claims", error_description="the token is not authorized for the resource"
}

// A browser app that keeps the access token in an HttpOnly cookie: name the
// cookie in Config.TokenCookie. The Authorization header still works; a
// token sent both ways is refused, and so is a cookie that is not a token.
// With AllowUnauthenticatedPreflight, CORS preflights (which carry no
// cookie or header) reach the CORS handler behind the guard.
func ExampleConfig_tokenCookie() {
	issuer := middlewaretest.NewIssuer()
	defer issuer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	v, err := middleware.New(ctx, middleware.Config{
		Issuer:                        issuer.URL,
		Audiences:                     []string{"https://api.example.test"},
		TokenCookie:                   "access_token",
		AllowUnauthenticatedPreflight: true,
	})
	if err != nil {
		panic(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		panic(err)
	}
	h := v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			fmt.Fprint(w, "preflight answered") // a CORS handler would set its headers here
			return
		}
		c, _ := claims.FromContext(r.Context())
		fmt.Fprint(w, "hello ", c.Subject)
	}))
	token := issuer.Token(middlewaretest.Spec{Subject: "alice"})

	call := func(method string, header ...string) {
		r := httptest.NewRequest(method, "/me", nil)
		for i := 0; i < len(header); i += 2 {
			r.Header.Add(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	call("GET", "Cookie", "theme=dark; access_token="+token)
	call("GET", "Cookie", "access_token="+token, "Authorization", "Bearer "+token)
	call("GET", "Cookie", "access_token=not%20a%20token")
	call("OPTIONS", "Origin", "https://app.example.test", "Access-Control-Request-Method", "DELETE")
	call("OPTIONS")
	// Output:
	// 200 hello alice
	// 400 {"error":"invalid_request","error_description":"the token was sent more than once"}
	// 400 {"error":"invalid_request","error_description":"malformed credentials"}
	// 200 preflight answered
	// 401 {"error":"unauthorized","error_description":"a bearer token is required"}
}

// An API that accepts both JWT and opaque access tokens of one issuer: a
// compact JWS is verified with the issuer's keys, anything else is
// introspected (RFC 7662). Both answer to the same scopes.
func ExampleIntrospection() {
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	iss.AddClient(middlewaretest.Client{ID: "api", Secret: "api-secret"})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:     iss.URL,
		Audiences:  []string{"https://api.example.test"},
		HTTPClient: iss.Client(), // the test issuer's; omit in production
		Introspection: &middleware.Introspection{
			ClientID:     "api",
			ClientSecret: "api-secret",
			CacheTTL:     30 * time.Second, // 0 (the default) asks every time
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := v.WaitReady(ctx); err != nil {
		log.Fatal(err)
	}
	h := v.RequireScope("read:users")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		fmt.Fprintln(w, "hello", c.Subject)
	}))

	revoked := iss.OpaqueToken(middlewaretest.Spec{Scopes: []string{"read:users"}})
	iss.Revoke(revoked)
	for _, token := range []string{
		iss.Token(middlewaretest.Spec{Scopes: []string{"read:users"}}),       // a JWT
		iss.OpaqueToken(middlewaretest.Spec{Scopes: []string{"read:users"}}), // an opaque token
		iss.OpaqueToken(middlewaretest.Spec{Scopes: []string{"write:users"}}),
		revoked,
	} {
		r := httptest.NewRequest(http.MethodGet, "/users", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Print(w.Code, " ", w.Body.String())
	}
	// Output:
	// 200 hello user-123
	// 200 hello user-123
	// 403 {"error":"insufficient_scope","error_description":"the token lacks the required scope","scope":"read:users"}
	// 401 {"error":"invalid_token","error_description":"the token is not active"}
}
