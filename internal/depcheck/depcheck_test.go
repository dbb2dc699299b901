package depcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/bearerguard/bearerguard"

// frameworks are the import-path prefixes of the frameworks adapters exist
// for (Echo v4 and v5 are one framework). The core must not depend on any
// of them.
var frameworks = map[string]string{
	"echo": "github.com/labstack/echo",
	"gin":  "github.com/gin-gonic/gin",
	"grpc": "google.golang.org/grpc",
	"mcp":  "github.com/modelcontextprotocol/go-sdk",
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
		if a.Name == "main" {
			continue // an adapter's example program, such as mcpguard/example
		}
		t.Run(path.Base(a.ImportPath), func(t *testing.T) {
			if a.Name != path.Base(a.ImportPath) {
				t.Errorf("package %s is named %q: the directory name must equal the package name", a.ImportPath, a.Name)
			}
			switch a.Name {
			case "echo", "gin", "grpc", "middleware":
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

// optional are the module-path prefixes of dependencies that not every
// user wants: the frameworks, the MCP SDK, Redis, OpenTelemetry, and what
// they bring (Gin's bytedance/sonic, quic-go and the MongoDB driver; the
// SQLite driver of the interop tests). They belong to the modules of the
// adapters, stores and tests that need them (STYLE.md, "Dependencies that
// not every user wants").
var optional = []string{
	"github.com/labstack/",
	"github.com/gin-gonic/",
	"github.com/gin-contrib/",
	"github.com/bytedance/",
	"github.com/quic-go/",
	"go.mongodb.org/",
	"github.com/modelcontextprotocol/",
	"github.com/redis/",
	"google.golang.org/grpc",
	"github.com/grpc-ecosystem/",
	"go.opentelemetry.io/",
	"github.com/prometheus/",
	"modernc.org/",
}

// TestRootModuleGraph keeps every optional dependency out of the root
// module's requirement graph (go mod graph, without the workspace): the
// graph is what an application requiring the root module records in its
// go.sum. (internal/release checks the go.sum of such an application,
// built from a module proxy.)
func TestRootModuleGraph(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to read the module graph: %v", err)
	}
	cmd := exec.Command(goCmd, "mod", "graph")
	cmd.Env = rootModuleEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod graph: %v\n%s", err, stderr.String())
	}
	if !strings.HasPrefix(string(out), module+" ") {
		t.Fatalf("go mod graph does not start at the root module:\n%.200s", out)
	}
	seen := map[string]bool{}
	for _, edge := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		for _, m := range strings.Fields(edge) {
			for _, p := range optional {
				if strings.HasPrefix(m, p) && !seen[m] {
					seen[m] = true
					t.Errorf("the root module's graph holds %s (edge %q)", m, edge)
				}
			}
		}
	}
}

// goJSON runs the go command with args in dir and decodes its JSON output
// into v.
func goJSON(t *testing.T, dir string, v any, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
}

type modVersion struct{ Path, Version string }

// TestWorkspace holds the module layout to RELEASING.md: go.work uses
// every module of the repository (scripts/test.sh tests what it lists); no
// go.mod has a replace, so that each builds as published; every
// requirement of one module of the repository on another is at a version
// go.work replaces with this tree, so that development builds the modules
// together; and no go.sum has a line for such a version.
func TestWorkspace(t *testing.T) {
	root := filepath.Join("..", "..")
	var work struct {
		Use     []struct{ DiskPath string }
		Replace []struct{ Old, New modVersion }
	}
	goJSON(t, root, &work, "work", "edit", "-json")
	used := map[string]bool{}
	for _, u := range work.Use {
		used[filepath.Clean(u.DiskPath)] = true
	}
	replaced := map[modVersion]string{}
	for _, r := range work.Replace {
		replaced[r.Old] = filepath.Clean(r.New.Path)
	}

	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		if d.Name() == "go.mod" {
			rel, err := filepath.Rel(root, filepath.Dir(p))
			if err != nil {
				return err
			}
			dirs = append(dirs, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != len(used) {
		t.Errorf("go.work uses %d modules, the repository has %d: %v", len(used), len(dirs), dirs)
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			if !used[dir] {
				t.Errorf("go.work does not use %s", dir)
			}
			var mod struct {
				Module  modVersion
				Require []modVersion
				Replace []struct{ Old, New modVersion }
			}
			goJSON(t, filepath.Join(root, dir), &mod, "mod", "edit", "-json")
			if want := path.Join(module, filepath.ToSlash(dir)); mod.Module.Path != want {
				t.Errorf("module %s in %s, want %s", mod.Module.Path, dir, want)
			}
			for _, r := range mod.Replace {
				t.Errorf("go.mod replaces %s with %s: a published go.mod must build without it (go.work is for development)", r.Old.Path, r.New.Path)
			}
			for _, r := range mod.Require {
				if !within(r.Path, module) {
					continue
				}
				want := filepath.Clean(strings.TrimPrefix(strings.TrimPrefix(r.Path, module), "/"))
				if got, ok := replaced[r]; !ok || got != want {
					t.Errorf("requires %s %s, which go.work does not replace with ./%s", r.Path, r.Version, want)
				}
			}
			// A go.sum line for a version go.work replaces would be the
			// hash of a working tree, not of the release.
			sum, err := os.ReadFile(filepath.Join(root, dir, "go.sum"))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(sum), "\n") {
				if f := strings.Fields(line); len(f) == 3 {
					if _, ok := replaced[modVersion{f[0], strings.TrimSuffix(f[1], "/go.mod")}]; ok {
						t.Errorf("go.sum: %q is for a version go.work replaces", line)
					}
				}
			}
		})
	}
}
