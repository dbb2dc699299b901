package otelguard_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/otelguard"
)

// TestErrorTypeNamesEverySentinel: every exported Err variable of package
// middleware has a name of its own in error.type, so that no refusal is
// reported under a wider category than it has (the promise of ErrorType).
// It reads the core's sources, so a sentinel added there without a name
// here fails the test.
func TestErrorTypeNamesEverySentinel(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join("..", "middleware", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("core sources not found: %v", err)
	}
	var sentinels []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				for _, n := range spec.(*ast.ValueSpec).Names {
					// ErrInvalidConfig is New's, never a request's.
					if n.IsExported() && strings.HasPrefix(n.Name, "Err") && n.Name != "ErrInvalidConfig" {
						sentinels = append(sentinels, n.Name)
					}
				}
			}
		}
	}
	src, err := parser.ParseFile(fset, "errortype.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	ast.Inspect(src, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := s.X.(*ast.Ident); ok && x.Name == "middleware" {
				named[s.Sel.Name] = true
			}
		}
		return true
	})
	if len(sentinels) < 40 {
		t.Fatalf("found only %d sentinels in the core: %v", len(sentinels), sentinels)
	}
	for _, s := range sentinels {
		if !named[s] {
			t.Errorf("middleware.%s has no error.type name", s)
		}
	}
}

// TestErrorTypeSpecific: a sentinel reported together with a wider one is
// named by the specific one, for the sentinels that come with another.
func TestErrorTypeSpecific(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{errors.Join(middleware.ErrKeysUnavailable, middleware.ErrReplayStoreFailed, middleware.ErrReplayKeyLimit), "replay_key_limit"},
		{errors.Join(middleware.ErrKeysUnavailable, middleware.ErrResolverBusy), "resolver_busy"},
		{errors.Join(middleware.ErrKeysUnavailable, middleware.ErrResolverFailed), "resolver_failed"},
		{errors.Join(middleware.ErrInvalidToken, middleware.ErrUnsupportedConfirmation), "unsupported_confirmation"},
		{errors.Join(middleware.ErrInvalidToken, middleware.ErrCertificateRequired), "certificate_required"},
	} {
		if got := otelguard.ErrorType(c.err); got != c.want {
			t.Errorf("ErrorType(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
