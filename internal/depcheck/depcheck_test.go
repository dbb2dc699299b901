package depcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
	"testing"
)

const module = "github.com/bearerguard/bearerguard"

// frameworks are the import-path prefixes of the web frameworks adapters
// exist for. The core must not depend on any of them.
var frameworks = map[string]string{
	"echo": "github.com/labstack/echo",
	"gin":  "github.com/gin-gonic/gin",
}

type listed struct {
	ImportPath string
	Name       string
	Standard   bool
	Deps       []string
	Error      *struct{ Err string }
}

// rootModuleEnv is the environment of the go commands: the root module
// alone, as an application requiring it sees it, without the repository's
// workspace (go.work), which adds the other modules and their
// dependencies.
func rootModuleEnv() []string {
	return append(os.Environ(), "GOWORK=off")
}

// goList runs "go list -e -json" with args and decodes its output. A
// pattern matching no package yields no entry.
func goList(t *testing.T, args ...string) []listed {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to read the dependency graph: %v", err)
	}
	cmd := exec.Command(goCmd, append([]string{"list", "-e", "-json=ImportPath,Name,Standard,Deps,Error"}, args...)...)
	cmd.Env = rootModuleEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list: package %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// deps returns the transitive dependencies of the package pkg, which must
// exist.
func deps(t *testing.T, pkg string) []listed {
	t.Helper()
	all := goList(t, "-deps", pkg)
	var out []listed
	found := false
	for _, p := range all {
		if p.ImportPath == pkg {
			found = true
			continue
		}
		out = append(out, p)
	}
	if !found {
		t.Fatalf("package %s not found", pkg)
	}
	return out
}

func within(importPath, prefix string) bool {
	return importPath == prefix || strings.HasPrefix(importPath, prefix+"/")
}

func TestStandardLibraryOnly(t *testing.T) {
	for _, pkg := range []string{module + "/scopes", module + "/claims", module + "/internal/jsonscan"} {
		t.Run(path.Base(pkg), func(t *testing.T) {
			for _, d := range deps(t, pkg) {
				if !d.Standard {
					t.Errorf("%s imports %s, which is not in the standard library", pkg, d.ImportPath)
				}
			}
		})
	}
}

// coreInternal are the packages of internal/ that are parts of the core,
// not test helpers.
var coreInternal = map[string]bool{
	module + "/internal/jsonscan": true,
	module + "/internal/checks":   true,
}

func TestCoreFreeOfFrameworks(t *testing.T) {
	core := module + "/middleware"
	for _, d := range deps(t, core) {
		for name, prefix := range frameworks {
			if within(d.ImportPath, prefix) {
				t.Errorf("%s depends on %s (%s)", core, d.ImportPath, name)
			}
		}
		for _, above := range []string{module + "/adapters", module + "/examples"} {
			if within(d.ImportPath, above) {
				t.Errorf("%s imports %s: dependencies point from adapters and examples to the core", core, d.ImportPath)
			}
		}
		// Of internal/, the core uses only its JSON scanner and the
		// names of its checks (shared with cmd/bearerguard explain).
		if within(d.ImportPath, module+"/internal") && !coreInternal[d.ImportPath] {
			t.Errorf("%s imports %s: internal/ holds test helpers, not parts of the core", core, d.ImportPath)
		}
	}
	kit := module + "/middleware/middlewaretest"
	for _, d := range deps(t, kit) {
		if d.ImportPath == core {
			t.Errorf("%s imports %s; the core's own tests rely on it not doing so", kit, core)
		}
	}
}

func TestAdapters(t *testing.T) {
	adapters := goList(t, module+"/adapters/...")
	if len(adapters) == 0 {
		t.Skip("no adapters yet")
	}
	for _, a := range adapters {
		t.Run(path.Base(a.ImportPath), func(t *testing.T) {
			if a.Name != path.Base(a.ImportPath) {
				t.Errorf("package %s is named %q: the directory name must equal the package name", a.ImportPath, a.Name)
			}
			switch a.Name {
			case "echo", "gin", "middleware":
				t.Errorf("package %s is named %q, which clashes with the framework or the core in applications", a.ImportPath, a.Name)
			}
			used := map[string]bool{}
			for _, d := range deps(t, a.ImportPath) {
				for name, prefix := range frameworks {
					if within(d.ImportPath, prefix) {
						used[name] = true
					}
				}
				if within(d.ImportPath, module+"/adapters") {
					t.Errorf("%s imports another adapter, %s", a.ImportPath, d.ImportPath)
				}
				if within(d.ImportPath, module+"/examples") {
					t.Errorf("%s imports the example %s", a.ImportPath, d.ImportPath)
				}
				if within(d.ImportPath, module+"/internal") && !coreInternal[d.ImportPath] {
					t.Errorf("%s imports %s", a.ImportPath, d.ImportPath)
				}
			}
			if len(used) > 1 {
				t.Errorf("%s depends on several frameworks: %v", a.ImportPath, used)
			}
		})
	}
}

// TestModuleFreeOfMCP keeps the MCP SDK and the Redis client out of the root
// module's build list, and so out of the go.sum of applications that use
// bearerguard without them: they belong to the adapters/mcpguard and
// replay/redisstore modules only (STYLE.md, "Dependencies that not every
// user wants").
func TestModuleFreeOfMCP(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to read the build list: %v", err)
	}
	cmd := exec.Command(goCmd, "list", "-m", "all")
	cmd.Env = rootModuleEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m all: %v\n%s", err, stderr.String())
	}
	for _, m := range strings.Split(string(out), "\n") {
		if strings.Contains(m, "modelcontextprotocol") || strings.Contains(m, "github.com/redis/") {
			t.Errorf("the root module requires %s", m)
		}
	}
}
