// Command nethttp is a small users API protected by bearerguard with nothing
// but the standard library's net/http.
//
// The same binary works against any OAuth 2.0 authorization server that
// issues JWT access tokens: give it the issuer and the identifier of this API.
//
//	go run ./examples/nethttp -issuer https://TENANT.eu.auth0.com/ -audience https://api.example.com
//
// Routes:
//
//	GET    /health      public liveness: 200 while the process serves
//	GET    /ready       public readiness: 503 until the issuer's keys are loaded, then 200
//	GET    /me          any valid access token
//	GET    /users       scope read:users
//	POST   /users       scope write:users
//	DELETE /users/{id}  scope admin, or both users:write and users:delete
//	GET    /optional    a token is optional
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
)

func main() {
	// Every setting is a flag with an environment fallback, so the same
	// binary runs against Auth0, Logto or a local issuer.
	issuer := flag.String("issuer", os.Getenv("ISSUER_URL"), "issuer identifier, exactly as the tokens' \"iss\" claim has it (env ISSUER_URL)")
	audience := flag.String("audience", os.Getenv("AUDIENCE"), "identifier of this API, one of the tokens' \"aud\" values; comma-separated for several (env AUDIENCE)")
	addr := flag.String("addr", envOr("ADDR", "127.0.0.1:8080"), "address to listen on; port 0 picks a free port (env ADDR)")
	scopeClaims := flag.String("scope-claims", os.Getenv("SCOPE_CLAIMS"), "comma-separated claims holding the granted scopes, e.g. scope,permissions for Auth0 RBAC (default scope,scp; env SCOPE_CLAIMS)")
	flag.Parse()
	if *issuer == "" || *audience == "" {
		fmt.Fprintln(os.Stderr, "nethttp: -issuer and -audience are required")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*issuer, list(*audience), *addr, list(*scopeClaims)); err != nil {
		log.Fatal(err)
	}
}

func run(issuer string, audiences []string, addr string, scopeClaims []string) error {
	// Stop on Ctrl-C (SIGINT) or SIGTERM (docker stop, Kubernetes).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The validator fetches the issuer's keys in a background goroutine that
	// lives as long as keysCtx: until run returns, after the server drained.
	keysCtx, stopKeys := context.WithCancel(context.Background())
	defer stopKeys()
	v, err := middleware.New(keysCtx, middleware.Config{
		Issuer:      issuer,
		Audiences:   audiences,
		ScopeClaims: scopeClaims,    // nil means the default: "scope" and "scp"
		Logger:      slog.Default(), // key fetch problems; refusal causes at debug level
	})
	if err != nil {
		return err
	}

	// Go 1.22+ patterns carry the method and path wildcards such as {id}.
	// Each protected route wraps its handler in one of the validator's
	// middlewares.
	mux := http.NewServeMux()
	// Liveness and readiness are two routes: an orchestrator restarts a
	// process whose liveness fails, and only holds traffic back from one
	// that is not ready. An issuer outage must not cause restarts.
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		// Why keys are missing goes to the log (logReady), not to anonymous
		// callers.
		if v.Ready() != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]bool{"ready": false})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
	})
	mux.Handle("GET /me", v.Authenticate(http.HandlerFunc(me)))
	mux.Handle("GET /users", v.RequireScope("read:users")(http.HandlerFunc(listUsers)))
	mux.Handle("POST /users", v.RequireScope("write:users")(http.HandlerFunc(createUser)))
	// Either "admin" alone, or both "users:write" and "users:delete".
	mux.Handle("DELETE /users/{id}", v.RequireScope("admin", "users:write users:delete")(http.HandlerFunc(deleteUser)))
	mux.Handle("GET /optional", v.AuthenticateOptional(http.HandlerFunc(optional)))

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// Scripts and tests read this line to learn the port picked for port 0.
	fmt.Printf("listening on http://%s\n", ln.Addr())
	go logReady(ctx, v)

	srv := &http.Server{
		Handler: mux,
		// Every timeout is set: the zero value of each is "no limit", so a
		// client that sends or reads slowly would hold a connection and a
		// goroutine for as long as it likes.
		ReadHeaderTimeout: 10 * time.Second,  // a client trickling its headers (Slowloris)
		ReadTimeout:       30 * time.Second,  // headers and body together
		WriteTimeout:      30 * time.Second,  // the handler and the response, from the end of the headers
		IdleTimeout:       120 * time.Second, // a keep-alive connection waiting for its next request
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}

	// Graceful shutdown: stop accepting, let requests in flight finish.
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

// me answers with who is calling. Authenticate put the verified claims of
// the token in the request's context.
func me(w http.ResponseWriter, r *http.Request) {
	c, ok := claims.FromContext(r.Context())
	if !ok {
		// Only if the route was registered without Authenticate.
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "no claims: is the route guarded?"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sub":       c.Subject,
		"client_id": c.ClientID,
		"scopes":    nonNil(c.Scopes),
	})
}

// user is what this API manages. A real API would keep users in a database.
type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func listUsers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"users": []user{{"1", "Ada Lovelace"}, {"2", "Alan Turing"}}})
}

func createUser(w http.ResponseWriter, r *http.Request) {
	var u user
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&u); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be a JSON user"})
		return
	}
	u.ID = "3" // a real API would store the user and pick an ID
	writeJSON(w, http.StatusOK, u)
}

func deleteUser(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("id")})
}

// optional greets anonymous callers and callers with a valid token alike.
// A request with an invalid token never gets here.
func optional(w http.ResponseWriter, r *http.Request) {
	if c, ok := claims.FromContext(r.Context()); ok {
		writeJSON(w, http.StatusOK, map[string]string{"sub": c.Subject})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"anonymous": true})
}

// logReady logs once the issuer's keys are loaded. Until then, requests
// with a token are answered 503 with Retry-After.
func logReady(ctx context.Context, v *middleware.Validator) {
	first, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if v.WaitReady(first) != nil {
		if ctx.Err() != nil {
			return
		}
		log.Print("issuer keys not loaded yet: is -issuer right and reachable? Requests with a token get 503 until they are")
		if v.WaitReady(ctx) != nil {
			return
		}
	}
	log.Print("ready: issuer keys loaded")
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
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
