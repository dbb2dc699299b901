package release_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bearerguard/bearerguard/internal/release"
)

// version is the version every module gets in the test's proxy: the one
// the modules of the repository require of each other (go.work replaces
// it with this tree for development).
const version = "v0.1.0"

// repoRoot returns the absolute path of the repository.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func published(t *testing.T, root string) (all, pub []release.Module) {
	t.Helper()
	all, err := release.Modules(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if m.Published() {
			pub = append(pub, m)
		}
	}
	return all, pub
}

// TestReleasingLists: RELEASING.md's table of modules and tags lists
// exactly the published modules, each with its tag.
func TestReleasingLists(t *testing.T) {
	root := repoRoot(t)
	_, pub := published(t, root)
	md, err := os.ReadFile(filepath.Join(root, "RELEASING.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| `([^`]+)` \\|")
	listed := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(md), -1) {
		listed[m[1]] = m[2]
	}
	for _, m := range pub {
		tag := "v0.1.0"
		if m.Dir != "." {
			tag = m.Dir + "/v0.1.0"
		}
		if got, ok := listed[m.Path]; !ok || got != tag {
			t.Errorf("RELEASING.md: module %s with tag %q, want a row with tag %q", m.Path, got, tag)
		}
		delete(listed, m.Path)
	}
	for p := range listed {
		t.Errorf("RELEASING.md lists %s, which go.work does not use or which is not published", p)
	}
}

// apps are the programs the test builds outside the repository, one or
// more per published module: each imports its module as an application
// does and prints what it saw.
var apps = []struct {
	name   string // directory under testdata/apps
	module string // the module it gets, relative to the root module's path
	want   string // its output
}{
	{"nethttp", "", "200 true \n401 true Bearer\n"},
	{"echo4", "/adapters/echoguard", "200 true \n401 true Bearer\n"},
	{"echo5", "/adapters/echo5guard", "200 true \n401 true Bearer\n"},
	{"gin", "/adapters/ginguard", "200 true \n401 true Bearer\n"},
	{"redis", "/replay/redisstore", "validator: true\nadd without Redis fails: true\n"},
	{"mcp", "/adapters/mcpguard", "metadata: 200\nno token: 401 true\n"},
	{"grpc", "/adapters/grpcguard", "token: true\nno token: Unauthenticated\n"},
	{"otel", "/otelguard", "requests metric: true\n"},
}

// optional are module-path prefixes that must not reach the go.sum of an
// application using only the root module (internal/depcheck holds the
// root module's graph to the same list).
var optional = []string{
	"github.com/labstack/", "github.com/gin-gonic/", "github.com/gin-contrib/", "github.com/bytedance/",
	"github.com/quic-go/", "go.mongodb.org/", "github.com/modelcontextprotocol/", "github.com/redis/",
	"google.golang.org/grpc", "github.com/grpc-ecosystem/", "go.opentelemetry.io/", "github.com/prometheus/",
	"modernc.org/",
}

// TestInstallFromProxy installs every published module the way a user
// meets it once tagged (RELEASING.md): a module proxy made from this tree
// serves each at v0.1.0, and in a fresh directory outside the repository,
// with the workspace off and a module cache of its own, the go command
// gets the module from the proxy, resolves its dependencies, builds a
// small program with it and runs it. No replace and no go.work helps: a
// module that only builds inside the workspace fails here. The program of
// the root module alone must have none of the optional dependencies in
// its go.sum.
func TestInstallFromProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every published module from a proxy")
	}
	root := repoRoot(t)
	all, pub := published(t, root)
	const base = "github.com/bearerguard/bearerguard"
	var covered []string
	for _, a := range apps {
		covered = append(covered, base+a.module)
	}
	for _, m := range pub {
		if !slices.Contains(covered, m.Path) {
			t.Errorf("published module %s has no program in this test", m.Path)
		}
	}

	proxy := t.TempDir()
	if err := release.WriteProxy(proxy, root, all, pub, version); err != nil {
		t.Fatal(err)
	}
	env := installEnv(t, proxy)

	for _, a := range apps {
		t.Run(a.name, func(t *testing.T) {
			dir := t.TempDir()
			if rel, err := filepath.Rel(root, dir); err == nil && !strings.HasPrefix(rel, "..") {
				t.Fatalf("%s is inside the repository", dir)
			}
			src, err := os.ReadFile(filepath.Join("testdata", "apps", a.name, "main.go"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
				t.Fatal(err)
			}
			goCmd(t, dir, env, "mod", "init", "example.com/app")
			goCmd(t, dir, env, "get", base+a.module+"@"+version)
			goCmd(t, dir, env, "mod", "tidy")
			// Every module of this repository comes from the proxy at the
			// version, not from the working tree.
			for _, line := range strings.Split(goCmd(t, dir, env, "list", "-m", "all"), "\n") {
				if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], base) && (len(f) != 2 || f[1] != version) {
					t.Errorf("go list -m all: %q, want %s at %s from the proxy", line, f[0], version)
				}
			}
			goCmd(t, dir, env, "build", "-o", "app", ".")
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, filepath.Join(dir, "app")).CombinedOutput()
			if err != nil {
				t.Fatalf("app: %v\n%s", err, out)
			}
			if string(out) != a.want {
				t.Errorf("app printed %q, want %q", out, a.want)
			}
			if a.module == "" {
				checkSum(t, filepath.Join(dir, "go.sum"))
			}
		})
	}
}

// checkSum checks the go.sum of an application using the root module only:
// the root module is there, from the proxy, and no optional dependency is.
func checkSum(t *testing.T, name string) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root := false
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) == 0 {
			continue
		}
		if fields[0] == "github.com/bearerguard/bearerguard" && fields[1] == version {
			root = true
		}
		for _, p := range optional {
			if strings.HasPrefix(fields[0], p) {
				t.Errorf("go.sum of a net/http application holds %s", s.Text())
			}
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if !root {
		t.Errorf("go.sum has no line for github.com/bearerguard/bearerguard %s", version)
	}
}

// installEnv is the environment of a user outside the repository whose
// GOPROXY serves the modules of the repository from proxy before the
// usual proxies: the workspace off, a module cache of its own (a cache
// never downloads a version again, so a shared one would keep an older
// build of v0.1.0), and no checksum database for modules it has never
// seen published. Other modules come from the machine's module cache
// when it has them, as a proxy (file://GOMODCACHE/cache/download), else
// from the machine's GOPROXY.
func installEnv(t *testing.T, proxy string) []string {
	t.Helper()
	goEnv := func(name string) string {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	proxies := []string{"file://" + filepath.ToSlash(proxy)}
	if cache := goEnv("GOMODCACHE"); cache != "" {
		proxies = append(proxies, "file://"+filepath.ToSlash(filepath.Join(cache, "cache", "download")))
	}
	if p := goEnv("GOPROXY"); p != "" && p != "off" {
		proxies = append(proxies, p)
	}
	var env []string
	for _, kv := range os.Environ() {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "GOWORK", "GOFLAGS", "GOPROXY", "GOMODCACHE", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOTOOLCHAIN":
		default:
			env = append(env, kv)
		}
	}
	return append(env,
		"GOWORK=off",
		"GOFLAGS=-modcacherw -trimpath -buildvcs=false", // a cache the test can remove; builds cached whatever its path
		"GOPROXY="+strings.Join(proxies, ","),
		"GOMODCACHE="+t.TempDir(),
		"GONOSUMDB=github.com/bearerguard/bearerguard",
		"GOTOOLCHAIN=local",
	)
}

// goCmd runs the go command with args in dir and returns its standard
// output; it fails the test if the command fails.
func goCmd(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
