// Package readme keeps the README's Go snippets true: each one must appear,
// line for line, in snippets_test.go, which the compiler checks.
package readme

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	// Aliased: snippets_test.go declares the list snippets.
	mdsnippets "github.com/bearerguard/bearerguard/internal/snippets"
)

func TestReadmeSnippetsCompile(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The snippets live in snippets_test.go and, per README section,
	// snippets_*_test.go.
	files, err := filepath.Glob("snippets*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var hay []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		hay = append(hay, mdsnippets.Lines(string(src))...)
	}
	blocks := mdsnippets.Blocks(string(md), "```go")
	if len(blocks) < 5 {
		t.Fatalf("found %d Go blocks in README.md; the parser is broken or the README lost its examples", len(blocks))
	}
	for i, b := range blocks {
		if !mdsnippets.Holds(hay, b) {
			t.Errorf("README Go block %d is not in snippets_test.go (so it is not compiled):\n%s", i+1, strings.Join(b, "\n"))
		}
	}
}
