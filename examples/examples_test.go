// Package examples_test builds every example program and runs it as a user
// would: the quickstart story, the four framework APIs against the
// conformance suite over a real loopback socket, and the M2M client against
// the net/http API.
package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/internal/conformance"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

// startTimeout bounds the wait for a program's "listening on" line and for
// its readiness.
const startTimeout = 30 * time.Second

func TestQuickstart(t *testing.T) {
	t.Parallel()
	bin := build(t, "quickstart")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-exit").CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart -exit: %v\n%s", err, out)
	}
	// The four steps, in order, with the challenge of each refusal.
	want := []string{
		"Step 1.", "got 200 OK",
		"Step 2.", "got 403 Forbidden", `WWW-Authenticate: Bearer error="insufficient_scope"`, `scope="write:users"`,
		"Step 3.", "got 401 Unauthorized", "WWW-Authenticate: Bearer\n",
		"Step 4.", "got 401 Unauthorized", `WWW-Authenticate: Bearer error="invalid_token"`,
		"All 4 steps got the expected answer.",
	}
	rest := string(out)
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("quickstart output lacks %q after the earlier steps:\n%s", w, out)
		}
		rest = rest[i+len(w):]
	}
	if strings.Contains(string(out), "FAILED") {
		t.Errorf("quickstart output reports a failure:\n%s", out)
	}
}

// TestQuickstartServing: after its story the quickstart keeps serving and
// says how to stop it (Ctrl-C, or -exit next time). The commands it prints
// keep the client secret out of command-line arguments, and work: the
// example client, given the printed environment, reads users.
func TestQuickstartServing(t *testing.T) {
	t.Parallel()
	bin := build(t, "quickstart")
	client := build(t, "m2mclient")
	p := start(t, nil, bin)
	const last = "go run ./examples/m2mclient "
	if !poll(time.Minute, func() bool { return strings.Contains(p.out.String(), last) }) {
		t.Fatalf("no m2mclient command in the quickstart's output:\n%s", p.out.String())
	}
	out := p.out.String()
	for _, w := range []string{"keeps running until Ctrl-C", "-exit"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}

	// The secret is printed once, as an environment assignment.
	var env []string
	var secret, m2m string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			env = strings.Fields(rest)
			for _, kv := range env {
				if v, ok := strings.CutPrefix(kv, "CLIENT_SECRET="); ok {
					secret = v
				}
			}
		}
		if rest, ok := strings.CutPrefix(line, last); ok {
			m2m = rest
		}
	}
	if secret == "" {
		t.Fatalf("no export CLIENT_SECRET=... line:\n%s", out)
	}
	if n := strings.Count(out, secret); n != 1 {
		t.Errorf("the client secret appears %d times; want once, in the export line:\n%s", n, out)
	}
	if strings.Contains(out, "-client-secret") {
		t.Errorf("a command passes -client-secret:\n%s", out)
	}

	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, client, strings.Fields(m2m)...)
	cmd.Env = append(cleanEnv(), env...)
	got, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(got), "HTTP 200 OK") {
		t.Errorf("the printed m2mclient command: %v\n%s", err, got)
	}
}

// TestFrameworkExamples runs the conformance suite against each example API
// over a real socket.
func TestFrameworkExamples(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"nethttp", "echo", "echo5", "gin"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bin := build(t, name)
			iss := middlewaretest.NewIssuer()
			t.Cleanup(iss.Close)
			// Cases creates the issuer's keys for every algorithm it uses:
			// call it before the program fetches the JWK Set.
			cases := conformance.Cases(iss)
			p := start(t, nil, bin, "-issuer="+iss.URL, "-audience="+conformance.Audience, "-addr=127.0.0.1:0")
			base := p.waitListening(t)
			waitReady(t, base)
			conformance.RunURL(t, base, cases)
		})
	}
}

// TestEnvironmentAndScopeClaims configures an example through the
// environment only, reading scopes from Auth0's "permissions" claim.
func TestEnvironmentAndScopeClaims(t *testing.T) {
	t.Parallel()
	bin := build(t, "nethttp")
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	p := start(t, []string{
		"ISSUER_URL=" + iss.URL,
		"AUDIENCE=" + conformance.Audience,
		"ADDR=127.0.0.1:0",
		"SCOPE_CLAIMS=permissions",
	}, bin)
	base := p.waitListening(t)
	waitReady(t, base)

	cases := []struct {
		name   string
		claims map[string]any
		want   int
	}{
		{"permissions claim", map[string]any{"permissions": []string{"read:users"}}, http.StatusOK},
		{"scope claim not read", map[string]any{"scope": "read:users"}, http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			token := iss.Token(middlewaretest.Spec{Claims: c.claims})
			if got := get(t, base+"/users", token); got != c.want {
				t.Errorf("GET /users: status %d, want %d", got, c.want)
			}
		})
	}
}

// TestReadiness: /ready answers 503 while the issuer's keys cannot be had
// and 200 once they are loaded; /health (liveness) answers 200 throughout,
// so that an issuer outage does not get the process restarted.
func TestReadiness(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"nethttp", "echo", "echo5", "gin"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bin := build(t, name)
			iss := middlewaretest.NewIssuer()
			t.Cleanup(iss.Close)
			iss.SetStatus(http.StatusInternalServerError)
			p := start(t, nil, bin, "-issuer="+iss.URL, "-audience="+conformance.Audience, "-addr=127.0.0.1:0")
			base := p.waitListening(t)
			if got := status(t, base+"/ready"); got != http.StatusServiceUnavailable {
				t.Errorf("issuer down: GET /ready %d, want 503", got)
			}
			if got := status(t, base+"/health"); got != http.StatusOK {
				t.Errorf("issuer down: GET /health %d, want 200", got)
			}
			if got := get(t, base+"/users", iss.Token(middlewaretest.Spec{Scopes: []string{"read:users"}})); got != http.StatusServiceUnavailable {
				t.Errorf("issuer down: GET /users with a token %d, want 503", got)
			}
			iss.SetStatus(0)
			waitReady(t, base)
			if got := status(t, base+"/health"); got != http.StatusOK {
				t.Errorf("ready: GET /health %d, want 200", got)
			}
		})
	}
}

func TestMissingSettings(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"nethttp", "echo", "echo5", "gin"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bin := build(t, name)
			cmd := exec.CommandContext(t.Context(), bin)
			cmd.Env = cleanEnv()
			out, err := cmd.CombinedOutput()
			if exit, ok := errors.AsType[*exec.ExitError](err); !ok || exit.ExitCode() != 2 {
				t.Errorf("without -issuer and -audience: %v, want exit status 2\n%s", err, out)
			}
		})
	}
}

func TestM2MClient(t *testing.T) {
	t.Parallel()
	client := build(t, "m2mclient")
	api := build(t, "nethttp")
	iss := middlewaretest.NewIssuer()
	t.Cleanup(iss.Close)
	iss.AddClient(middlewaretest.Client{ID: "reports-worker", Secret: "reports-secret", Scopes: []string{"read:users"}})
	iss.AddClient(middlewaretest.Client{ID: "writer", Secret: "writer-secret", Scopes: []string{"write:users"}, Profile: middlewaretest.Auth0})
	p := start(t, nil, api, "-issuer="+iss.URL, "-audience="+conformance.Audience, "-addr=127.0.0.1:0")
	base := p.waitListening(t)
	waitReady(t, base)

	cases := []struct {
		name     string
		args     []string
		wantExit int
		want     string
	}{
		{"Auth0 style audience", []string{"-client-id=reports-worker", "-client-secret=reports-secret", "-audience=" + conformance.Audience}, 0, "HTTP 200 OK"},
		{"Logto style resource", []string{"-client-id=reports-worker", "-client-secret=reports-secret", "-resource=" + conformance.Audience}, 0, "HTTP 200 OK"},
		{"scope requested", []string{"-client-id=reports-worker", "-client-secret=reports-secret", "-audience=" + conformance.Audience, "-scope=read:users"}, 0, "HTTP 200 OK"},
		{"insufficient scope", []string{"-client-id=writer", "-client-secret=writer-secret", "-audience=" + conformance.Audience}, 1, `error="insufficient_scope"`},
		{"wrong secret", []string{"-client-id=reports-worker", "-client-secret=wrong", "-audience=" + conformance.Audience}, 1, "invalid_client"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"-token-url=" + iss.TokenURL(), "-api=" + base + "/users"}, c.args...)
			ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, client, args...)
			cmd.Env = cleanEnv()
			out, err := cmd.CombinedOutput()
			code := 0
			if exit, ok := errors.AsType[*exec.ExitError](err); ok {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.wantExit || !strings.Contains(string(out), c.want) {
				t.Errorf("exit status %d, want %d, and output with %q:\n%s", code, c.wantExit, c.want, out)
			}
		})
	}
}

// TestM2MClientRefusesPlainHTTP: a token endpoint or API over plain http
// outside loopback would get the client secret or the token in the clear:
// m2mclient refuses it before sending anything.
func TestM2MClientRefusesPlainHTTP(t *testing.T) {
	t.Parallel()
	client := build(t, "m2mclient")
	cases := []struct {
		name     string
		tokenURL string
		api      string
	}{
		{"token endpoint over http", "http://auth.example.com/oauth/token", "https://api.example.com/users"},
		{"API over http", "https://auth.example.com/oauth/token", "http://api.example.com/users"},
		{"private address over http", "http://10.0.0.1/oauth/token", "https://api.example.com/users"},
		{"loopback-looking host name", "http://127.0.0.1.example.com/oauth/token", "https://api.example.com/users"},
		{"not http at all", "ftp://auth.example.com/token", "https://api.example.com/users"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), client, "-token-url="+c.tokenURL, "-client-id=id", "-api="+c.api)
			cmd.Env = append(cleanEnv(), "CLIENT_SECRET=secret")
			out, err := cmd.CombinedOutput()
			if exit, ok := errors.AsType[*exec.ExitError](err); !ok || exit.ExitCode() != 2 {
				t.Errorf("%v, want exit status 2\n%s", err, out)
			}
			if strings.Contains(string(out), "token request") {
				t.Errorf("a token was requested:\n%s", out)
			}
		})
	}
}

// build compiles the example in directory pkg into a temporary directory
// and returns the path of the binary.
func build(t *testing.T, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), pkg)
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./"+pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./examples/%s: %v\n%s", pkg, err, out)
	}
	return bin
}

// cleanEnv is the test's environment without the settings the examples
// read, so that the caller's shell cannot change a test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "ISSUER_URL", "AUDIENCE", "ADDR", "SCOPE_CLAIMS", "TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET":
		default:
			env = append(env, kv)
		}
	}
	return env
}

// proc is a running example program.
type proc struct {
	cmd       *exec.Cmd
	out       syncBuffer    // stdout and stderr, for failure messages
	listening chan string   // the URL of the "listening on" line
	done      chan struct{} // closed when the program has exited
	err       error         // the result of Wait, once done is closed
}

// start runs bin with args and extra environment variables. At cleanup it
// interrupts the program, as Ctrl-C does, and checks that it shuts down
// cleanly; it kills the program if it does not exit within ten seconds.
func start(t *testing.T, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{
		cmd:       exec.Command(bin, args...),
		listening: make(chan string, 1),
		done:      make(chan struct{}),
	}
	p.cmd.Env = append(cleanEnv(), env...)
	p.cmd.Stderr = &p.out
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.out.Write([]byte(line + "\n"))
			if url, ok := strings.CutPrefix(line, "listening on "); ok {
				select {
				case p.listening <- url:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.err = p.cmd.Wait()
	}()

	t.Cleanup(func() {
		select {
		case <-p.done:
			t.Errorf("%s exited early: %v\n%s", filepath.Base(bin), p.err, p.out.String())
			return
		default:
		}
		interrupted := p.cmd.Process.Signal(os.Interrupt) == nil
		if !interrupted {
			_ = p.cmd.Process.Kill()
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			t.Errorf("%s did not exit within 10 s of an interrupt\n%s", filepath.Base(bin), p.out.String())
			return
		}
		if interrupted && p.err != nil {
			t.Errorf("%s did not shut down cleanly: %v\n%s", filepath.Base(bin), p.err, p.out.String())
		}
	})
	return p
}

// waitListening returns the base URL printed by the program.
func (p *proc) waitListening(t *testing.T) string {
	t.Helper()
	select {
	case url := <-p.listening:
		return url
	case <-p.done:
		t.Fatalf("program exited before listening: %v\n%s", p.err, p.out.String())
	case <-time.After(startTimeout):
		t.Fatalf("no \"listening on\" line within %v\n%s", startTimeout, p.out.String())
	}
	return ""
}

// waitReady polls GET /ready until it answers 200: the issuer's keys are
// loaded.
func waitReady(t *testing.T, base string) {
	t.Helper()
	if !poll(startTimeout, func() bool { return status(t, base+"/ready") == http.StatusOK }) {
		t.Fatalf("%s/ready not 200 within %v", base, startTimeout)
	}
}

// poll calls cond until it is true or d has passed, and reports whether it
// became true.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// status sends GET url without a token and returns the status, or 0 if
// the request failed.
func status(t *testing.T, url string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// get sends GET url with a bearer token and returns the status.
func get(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
