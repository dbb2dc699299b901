package otelguard_test

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestReadme keeps the README's OpenTelemetry snippets true. They are fenced
// "```go otelguard" (GitHub highlights them as Go; the root module's README
// test, which compiles "```go" blocks, skips them because the root module
// does not import the OpenTelemetry SDK) and must appear, line for line, in
// example_test.go, which this module compiles.
func TestReadme(t *testing.T) {
	md, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	hay := strings.Join(normalize(string(src)), "\n")
	blocks := fenced(string(md), "```go otelguard")
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go otelguard block")
	}
	for i, b := range blocks {
		if !strings.Contains(hay, strings.Join(b, "\n")) {
			t.Errorf("README OpenTelemetry block %d is not in example_test.go:\n%s", i+1, strings.Join(b, "\n"))
		}
	}
}

// fenced returns the normalized blocks of md that open with fence.
func fenced(md, fence string) [][]string {
	var blocks [][]string
	var cur []string
	in := false
	for _, l := range strings.Split(md, "\n") {
		switch {
		case !in && strings.TrimSpace(l) == fence:
			in, cur = true, nil
		case in && strings.TrimSpace(l) == "```":
			in = false
			blocks = append(blocks, normalize(strings.Join(cur, "\n")))
		case in:
			cur = append(cur, l)
		}
	}
	return blocks
}

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
