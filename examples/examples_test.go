// Package examples_test builds every example program and runs it as a user
// would: the quickstart story, the three framework APIs against the
// conformance suite over a real loopback socket, and the M2M client against
// the net/http API.
package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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

// TestFrameworkExamples runs the conformance suite against each example API
// over a real socket.
func TestFrameworkExamples(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"nethttp", "echo", "gin"} {
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

func TestMissingSettings(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"nethttp", "echo", "gin"} {
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

// waitReady polls GET /health until it reports that the issuer's keys are
// loaded.
func waitReady(t *testing.T, base string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		var health struct {
			Ready bool `json:"ready"`
		}
		resp, err := client.Get(base + "/health")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&health)
			resp.Body.Close()
		}
		if err == nil && health.Ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/health not ready within %v (last error: %v)", base, startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
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
