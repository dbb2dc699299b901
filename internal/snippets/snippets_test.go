package snippets

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestBlocks(t *testing.T) {
	md := "text\n```go x\n\tfoo()\n\n\tbar()\n```\n```go y\nno()\n```\n```go x\nbaz()\n```\n"
	got := Blocks(md, "```go x")
	want := [][]string{{"foo()", "bar()"}, {"baz()"}}
	if len(got) != len(want) || !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) {
		t.Fatalf("Blocks = %q, want %q", got, want)
	}
}

// TestCheck: a block found in the source passes; a block changed in the
// README, or matching only part of a source line, fails.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "example_test.go")
	if err := os.WriteFile(src, []byte("func f() {\n\t\tfoo()\n\t\tbar()\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, md string
		fail     bool
	}{
		{"found", "```go x\nfoo()\nbar()\n```\n", false},
		{"changed", "```go x\nfoo()\nqux()\n```\n", true},
		{"part of a line", "```go x\noo()\nbar()\n```\n", true},
		{"line cut short", "```go x\nfoo()\nbar\n```\n", true},
		{"no block", "```go\nfoo()\n```\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			readme := filepath.Join(dir, tc.name+".md")
			if err := os.WriteFile(readme, []byte(tc.md), 0o644); err != nil {
				t.Fatal(err)
			}
			rec := &recorder{TB: t}
			func() {
				defer func() { _ = recover() }() // Fatalf ends the check
				Check(rec, readme, src, "x")
			}()
			if rec.failed != tc.fail {
				t.Errorf("failed = %t, want %t", rec.failed, tc.fail)
			}
		})
	}
}

// recorder notes failures instead of failing the test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true; panic("fatal") }
func (r *recorder) Fatal(...any)          { r.failed = true; panic("fatal") }
