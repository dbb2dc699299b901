package readme

import (
	"context"
	"os"
	"strings"
	"testing"
)

// textBlocks returns the ```text fenced blocks of a Markdown section.
func textBlocks(md string) []string {
	var blocks []string
	var cur []string
	in := false
	for _, l := range strings.Split(md, "\n") {
		switch {
		case !in && strings.TrimSpace(l) == "```text":
			in, cur = true, nil
		case in && strings.TrimSpace(l) == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n")+"\n")
		case in:
			cur = append(cur, l)
		}
	}
	return blocks
}

// TestReadmeRefusalOutputs: the log lines (a wrong audience, the Auth0
// RBAC mistake) and the explain output of "When a token is refused" are
// those cmd/bearerguard's TestReadmeOutputs produces (go test ./cmd/bearerguard -update rewrites them).
func TestReadmeRefusalOutputs(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(md), "\n## When a token is refused\n")
	if !ok {
		t.Fatal(`README.md has no section "When a token is refused"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := textBlocks(section)
	if len(blocks) != 3 {
		t.Fatalf("%d text blocks in the section, want 3: two log lines and the explain output", len(blocks))
	}
	for i, name := range []string{"wrong-audience.log", "rbac-permissions.log", "wrong-audience.explain"} {
		want, err := os.ReadFile("../../cmd/bearerguard/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		got := blocks[i]
		if i == 2 {
			// The explain block starts with the command line.
			lines := strings.SplitN(got, "\n", 3)
			if len(lines) < 3 || !strings.HasPrefix(lines[0], "$ go run github.com/bearerguard/bearerguard/cmd/bearerguard explain") {
				t.Fatalf("the explain block does not start with the command:\n%s", got)
			}
			got = lines[2]
		}
		if got != string(want) {
			t.Errorf("README block %d differs from cmd/bearerguard/testdata/%s:\n--- README\n%s--- testdata\n%s", i+1, name, got, want)
		}
	}
	if _, err := refusalLogSnippet(context.Background()); err != nil {
		t.Errorf("refusal log snippet: %v", err)
	}
}
