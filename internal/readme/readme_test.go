// Package readme keeps the README's Go snippets true: each one must appear,
// line for line, in snippets_test.go, which the compiler checks.
package readme

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	// Aliased: snippets_test.go declares the list snippets.
	mdsnippets "github.com/bearerguard/bearerguard/internal/snippets"
)

// normalize drops indentation and blank lines of a source file, as
// [mdsnippets.Blocks] does for each block, so that both sides compare line
// for line.
func normalize(text string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// containsSeq reports whether needle appears in hay as consecutive whole
// lines.
func containsSeq(hay, needle []string) bool {
	for i := 0; i+len(needle) <= len(hay); i++ {
		match := true
		for j := range needle {
			if hay[i+j] != needle[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

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
		hay = append(hay, normalize(string(src))...)
	}
	blocks := mdsnippets.Blocks(string(md), "```go")
	if len(blocks) < 5 {
		t.Fatalf("found %d Go blocks in README.md; the parser is broken or the README lost its examples", len(blocks))
	}
	for i, b := range blocks {
		if !containsSeq(hay, b) {
			t.Errorf("README Go block %d is not in snippets_test.go (so it is not compiled):\n%s", i+1, strings.Join(b, "\n"))
		}
	}
}
