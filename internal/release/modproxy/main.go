// Command modproxy writes a Go module proxy of the published modules of
// this repository, made from its working tree, at one version: what the
// release tags will serve (RELEASING.md). Run from anywhere in the
// repository:
//
//	go run ./internal/release/modproxy -o /tmp/bgproxy -version v0.1.0
//
// then, outside the repository, with the workspace off:
//
//	GOWORK=off GOPROXY=file:///tmp/bgproxy,https://proxy.golang.org \
//	GONOSUMDB=github.com/bearerguard/bearerguard go get github.com/bearerguard/bearerguard/adapters/echo5guard@v0.1.0
//
// Use a module cache of its own (GOMODCACHE): the go command never
// downloads a version again that is in its cache.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/bearerguard/bearerguard/internal/release"
)

func main() {
	out := flag.String("o", "", "the proxy `directory` to write (required)")
	version := flag.String("version", "v0.1.0", "the `version` every module gets")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, *version); err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}

func run(out, version string) error {
	gowork, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil {
		return err
	}
	work := strings.TrimSpace(string(gowork))
	if work == "" || work == "off" {
		return fmt.Errorf("not in the repository's workspace (go env GOWORK is %q)", work)
	}
	root := filepath.Dir(work)
	all, err := release.Modules(root)
	if err != nil {
		return err
	}
	var published []release.Module
	for _, m := range all {
		if m.Published() {
			published = append(published, m)
		}
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if err := release.WriteProxy(abs, root, all, published, version); err != nil {
		return err
	}
	for _, m := range published {
		fmt.Printf("%s@%s\n", m.Path, version)
	}
	fmt.Printf("GOPROXY=file://%s,%s\n", filepath.ToSlash(abs), "https://proxy.golang.org")
	return nil
}
