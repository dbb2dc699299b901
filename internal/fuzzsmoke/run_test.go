package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeModule makes a throwaway module with one fuzz target whose body is
// given, so that a real go test -fuzz run can be classified.
func writeModule(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/fz\n\ngo 1.26\n",
		"fz_test.go": `package fz

import "testing"

func FuzzTarget(f *testing.F) {
	f.Add([]byte("seed"))
	f.Fuzz(func(t *testing.T, b []byte) {
` + body + `
	})
}
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestFuzzNames: only real fuzz targets are listed, not a "func Fuzz"
// written inside a string (as this package's own tests do).
func TestFuzzNames(t *testing.T) {
	dir := writeModule(t, `		_ = len(b)`)
	extra := "package fz\n\nimport \"testing\"\n\nconst src = `\nfunc FuzzInString(f *testing.F) {}\n`\n\nfunc FuzzNotATarget(t *testing.T) {}\n\nfunc fuzzHelper(f *testing.F) {}\n"
	if err := os.WriteFile(filepath.Join(dir, "other_test.go"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := fuzzNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "FuzzTarget" {
		t.Errorf("fuzzNames = %q, want [FuzzTarget]", got)
	}
	own, err := fuzzNames(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(own) != 0 {
		t.Errorf("fuzzNames(this package) = %q, want none", own)
	}
}

// TestRealRuns runs go test -fuzz on throwaway targets: a crasher must fail
// the smoke run and leave its reproducer under testdata/fuzz/FuzzTarget,
// which corpusFiles and grew must see; a clean target must pass and leave
// none.
func TestRealRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test -fuzz")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	// go test -fuzz also keeps the throwaway module's interesting inputs
	// in the build cache, under the module's path: remove them before and
	// after, so that no run sees another's and none is left behind.
	gocache, err := exec.Command(goCmd, "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	fuzzCache := filepath.Join(strings.TrimSpace(string(gocache)), "fuzz", "example.com", "fz")
	if err := os.RemoveAll(fuzzCache); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(fuzzCache); err != nil {
			t.Error(err)
		}
	})
	tests := []struct {
		name       string
		body       string
		want       outcome
		reproducer bool
	}{
		{"clean", `		_ = len(b)`, passed, false},
		{"crasher", `		if len(b) > 0 && b[0] == 'x' { t.Fatal("found x") }`, failed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeModule(t, tt.body)
			corpus := filepath.Join(dir, "testdata", "fuzz", "FuzzTarget")
			before, err := corpusFiles(corpus)
			if err != nil {
				t.Fatal(err)
			}
			targets, err := list(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(targets) != 1 || targets[0].name != "FuzzTarget" {
				t.Fatalf("list = %+v, want one FuzzTarget", targets)
			}
			got, out, err := fuzzWithRetry(targets[0], "20000x")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("outcome = %v, want %v; output:\n%s", got, tt.want, out)
			}
			// What is on disk, read without corpusFiles.
			entries, err := os.ReadDir(corpus)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			if written := len(entries) > 0; written != tt.reproducer {
				t.Fatalf("files under testdata/fuzz/FuzzTarget: %d, want a reproducer: %v", len(entries), tt.reproducer)
			}
			after, err := corpusFiles(corpus)
			if err != nil {
				t.Fatal(err)
			}
			if g := grew(before, after); g != tt.reproducer {
				t.Errorf("grew(corpusFiles before, after) = %v, want %v", g, tt.reproducer)
			}
		})
	}
}
