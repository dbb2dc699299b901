// Command quickstart shows bearerguard at work with one command and no
// account anywhere:
//
//	go run ./examples/quickstart
//
// It starts a development authorization server (package middlewaretest:
// discovery, JWKS and a client credentials token endpoint) and the users API
// of examples/nethttp on loopback, then plays a machine-to-machine story:
//
//  1. a client allowed read:users gets a token and reads users: 200;
//  2. it tries to create a user, which needs write:users: 403
//     insufficient_scope;
//  3. a request without a token: 401;
//  4. an ID token sent as an access token: 401 invalid_token.
//
// Then it keeps serving, and prints curl commands with fresh tokens, until
// Ctrl-C or SIGTERM. With -exit it stops after the story; either way the exit
// status is 1 if a step did not get the expected answer. The client secret
// it prints goes in the environment, never in a command's arguments.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/bearerguard/bearerguard/claims"
	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// audience identifies the API: the "aud" its tokens must carry.
const audience = "https://api.example.test"

func main() {
	exit := flag.Bool("exit", false, "exit after the story instead of serving until Ctrl-C")
	addr := flag.String("addr", "127.0.0.1:0", "address of the API; port 0 picks a free port")
	flag.Parse()
	if err := run(*exit, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(exit bool, addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The authorization server. In production this is Auth0, Logto,
	// Keycloak...: the API only needs its issuer URL.
	iss := middlewaretest.NewIssuer()
	defer iss.Close()
	reader := middlewaretest.Client{ID: "reports-worker", Secret: rand.Text(), Scopes: []string{"read:users"}}
	admin := middlewaretest.Client{ID: "user-admin", Secret: rand.Text(), Scopes: []string{"read:users", "write:users", "admin"}}
	iss.AddClient(reader)
	iss.AddClient(admin)

	// The API, protected by bearerguard. The validator's key refresh lives
	// as long as keysCtx.
	keysCtx, stopKeys := context.WithCancel(context.Background())
	defer stopKeys()
	v, err := middleware.New(keysCtx, middleware.Config{Issuer: iss.URL, Audiences: []string{audience}})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: api(v),
		// Every timeout is set, as a production server needs: the zero
		// value of each is "no limit", so a slow client would hold a
		// connection and a goroutine for as long as it likes.
		ReadHeaderTimeout: 10 * time.Second,  // a client trickling its headers (Slowloris)
		ReadTimeout:       30 * time.Second,  // headers and body together
		WriteTimeout:      30 * time.Second,  // the handler and the response, from the end of the headers
		IdleTimeout:       120 * time.Second, // a keep-alive connection waiting for its next request
	}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	fmt.Println("bearerguard quickstart: an authorization server and a protected API, both on this machine.")
	fmt.Println()
	fmt.Printf("  issuer  %s  (development server: discovery, JWKS, token endpoint)\n", iss.URL)
	fmt.Printf("  API     %s  (net/http + bearerguard, audience %s)\n", base, audience)

	readyCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := v.WaitReady(readyCtx); err != nil {
		return fmt.Errorf("the API did not load the issuer's keys: %w", err)
	}
	fmt.Printf("  the API loaded the issuer's signing keys from %s\n", iss.JWKSURL())

	s := story{ctx: ctx, base: base}
	s.play(iss, reader)
	if s.failed > 0 {
		return fmt.Errorf("%d of %d steps did not get the expected answer", s.failed, s.steps)
	}
	fmt.Printf("\nAll %d steps got the expected answer.\n", s.steps)
	if exit {
		return nil
	}

	// Keep serving, and show how to try it by hand.
	readerToken, err1 := clientConfig(iss, reader).Token(ctx)
	adminToken, err2 := clientConfig(iss, admin).Token(ctx)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("fresh tokens: %v %v", err1, err2)
	}
	fmt.Printf(`
The API keeps running until Ctrl-C (run with -exit to stop after the story).
Try it from another terminal (tokens are valid for an hour; they are in curl's
arguments here, which is fine for this development issuer only):

  READER=%s
  ADMIN=%s

  curl -i %[3]s/me -H "Authorization: Bearer $READER"
  curl -i %[3]s/users -H "Authorization: Bearer $READER"
  curl -i -X POST %[3]s/users -H "Authorization: Bearer $READER" -d '{"name":"Grace Hopper"}'   # 403
  curl -i -X POST %[3]s/users -H "Authorization: Bearer $ADMIN" -d '{"name":"Grace Hopper"}'    # 200
  curl -i -X DELETE %[3]s/users/2 -H "Authorization: Bearer $ADMIN"
  curl -i %[3]s/optional

Get a token yourself, as a machine client does (client_credentials, RFC 6749 §4.4).
The client secret stays out of command-line arguments, which other users of the
machine can read (ps): it goes in the environment, and to curl on stdin:

  export CLIENT_ID=%[4]s CLIENT_SECRET=%[5]s
  printf 'grant_type=client_credentials&audience=%%s&client_id=%%s&client_secret=%%s' %[6]s "$CLIENT_ID" "$CLIENT_SECRET" | curl -s -d @- %[7]s

or with the example client, which reads CLIENT_ID and CLIENT_SECRET from the environment:

  go run ./examples/m2mclient -token-url %[7]s -audience %[8]s -scope read:users -api %[3]s/users
`, readerToken.AccessToken, adminToken.AccessToken, base, reader.ID, reader.Secret, url.QueryEscape(audience), iss.TokenURL(), audience)
	<-ctx.Done()
	fmt.Println("\nstopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// clientConfig is how a machine client asks for a token: client
// credentials grant, naming the API with Auth0's "audience" parameter.
func clientConfig(iss *middlewaretest.Issuer, c middlewaretest.Client) *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID:       c.ID,
		ClientSecret:   c.Secret,
		TokenURL:       iss.TokenURL(),
		Scopes:         c.Scopes,
		EndpointParams: url.Values{"audience": {audience}},
	}
}

// story plays the steps and counts those that did not go as expected.
type story struct {
	ctx           context.Context
	base          string
	steps, failed int
}

func (s *story) play(iss *middlewaretest.Issuer, reader middlewaretest.Client) {
	s.step(`The client %q, allowed only read:users, gets a token from the token endpoint.`, reader.ID)
	fmt.Printf("  POST %s  grant_type=client_credentials audience=%s scope=read:users\n", iss.TokenURL(), audience)
	tok, err := clientConfig(iss, reader).Token(s.ctx)
	if err != nil {
		fmt.Printf("  FAILED: token request: %v\n", err)
		s.failed++
		return
	}
	fmt.Printf("  got a %s token, scope %q, expires in %s\n", tok.Type(), tok.Extra("scope"), time.Until(tok.Expiry).Round(time.Minute))
	fmt.Println("  It reads the users:")
	s.call(http.MethodGet, "/users", tok.AccessToken, "the access token", http.StatusOK, "")

	s.step("The same client tries to create a user, which needs write:users.")
	s.call(http.MethodPost, "/users", tok.AccessToken, "the access token", http.StatusForbidden, `error="insufficient_scope"`)

	s.step("Someone calls the API without a token.")
	s.call(http.MethodGet, "/users", "", "", http.StatusUnauthorized, "Bearer")

	s.step("A web app sends the ID token it got at login, instead of an access token.")
	idToken := iss.Token(middlewaretest.Spec{Kind: middlewaretest.IDToken, Subject: "alice", ClientID: "web-app", Audience: []string{audience}})
	s.call(http.MethodGet, "/me", idToken, "the ID token", http.StatusUnauthorized, `error="invalid_token"`)
}

func (s *story) step(format string, args ...any) {
	s.steps++
	fmt.Printf("\nStep %d. %s\n", s.steps, fmt.Sprintf(format, args...))
}

// call sends one request with token, described as what, and checks the
// answer's status and, if challenge is not empty, that the WWW-Authenticate
// header contains it.
func (s *story) call(method, path, token, what string, want int, challenge string) {
	req, err := http.NewRequestWithContext(s.ctx, method, s.base+path, nil)
	if err != nil {
		panic(err)
	}
	auth := "(no Authorization header)"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
		auth = "Authorization: Bearer <" + what + ">"
	}
	if method == http.MethodPost {
		req.Body = io.NopCloser(strings.NewReader(`{"name":"Grace Hopper"}`))
		req.Header.Set("Content-Type", "application/json")
	}
	fmt.Printf("  %s %s  %s\n", method, path, auth)

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Printf("  FAILED: %v\n", err)
		s.failed++
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))

	www := resp.Header.Get("WWW-Authenticate")
	ok := resp.StatusCode == want && strings.Contains(www, challenge)
	mark := "as expected"
	if !ok {
		mark = fmt.Sprintf("FAILED: expected %d", want)
		if challenge != "" {
			mark += " with " + challenge
		}
		s.failed++
	}
	fmt.Printf("  got %s  (%s)\n", resp.Status, mark)
	if www != "" {
		fmt.Printf("    WWW-Authenticate: %s\n", www)
	}
	fmt.Printf("    %s\n", strings.TrimSpace(string(body)))
}

// api is the users API of examples/nethttp, in brief.
func api(v *middleware.Validator) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if v.Ready() != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]bool{"ready": false})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
	})
	mux.Handle("GET /me", v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := claims.FromContext(r.Context())
		if !ok {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "no claims: is the route guarded?"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"sub": c.Subject, "client_id": c.ClientID, "scopes": append([]string{}, c.Scopes...)})
	})))
	mux.Handle("GET /users", v.RequireScope("read:users")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"users": []map[string]string{{"id": "1", "name": "Ada Lovelace"}, {"id": "2", "name": "Alan Turing"}}})
	})))
	mux.Handle("POST /users", v.RequireScope("write:users")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u struct {
			Name string `json:"name"`
		}
		_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&u)
		writeJSON(w, http.StatusOK, map[string]string{"id": "3", "name": u.Name})
	})))
	mux.Handle("DELETE /users/{id}", v.RequireScope("admin", "users:write users:delete")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("id")})
	})))
	mux.Handle("GET /optional", v.AuthenticateOptional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := claims.FromContext(r.Context()); ok {
			writeJSON(w, http.StatusOK, map[string]string{"sub": c.Subject})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"anonymous": true})
	})))
	return mux
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
