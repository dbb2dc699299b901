// Command echo5 is the users API of examples/nethttp written with Echo v5,
// protected by bearerguard's echo5guard adapter (examples/echo is the same
// with Echo v4).
//
//	go run ./examples/echo5 -issuer https://TENANT.eu.auth0.com/ -audience https://api.example.com
//
// Routes:
//
//	GET    /health     public liveness: 200 while the process serves
//	GET    /ready      public readiness: 503 until the issuer's keys are loaded, then 200
//	GET    /me         any valid access token
//	GET    /users      scope read:users
//	POST   /users      scope write:users
//	DELETE /users/:id  scope admin, or both users:write and users:delete
//	GET    /optional   a token is optional
//
// A refused request makes the guard return an error with its status code
// (echo.HTTPStatusCoder) and JSON body: Echo's error handler (the default
// one here, or yours) writes the RFC 6750 answer, and the error unwraps to
// the *echo5guard.Error with the cause, for your logs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/bearerguard/bearerguard/adapters/echo5guard"
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
		fmt.Fprintln(os.Stderr, "echo5: -issuer and -audience are required")
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

	// The guard fetches the issuer's keys in a background goroutine that
	// lives as long as keysCtx: until run returns, after the server drained.
	keysCtx, stopKeys := context.WithCancel(context.Background())
	defer stopKeys()
	guard, err := echo5guard.New(keysCtx, echo5guard.Config{
		Issuer:      issuer,
		Audiences:   audiences,
		ScopeClaims: scopeClaims,    // nil means the default: "scope" and "scp"
		Logger:      slog.Default(), // key fetch problems; refusal causes at debug level
	})
	if err != nil {
		return err
	}

	e := echo.New()
	// Liveness and readiness are two routes: an orchestrator restarts a
	// process whose liveness fails, and only holds traffic back from one
	// that is not ready. An issuer outage must not cause restarts.
	e.GET("/health", func(c *echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/ready", func(c *echo.Context) error {
		// Why keys are missing goes to the log (logReady), not to anonymous
		// callers.
		if guard.Validator().Ready() != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]bool{"ready": false})
		}
		return c.JSON(http.StatusOK, map[string]bool{"ready": true})
	})
	// Route middleware comes after the handler in Echo's route methods.
	e.GET("/me", me, guard.Authenticate())
	e.GET("/users", listUsers, guard.RequireScope("read:users"))
	e.POST("/users", createUser, guard.RequireScope("write:users"))
	// Either "admin" alone, or both "users:write" and "users:delete".
	e.DELETE("/users/:id", deleteUser, guard.RequireScope("admin", "users:write users:delete"))
	e.GET("/optional", optional, guard.AuthenticateOptional())

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// Scripts and tests read this line to learn the port picked for port 0.
	fmt.Printf("listening on http://%s\n", ln.Addr())
	go logReady(ctx, guard)

	// An Echo v5 app is an http.Handler: served by an http.Server whose
	// timeouts are all set. The zero value of each is "no limit", so a
	// client that sends or reads slowly would hold a connection and a
	// goroutine for as long as it likes.
	srv := &http.Server{
		Handler:           e,
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

// me answers with who is calling: the verified claims of the token.
func me(c *echo.Context) error {
	cl, ok := echo5guard.Claims(c)
	if !ok {
		// Only if the route was registered without Authenticate.
		return echo.NewHTTPError(http.StatusInternalServerError, "no claims: is the route guarded?")
	}
	return c.JSON(http.StatusOK, map[string]any{
		"sub":       cl.Subject,
		"client_id": cl.ClientID,
		"scopes":    nonNil(cl.Scopes),
	})
}

// user is what this API manages. A real API would keep users in a database.
type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func listUsers(c *echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"users": []user{{"1", "Ada Lovelace"}, {"2", "Alan Turing"}}})
}

func createUser(c *echo.Context) error {
	var u user
	if c.Request().ContentLength != 0 {
		if err := c.Bind(&u); err != nil {
			return err
		}
	}
	u.ID = "3" // a real API would store the user and pick an ID
	return c.JSON(http.StatusOK, u)
}

func deleteUser(c *echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"deleted": c.Param("id")})
}

// optional greets anonymous callers and callers with a valid token alike.
// A request with an invalid token never gets here.
func optional(c *echo.Context) error {
	if cl, ok := echo5guard.Claims(c); ok {
		return c.JSON(http.StatusOK, map[string]string{"sub": cl.Subject})
	}
	return c.JSON(http.StatusOK, map[string]bool{"anonymous": true})
}

// logReady logs once the issuer's keys are loaded. Until then, requests
// with a token are answered 503 with Retry-After.
func logReady(ctx context.Context, guard *echo5guard.Guard) {
	first, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if guard.Validator().WaitReady(first) != nil {
		if ctx.Err() != nil {
			return
		}
		log.Print("issuer keys not loaded yet: is -issuer right and reachable? Requests with a token get 503 until they are")
		if guard.Validator().WaitReady(ctx) != nil {
			return
		}
	}
	log.Print("ready: issuer keys loaded")
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
