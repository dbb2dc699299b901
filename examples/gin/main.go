// Command gin is the users API of examples/nethttp written with Gin,
// protected by bearerguard's ginguard adapter.
//
//	go run ./examples/gin -issuer https://TENANT.eu.auth0.com/ -audience https://api.example.com
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
// A refused request is aborted with the RFC 6750 answer, and the cause is
// recorded with c.Error for your logging middleware (c.Errors).
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

	"github.com/gin-gonic/gin"

	"github.com/bearerguard/bearerguard/adapters/ginguard"
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
		fmt.Fprintln(os.Stderr, "gin: -issuer and -audience are required")
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
	guard, err := ginguard.New(keysCtx, ginguard.Config{
		Issuer:      issuer,
		Audiences:   audiences,
		ScopeClaims: scopeClaims,    // nil means the default: "scope" and "scp"
		Logger:      slog.Default(), // key fetch problems; refusal causes at debug level
	})
	if err != nil {
		return err
	}

	// Gin's debug mode prints every route at start-up; GIN_MODE=debug
	// brings it back.
	if os.Getenv("GIN_MODE") == "" {
		gin.SetMode(gin.ReleaseMode)
	}
	r := gin.New()
	r.Use(gin.Recovery())
	// Liveness and readiness are two routes: an orchestrator restarts a
	// process whose liveness fails, and only holds traffic back from one
	// that is not ready. An issuer outage must not cause restarts.
	r.GET("/health", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/ready", func(c *gin.Context) {
		// Why keys are missing goes to the log (logReady), not to anonymous
		// callers.
		if guard.Validator().Ready() != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"ready": false})
			return
		}
		c.JSON(http.StatusOK, gin.H{"ready": true})
	})
	// Route middleware comes before the handler in Gin's route methods.
	r.GET("/me", guard.Authenticate(), me)
	r.GET("/users", guard.RequireScope("read:users"), listUsers)
	r.POST("/users", guard.RequireScope("write:users"), createUser)
	// Either "admin" alone, or both "users:write" and "users:delete".
	r.DELETE("/users/:id", guard.RequireScope("admin", "users:write users:delete"), deleteUser)
	r.GET("/optional", guard.AuthenticateOptional(), optional)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// Scripts and tests read this line to learn the port picked for port 0.
	fmt.Printf("listening on http://%s\n", ln.Addr())
	go logReady(ctx, guard)

	// A Gin engine is an http.Handler: serve it with net/http's server,
	// which knows how to shut down gracefully.
	srv := &http.Server{
		Handler: r,
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

// me answers with who is calling: the verified claims of the token.
func me(c *gin.Context) {
	cl, ok := ginguard.Claims(c)
	if !ok {
		// Only if the route was registered without Authenticate.
		c.JSON(http.StatusInternalServerError, gin.H{"error": "no claims: is the route guarded?"})
		return
	}
	c.JSON(http.StatusOK, gin.H{
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

func listUsers(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"users": []user{{"1", "Ada Lovelace"}, {"2", "Alan Turing"}}})
}

func createUser(c *gin.Context) {
	var u user
	if c.Request.ContentLength != 0 {
		if err := c.ShouldBindJSON(&u); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "the body must be a JSON user"})
			return
		}
	}
	u.ID = "3" // a real API would store the user and pick an ID
	c.JSON(http.StatusOK, u)
}

func deleteUser(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"deleted": c.Param("id")})
}

// optional greets anonymous callers and callers with a valid token alike.
// A request with an invalid token never gets here.
func optional(c *gin.Context) {
	if cl, ok := ginguard.Claims(c); ok {
		c.JSON(http.StatusOK, gin.H{"sub": cl.Subject})
		return
	}
	c.JSON(http.StatusOK, gin.H{"anonymous": true})
}

// logReady logs once the issuer's keys are loaded. Until then, requests
// with a token are answered 503 with Retry-After.
func logReady(ctx context.Context, guard *ginguard.Guard) {
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
