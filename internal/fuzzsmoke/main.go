package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// defaultExecs is the execution budget of a target not listed in budgets.
const defaultExecs = 50000

// budgets sizes the smoke run per target: each runs about 5 to 10 seconds
// on a 2-core machine, building its instrumented test binary included. The
// slow ones verify signatures on every input.
var budgets = map[string]int{
	"FuzzValidateToken":  15000,
	"FuzzDPoPProof":      6000,
	"FuzzCacheHitSyntax": 30000,
	"FuzzObject":         200000,
	"FuzzValue":          200000,
	"FuzzValid":          200000,
	"FuzzParse":          200000,
	"FuzzRequirement":    200000,
}

// runTimeout bounds one target's run, as a guard against a hang: a run that
// exceeds it fails.
const runTimeout = 10 * time.Minute

type target struct {
	dir, pkg, name string
}

func main() {
	scale := flag.Float64("scale", 1, "multiply every execution budget by this factor")
	fuzztime := flag.Duration("fuzztime", 0, "run every target for this long instead of its execution budget (long runs)")
	flag.Parse()
	dirs := flag.Args()
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	if err := run(dirs, *scale, *fuzztime); err != nil {
		fmt.Fprintln(os.Stderr, "fuzzsmoke:", err)
		os.Exit(1)
	}
}

func run(dirs []string, scale float64, fuzztime time.Duration) error {
	var targets []target
	for _, d := range dirs {
		ts, err := list(d)
		if err != nil {
			return err
		}
		targets = append(targets, ts...)
	}
	var failures []string
	for _, t := range targets {
		budget := fmt.Sprintf("%dx", execs(t.name, scale))
		if fuzztime > 0 {
			budget = fuzztime.String()
		}
		start := time.Now()
		o, out, err := fuzzWithRetry(t, budget)
		if err != nil {
			return err
		}
		fmt.Printf("  %-60s %-24s %-8s %s\n", t.pkg, t.name, budget, time.Since(start).Round(100*time.Millisecond))
		switch o {
		case failed:
			os.Stdout.WriteString(out)
			failures = append(failures, t.pkg+" "+t.name)
		case deadlineOnly:
			fmt.Printf("  warning: %s: fuzzing coordinator deadline twice (golang/go#75804), no failing input\n", t.name)
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("fuzz targets failed: %s", strings.Join(failures, ", "))
	}
	return nil
}

func execs(name string, scale float64) int {
	n, ok := budgets[name]
	if !ok {
		n = defaultExecs
	}
	n = int(float64(n) * scale)
	return max(n, 1)
}

// fuzzWithRetry runs one target, once more if the first run's only
// complaint was the coordinator's deadline.
func fuzzWithRetry(t target, budget string) (outcome, string, error) {
	o, out, err := fuzzOnce(t, budget)
	if err != nil || o != deadlineOnly {
		return o, out, err
	}
	return fuzzOnce(t, budget)
}

func fuzzOnce(t target, budget string) (outcome, string, error) {
	corpus := filepath.Join(t.dir, "testdata", "fuzz", t.name)
	before, err := corpusFiles(corpus)
	if err != nil {
		return failed, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-fuzz", "^"+t.name+"$", "-fuzztime", budget, ".")
	cmd.Dir = t.dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	runErr := cmd.Run()
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		return failed, "", fmt.Errorf("%s %s: %w", t.pkg, t.name, runErr)
	}
	after, err := corpusFiles(corpus)
	if err != nil {
		return failed, "", err
	}
	out := buf.String()
	if ctx.Err() != nil {
		out += fmt.Sprintf("\nfuzzsmoke: %s did not finish within %s\n", t.name, runTimeout)
		return failed, out, nil
	}
	return classify(runErr == nil, out, grew(before, after)), out, nil
}

// corpusFiles lists the files of a fuzz target's corpus directory.
func corpusFiles(dir string) (map[string]bool, error) {
	files := map[string]bool{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return files, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		files[e.Name()] = true
	}
	return files, nil
}

func grew(before, after map[string]bool) bool {
	for f := range after {
		if !before[f] {
			return true
		}
	}
	return false
}

// list finds the fuzz targets of the module in dir, with each package's
// directory.
func list(dir string) ([]target, error) {
	cmd := exec.Command("go", "list", "-f", "{{.Dir}} {{.ImportPath}}", "./...")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %w", dir, err)
	}
	var targets []target
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		pkgDir, importPath, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		names, err := fuzzNames(pkgDir)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			targets = append(targets, target{dir: pkgDir, pkg: importPath, name: n})
		}
	}
	return targets, sc.Err()
}

// fuzzNames returns the names of the fuzz targets declared in a package
// directory's test files: top-level functions named Fuzz... taking a
// *testing.F, as go test finds them (a "func Fuzz" inside a string literal
// is not one).
func fuzzNames(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Fuzz") && takesF(fn) {
				names = append(names, fn.Name.Name)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// takesF reports whether fn's only parameter is a *testing.F.
func takesF(fn *ast.FuncDecl) bool {
	params := fn.Type.Params.List
	if len(params) != 1 || len(params[0].Names) > 1 {
		return false
	}
	star, ok := params[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "F"
}
