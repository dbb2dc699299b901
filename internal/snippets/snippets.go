// Package snippets keeps README code blocks that the root module cannot
// compile true: a block fenced "```go <tag>" (GitHub highlights it as Go;
// internal/readme, which compiles "```go" blocks, skips it) must appear,
// line for line, in a source file of the module that owns the tag, which
// compiles it. The modules of the adapters and stores call [Check] from a
// TestReadme of their own. Standard library only.
package snippets

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// Check fails t unless README file readme holds at least one block fenced
// "```go "+tag and every such block appears in source file src, ignoring
// indentation and blank lines.
func Check(t testing.TB, readme, src, tag string) {
	t.Helper()
	md, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	fence := "```go " + tag
	blocks := Blocks(string(md), fence)
	if len(blocks) == 0 {
		t.Fatalf("%s has no %s block", readme, fence)
	}
	lines := Lines(string(code))
	for i, b := range blocks {
		if !Holds(lines, b) {
			t.Errorf("%s block %d (%s) is not in %s:\n%s", readme, i+1, fence, src, strings.Join(b, "\n"))
		}
	}
}

// Blocks returns the blocks of md opening with the line fence, each
// without indentation and blank lines.
func Blocks(md, fence string) [][]string {
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

// Holds reports whether block appears in lines as consecutive whole lines.
func Holds(lines, block []string) bool {
	// Each side framed by newlines, so that a block line cannot match the
	// mere end or start of a source line.
	return strings.Contains("\n"+strings.Join(lines, "\n")+"\n", "\n"+strings.Join(block, "\n")+"\n")
}

// Lines returns the lines of a source text as [Blocks] returns a block's:
// without indentation and blank lines.
func Lines(text string) []string { return normalize(text) }

// normalize drops indentation and blank lines.
func normalize(text string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
