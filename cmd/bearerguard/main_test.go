package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/middleware/middlewaretest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const audience = "https://api.example.test"

// now is the fixed clock of the golden tests.
var now = time.Date(2030, time.March, 1, 12, 0, 0, 0, time.UTC)

// result is one run of the command.
type result struct {
	code   int
	stdout string
	stderr string
}

func runCmd(t *testing.T, e env, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, e)
	t.Logf("bearerguard %s -> %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return result{code, out.String(), errOut.String()}
}

// checkLine returns the status explain printed for a check: PASS, FAIL,
// ---- or skip.
func checkLine(out, check string) string {
	m := regexp.MustCompile(`(?m)^  (PASS|FAIL|----|skip)  ` + regexp.QuoteMeta(check) + ` `).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

// answer returns the status line of the HTTP answer explain printed.
func answer(out string) string {
	_, after, _ := strings.Cut(out, "HTTP answer of the middleware:\n")
	line, _, _ := strings.Cut(after, "\n")
	return strings.TrimSpace(line)
}

func TestExplainKit(t *testing.T) {
	t.Parallel()
	kit := middlewaretest.NewIssuer()
	t.Cleanup(kit.Close)
	down := middlewaretest.NewIssuer()
	downToken := down.Token(middlewaretest.Spec{IssuedAt: now})
	down.Close()
	e := env{now: func() time.Time { return now }}
	tok := func(s middlewaretest.Spec) string {
		if s.IssuedAt.IsZero() {
			s.IssuedAt = now
		}
		return kit.Token(s)
	}
	tests := []struct {
		name      string
		issuer    string
		token     string
		scope     string
		code      int
		failed    string // the check explain reports FAIL, "" for none
		status    string
		challenge string // a part of WWW-Authenticate
	}{
		{name: "good token", token: tok(middlewaretest.Spec{Scopes: []string{"read:users"}}), scope: "read:users",
			code: exitOK, status: "200 OK"},
		{name: "wrong audience", token: tok(middlewaretest.Spec{Audience: []string{"https://other.example.test"}}),
			code: exitRefused, failed: "audience", status: "401 Unauthorized", challenge: `error="invalid_token"`},
		{name: "expired", token: tok(middlewaretest.Spec{IssuedAt: now.Add(-2 * time.Hour), Lifetime: time.Hour}),
			code: exitRefused, failed: "times", status: "401 Unauthorized", challenge: `error="invalid_token"`},
		{name: "ID token", token: tok(middlewaretest.Spec{Kind: middlewaretest.IDToken, Audience: []string{audience}}),
			code: exitRefused, failed: "type", status: "401 Unauthorized", challenge: `error="invalid_token"`},
		{name: "unknown kid", token: tok(middlewaretest.Spec{Header: map[string]any{"kid": "no-such-key"}}),
			code: exitRefused, failed: "key", status: "401 Unauthorized", challenge: `error="invalid_token"`},
		{name: "missing scope", token: tok(middlewaretest.Spec{Scopes: []string{"read:users"}}), scope: "delete:users",
			code: exitRefused, failed: "scope", status: "403 Forbidden", challenge: `error="insufficient_scope"`},
		{name: "issuer down", issuer: down.URL, token: downToken,
			code: exitUnavailable, failed: "key", status: "503 Service Unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			issuer := tc.issuer
			if issuer == "" {
				issuer = kit.URL
			}
			args := []string{"explain", "-issuer", issuer, "-audience", audience, "-wait", "10s"}
			if tc.scope != "" {
				args = append(args, "-scope", tc.scope)
			}
			res := runCmd(t, e, "", append(args, tc.token)...)
			if res.code != tc.code {
				t.Errorf("exit code %d, want %d", res.code, tc.code)
			}
			if got := answer(res.stdout); got != tc.status {
				t.Errorf("answer %q, want %q", got, tc.status)
			}
			if tc.challenge != "" && !strings.Contains(res.stdout, "WWW-Authenticate: Bearer ") || !strings.Contains(res.stdout, tc.challenge) {
				t.Errorf("no WWW-Authenticate with %s", tc.challenge)
			}
			if tc.failed == "" {
				for _, c := range []string{"parse", "header", "type", "issuer", "key", "signature", "times", "binding", "audience", "scope"} {
					if got := checkLine(res.stdout, c); got != "PASS" {
						t.Errorf("check %s: %q, want PASS", c, got)
					}
				}
				return
			}
			if got := checkLine(res.stdout, tc.failed); got != "FAIL" {
				t.Errorf("check %s: %q, want FAIL", tc.failed, got)
			}
			if strings.Count(res.stdout, "  FAIL  ") != 1 {
				t.Errorf("%d checks FAIL, want 1", strings.Count(res.stdout, "  FAIL  "))
			}
			if tc.failed != "scope" && checkLine(res.stdout, "claims") != "----" {
				t.Errorf("check claims: %q after a failure, want ---- (not reached)", checkLine(res.stdout, "claims"))
			}
			if strings.Contains(res.stdout, tc.token) {
				t.Error("explain printed the token")
			}
		})
	}
	t.Run("issuer down says why", func(t *testing.T) {
		t.Parallel()
		res := runCmd(t, e, "", "explain", "-issuer", down.URL, "-audience", audience, downToken)
		if !strings.Contains(res.stdout, "issuer keys:\n  issuer "+down.URL+": ") {
			t.Errorf("no per-issuer cause")
		}
	})
	t.Run("token from stdin", func(t *testing.T) {
		t.Parallel()
		res := runCmd(t, e, tok(middlewaretest.Spec{})+"\n", "explain", "-issuer", kit.URL, "-audience", audience)
		if res.code != exitOK {
			t.Errorf("exit code %d, want 0", res.code)
		}
	})
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"explain", "-audience", audience, "a.b.c"},
		{"explain", "-issuer", "https://issuer.example.test", "a.b.c"},
		{"explain", "-issuer", "ftp://issuer.example.test", "-audience", audience, "a.b.c"},
		{"explain", "-issuer", "https://issuer.example.test", "-audience", audience, "-scope", "a\"b", "a.b.c"},
		{"decode", "a", "b"},
		{"explain", "-issuer", "https://issuer.example.test", "-audience", audience, "-claim", "org_id", "a.b.c"},
		{"explain", "-issuer", "https://issuer.example.test", "-audience", audience, "-claim", "org_id= ", "a.b.c"},
		{"explain", "-issuer", "https://issuer.example.test", "-audience", audience, "-dpop", "sometimes", "a.b.c"},
		{"explain", "-issuer", "https://issuer.example.test", "-audience", audience, "-dpop-proof", "/no/such/file", "a.b.c"},
		{"explain", "-issuer", "https://issuer.example.test", "-audience", audience, "-client-cert", "/no/such/file", "a.b.c"},
		{"explain", "-issuer", "https://issuer.example.test", "-audience", audience, "-acr-values", "a b", "a.b.c"},
		{"explain", "-issuer", "https://issuer.example.test", "-audience", audience, "-introspect", "opaque"}, // no client id in the environment
		{"explain", "-issuer", "https://issuer.example.test", "-audience", audience, "-introspection-client-secret", "s", "opaque"},
	} {
		if res := runCmd(t, env{}, "", args...); res.code != exitUsage {
			t.Errorf("%q: exit code %d, want %d", args, res.code, exitUsage)
		}
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	kit := middlewaretest.NewIssuer()
	t.Cleanup(kit.Close)
	token := kit.Token(middlewaretest.Spec{Claims: map[string]any{"org_id": "org-42"}})
	for _, stdin := range []bool{false, true} {
		args, in := []string{"decode", token}, ""
		if stdin {
			args, in = []string{"decode"}, token+"\n"
		}
		res := runCmd(t, env{}, in, args...)
		if res.code != exitOK {
			t.Fatalf("exit code %d", res.code)
		}
		for _, want := range []string{"UNVERIFIED", "header (UNVERIFIED):", `"kid": "` + kit.KeyID("RS256") + `"`, "claims (UNVERIFIED):", `"org_id": "org-42"`} {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("output lacks %q", want)
			}
		}
	}
	for _, bad := range []string{"not-a-token", "a.b.c", "e30.!!!.c"} {
		if res := runCmd(t, env{}, "", "decode", bad); res.code != exitRefused {
			t.Errorf("%q: exit code %d, want %d", bad, res.code, exitRefused)
		}
	}
}

// TestReadmeOutputs produces the README's "When a token is refused"
// example: the log line the middleware writes for a token of another
// audience, and explain's output for that token. The random parts (the
// test issuer's port and key id) are replaced with fixed ones; go test
// -update rewrites the files, and internal/readme checks the README
// shows them.
func TestReadmeOutputs(t *testing.T) {
	kit := middlewaretest.NewIssuer()
	t.Cleanup(kit.Close)
	token := kit.Token(middlewaretest.Spec{
		IssuedAt: now, Scopes: []string{"read:users"},
		Audience: []string{"https://api.example.org"},
	})
	fixed := strings.NewReplacer(kit.URL, "https://login.example.com", kit.KeyID("RS256"), "hNhDpJSmFXTXdHAQ")

	// The log line: a real middleware, configured as the README shows.
	var buf bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:          kit.URL,
		Audiences:       []string{"https://api.example.com"},
		Logger:          slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime})),
		RefusalLogLevel: slog.LevelInfo,
		Now:             func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/users", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	v.RequireScope("read:users")(http.NotFoundHandler()).ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", w.Code)
	}
	golden(t, "wrong-audience.log", fixed.Replace(buf.String()))

	// The Auth0 RBAC mistake: the permission is granted in "permissions",
	// which the default ScopeClaims do not read.
	buf.Reset()
	rbac := kit.Token(middlewaretest.Spec{
		IssuedAt: now, Scopes: []string{"openid"}, Audience: []string{"https://api.example.com"},
		Claims: map[string]any{"permissions": []string{"read:users"}},
	})
	r = httptest.NewRequest(http.MethodGet, "/users", nil)
	r.Header.Set("Authorization", "Bearer "+rbac)
	w = httptest.NewRecorder()
	v.RequireScope("read:users")(http.NotFoundHandler()).ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Fatalf("status %d, want 403", w.Code)
	}
	golden(t, "rbac-permissions.log", fixed.Replace(buf.String()))

	res := runCmd(t, env{now: func() time.Time { return now }}, token+"\n",
		"explain", "-issuer", kit.URL, "-audience", "https://api.example.com", "-scope", "read:users")
	if res.code != exitRefused {
		t.Fatalf("exit code %d, want %d", res.code, exitRefused)
	}
	golden(t, "wrong-audience.explain", fixed.Replace(res.stdout))
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the output (run go test -update):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestExplainGolden: explain's whole output (its checks, the HTTP answer
// and the refusal log line) for the refusals a user most needs to read:
// a scope held by a claim outside ScopeClaims (Auth0 RBAC), a claim
// requirement, step-up, an issuer differing only by a trailing slash, a
// DPoP proof signed for another URL (a proxy with a wrong PublicBaseURL),
// and an opaque token the introspection endpoint says is not active. The
// test issuer's URL and key id are replaced with fixed ones; go test
// -update rewrites the files.
func TestExplainGolden(t *testing.T) {
	t.Parallel()
	kit := middlewaretest.NewIssuer()
	t.Cleanup(kit.Close)
	kit.AddClient(middlewaretest.Client{ID: "orders-api", Secret: "introspection-secret-Zq81"})
	fixed := strings.NewReplacer(kit.URL, "https://login.example.com", kit.KeyID("RS256"), "hNhDpJSmFXTXdHAQ")
	e := env{now: func() time.Time { return now }, vars: map[string]string{
		envIntrospectionClientID: "orders-api", envIntrospectionClientSecret: "introspection-secret-Zq81",
	}}
	const private = "private-claim-value-Zq81"
	tok := func(s middlewaretest.Spec) string {
		s.IssuedAt = now
		return kit.Token(s)
	}
	key := middlewaretest.NewDPoPKey("ES256")
	bound := tok(middlewaretest.Spec{JKT: key.Thumbprint()})
	proofFile := filepath.Join(t.TempDir(), "proof")
	proof := key.Proof(middlewaretest.Proof{Method: "GET", URL: "http://10.0.0.7:8080/orders", AccessToken: bound, IssuedAt: now})
	if err := os.WriteFile(proofFile, []byte(proof+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	revoked := kit.OpaqueToken(middlewaretest.Spec{IssuedAt: now, Scopes: []string{"read:orders"}})
	kit.Revoke(revoked)

	for _, tc := range []struct {
		name  string
		args  []string
		token string
		code  int
	}{
		{"rbac-permissions", []string{"-scope", "read:users"},
			tok(middlewaretest.Spec{Scopes: []string{"openid"}, Claims: map[string]any{"permissions": []string{private, "read:users"}}}), exitRefused},
		{"claim-requirement", []string{"-claim", "org_id=org_a", "-claim", "org_id=org_b"},
			tok(middlewaretest.Spec{Claims: map[string]any{"org_id": private}}), exitRefused},
		{"step-up", []string{"-acr-values", "urn:example:mfa", "-max-age", "5m"},
			tok(middlewaretest.Spec{Claims: map[string]any{"acr": "urn:example:pwd", "auth_time": now.Add(-time.Hour).Unix()}}), exitRefused},
		{"issuer-trailing-slash", nil,
			tok(middlewaretest.Spec{Claims: map[string]any{"iss": kit.URL + "/"}}), exitRefused},
		{"dpop-htu", []string{"-url", "https://api.example.com/orders", "-dpop-proof", proofFile},
			bound, exitRefused},
		{"opaque-inactive", []string{"-introspect"}, revoked, exitRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"explain", "-issuer", kit.URL, "-audience", audience}, tc.args...)
			res := runCmd(t, e, tc.token+"\n", args...)
			if res.code != tc.code {
				t.Errorf("exit code %d, want %d", res.code, tc.code)
			}
			for _, secret := range []string{tc.token, private, "introspection-secret-Zq81", proof} {
				if strings.Contains(res.stdout, secret) {
					t.Errorf("explain printed a secret or a claim value it does not document: %q", secret)
				}
			}
			golden(t, tc.name+".explain", fixed.Replace(strings.ReplaceAll(res.stdout, proofFile, "proof.txt")))
		})
	}
}

// TestExplainAccepts: what explain is given to reproduce a route is enough
// for a good request to pass: a DPoP proof for the request's method and
// URL, several issuers, a claim requirement, step-up, an opaque token
// introspected with credentials from the environment, and the client
// certificate of a certificate-bound token.
func TestExplainAccepts(t *testing.T) {
	t.Parallel()
	kit := middlewaretest.NewIssuer()
	t.Cleanup(kit.Close)
	other := middlewaretest.NewIssuer()
	t.Cleanup(other.Close)
	kit.AddClient(middlewaretest.Client{ID: "orders-api", Secret: "s3cret"})
	e := env{now: func() time.Time { return now }, vars: map[string]string{envIntrospectionClientID: "orders-api", envIntrospectionClientSecret: "s3cret"}}
	key := middlewaretest.NewDPoPKey("ES256")
	bound := kit.Token(middlewaretest.Spec{IssuedAt: now, JKT: key.Thumbprint()})
	proofFile := filepath.Join(t.TempDir(), "proof")
	proof := key.Proof(middlewaretest.Proof{Method: "DELETE", URL: "https://api.example.com/orders/7", AccessToken: bound, IssuedAt: now})
	if err := os.WriteFile(proofFile, []byte(proof), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		token string
	}{
		{"DPoP", []string{"-issuer", kit.URL, "-method", "DELETE", "-url", "https://api.example.com/orders/7", "-dpop", "required", "-dpop-proof", proofFile}, bound},
		{"second issuer", []string{"-issuer", other.URL, "-issuer", kit.URL}, kit.Token(middlewaretest.Spec{IssuedAt: now})},
		{"claim and step-up", []string{"-issuer", kit.URL, "-claim", "org_id=org_a", "-claim", "org_id=org_b", "-acr-values", "urn:mfa", "-max-age", "5m"},
			kit.Token(middlewaretest.Spec{IssuedAt: now, Claims: map[string]any{"org_id": "org_b", "acr": "urn:mfa", "auth_time": now.Add(-time.Minute).Unix()}})},
		{"opaque", []string{"-issuer", kit.URL, "-introspect", "-scope", "read:orders"}, kit.OpaqueToken(middlewaretest.Spec{IssuedAt: now, Scopes: []string{"read:orders"}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runCmd(t, e, tc.token, append(append([]string{"explain", "-audience", audience}, tc.args...), "-")...)
			if res.code != exitOK || answer(res.stdout) != "200 OK" {
				t.Errorf("exit code %d, answer %q; want 0 and 200 OK", res.code, answer(res.stdout))
			}
		})
	}
	t.Run("certificate-bound", func(t *testing.T) {
		t.Parallel()
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		certFile := filepath.Join(t.TempDir(), "client.pem")
		if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		token := kit.Token(middlewaretest.Spec{IssuedAt: now, CertThumbprint: middlewaretest.CertThumbprint(cert)})
		res := runCmd(t, e, token, "explain", "-issuer", kit.URL, "-audience", audience, "-client-cert", certFile)
		if res.code != exitOK {
			t.Errorf("with the certificate: exit code %d, want 0", res.code)
		}
		res = runCmd(t, e, token, "explain", "-issuer", kit.URL, "-audience", audience)
		if res.code != exitRefused || checkLine(res.stdout, "binding") != "FAIL" {
			t.Errorf("without the certificate: exit code %d, binding %q; want 1 and FAIL", res.code, checkLine(res.stdout, "binding"))
		}
	})
	t.Run("DPoP required without a proof", func(t *testing.T) {
		t.Parallel()
		res := runCmd(t, e, bound, "explain", "-issuer", kit.URL, "-audience", audience, "-dpop", "required")
		if res.code != exitRefused || checkLine(res.stdout, "request") != "FAIL" && checkLine(res.stdout, "binding") != "FAIL" {
			t.Errorf("exit code %d, want %d with the request or binding check failing", res.code, exitRefused)
		}
	})
}
