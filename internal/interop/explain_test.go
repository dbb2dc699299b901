package interop

import (
	"bytes"
	"errors"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The exit codes of cmd/bearerguard (its usage text).
const (
	exitOK          = 0
	exitRefused     = 1
	exitUnavailable = 3
)

// buildExplain builds cmd/bearerguard, of the root module (the workspace's
// go.work finds it), into the test's temporary directory.
func buildExplain(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bearerguard")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/bearerguard/bearerguard/cmd/bearerguard").CombinedOutput()
	if err != nil {
		t.Fatalf("go build cmd/bearerguard: %v\n%s", err, out)
	}
	return bin
}

// explainResult is one run of the command.
type explainResult struct {
	code   int
	stdout string
}

// runExplain runs bin with args and the token on its standard input.
func runExplain(t *testing.T, bin, token string, args ...string) explainResult {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Stdin = strings.NewReader(token)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := errors.AsType[*exec.ExitError](err)
		if !ok {
			t.Fatalf("bearerguard %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	t.Logf("bearerguard %s -> %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return explainResult{code, out.String()}
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

// TestExplainOIDCProvider runs the explain command of cmd/bearerguard, built
// as a user builds it, against a real oidc-provider issuer (the engine under
// Logto) started on loopback; the tokens come from its client_credentials
// grant and its authorization code flow. (It lives here, not beside the
// command, so that the root module needs none of this module's
// dependencies. The command's clock is the real one: expiry is tested with
// the test kit in cmd/bearerguard.)
func TestExplainOIDCProvider(t *testing.T) {
	t.Parallel()
	s := StartOIDCProvider(t)
	token := s.ClientCredentialsToken(t, s.BasicClient, Basic, []string{ScopeRead}, url.Values{"resource": {ResourceRS256}})

	down := NewOIDCProviderStopped(t)
	bin := buildExplain(t)

	tests := []struct {
		name     string
		issuer   string
		token    string
		audience string
		scope    string
		code     int
		failed   string
		status   string
	}{
		{name: "good token", token: token, audience: ResourceRS256, scope: ScopeRead, code: exitOK, status: "200 OK"},
		{name: "wrong audience", token: token, audience: ResourceES256, code: exitRefused, failed: "audience", status: "401 Unauthorized"},
		{name: "missing scope", token: token, audience: ResourceRS256, scope: ScopeWrite, code: exitRefused, failed: "scope", status: "403 Forbidden"},
		{name: "ID token", token: s.IDToken(t), audience: s.BasicClient.ID, code: exitRefused, failed: "type", status: "401 Unauthorized"},
		{name: "unknown kid", token: forgedToken(t, s.Issuer, ResourceRS256), audience: ResourceRS256, code: exitRefused, failed: "key", status: "401 Unauthorized"},
		{name: "issuer down", issuer: down.Issuer, token: forgedToken(t, down.Issuer, ResourceRS256), audience: ResourceRS256, code: exitUnavailable, failed: "key", status: "503 Service Unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			issuer := tc.issuer
			if issuer == "" {
				issuer = s.Issuer
			}
			args := []string{"explain", "-issuer", issuer, "-audience", tc.audience}
			if tc.scope != "" {
				args = append(args, "-scope", tc.scope)
			}
			res := runExplain(t, bin, tc.token, args...)
			if res.code != tc.code {
				t.Errorf("exit code %d, want %d", res.code, tc.code)
			}
			if got := answer(res.stdout); got != tc.status {
				t.Errorf("answer %q, want %q", got, tc.status)
			}
			if tc.failed != "" && checkLine(res.stdout, tc.failed) != "FAIL" {
				t.Errorf("check %s: %q, want FAIL", tc.failed, checkLine(res.stdout, tc.failed))
			}
			if tc.failed == "" && strings.Contains(res.stdout, "  FAIL  ") {
				t.Error("a check FAILs for a good token")
			}
		})
	}
}
