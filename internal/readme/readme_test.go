// Package readme keeps the README's Go snippets true: each one must appear,
// line for line, in snippets_test.go, which the compiler checks.
package readme

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// normalize drops indentation and blank lines.
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

// goBlocks returns the ```go fenced blocks of a Markdown document.
func goBlocks(md string) []string {
	var blocks []string
	var cur []string
	in := false
	for _, l := range strings.Split(md, "\n") {
		switch {
		case !in && strings.TrimSpace(l) == "```go":
			in, cur = true, nil
		case in && strings.TrimSpace(l) == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, l)
		}
	}
	return blocks
}

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
	blocks := goBlocks(string(md))
	if len(blocks) < 5 {
		t.Fatalf("found %d Go blocks in README.md; the parser is broken or the README lost its examples", len(blocks))
	}
	for i, b := range blocks {
		if !containsSeq(hay, normalize(b)) {
			t.Errorf("README Go block %d is not in snippets_test.go (so it is not compiled):\n%s", i+1, b)
		}
	}
}
