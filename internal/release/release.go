// Package release builds a Go module proxy from this repository's working
// tree: for each published module, the .info, .mod and .zip files of one
// version, laid out as GOPROXY=file:// reads them. Its test installs every
// published module from such a proxy, the way a user meets them
// (RELEASING.md); a maintainer can do the same by hand with the modproxy
// command beside it.
//
// The package is for tests and maintainers only.
package release

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// Module is a module of the repository.
type Module struct {
	Path string // module path, as in its go.mod
	Dir  string // directory relative to the repository root, slash-separated ("." for the root module)
}

// Published reports whether m is published: every module of the
// repository but those of examples, benchmarks and tests (bench,
// examples and anything under examples/ or internal/), which exist for this repository
// only.
func (m Module) Published() bool {
	return m.Dir != "bench" && m.Dir != "examples" && !strings.HasPrefix(m.Dir, "examples/") && m.Dir != "internal" && !strings.HasPrefix(m.Dir, "internal/")
}

// Modules returns the modules the workspace of the repository at root
// (its go.work) uses, in go.work's order.
func Modules(root string) ([]Module, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		return nil, err
	}
	work, err := modfile.ParseWork("go.work", data, nil)
	if err != nil {
		return nil, err
	}
	var mods []Module
	for _, u := range work.Use {
		dir := path.Clean(filepath.ToSlash(u.Path))
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(dir), "go.mod"))
		if err != nil {
			return nil, err
		}
		mf, err := modfile.ParseLax("go.mod", data, nil)
		if err != nil {
			return nil, err
		}
		if mf.Module == nil {
			return nil, fmt.Errorf("%s/go.mod: no module line", dir)
		}
		mods = append(mods, Module{Path: mf.Module.Mod.Path, Dir: dir})
	}
	return mods, nil
}

// WriteProxy writes version of each of mods, made from the files of the
// repository at root, into the module proxy directory dst: for each module
// <escaped path>/@v/list, <version>.info, <version>.mod (the module's
// go.mod as it is) and <version>.zip, checked as the go command checks
// them. The files of a module are those git tracks, or would track (not
// ignored), in its directory and below, without those of directories that
// hold other modules (all, as in allMods). Files tracked but deleted from
// the working tree are left out.
func WriteProxy(dst, root string, allMods, mods []Module, version string) error {
	files, err := gitFiles(root)
	if err != nil {
		return err
	}
	for _, m := range mods {
		var mine []modzip.File
		for _, f := range files {
			if owner(allMods, f) != m.Dir {
				continue
			}
			rel := f
			if m.Dir != "." {
				rel = strings.TrimPrefix(f, m.Dir+"/")
			}
			abs := filepath.Join(root, filepath.FromSlash(f))
			if _, err := os.Lstat(abs); errors.Is(err, os.ErrNotExist) {
				continue
			}
			mine = append(mine, file{rel: rel, abs: abs})
		}
		if err := writeVersion(dst, root, m, mine, version); err != nil {
			return fmt.Errorf("module %s: %w", m.Path, err)
		}
	}
	return nil
}

// owner returns the directory of the module of mods the file f (a path
// relative to the repository root) belongs to: the innermost.
func owner(mods []Module, f string) string {
	best := ""
	for _, m := range mods {
		if (m.Dir == "." || strings.HasPrefix(f, m.Dir+"/")) && (best == "" || len(m.Dir) > len(best)) {
			best = m.Dir
		}
	}
	return best
}

func writeVersion(dst, root string, m Module, files []modzip.File, version string) error {
	escaped, err := module.EscapePath(m.Path)
	if err != nil {
		return err
	}
	dir := filepath.Join(dst, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mv := module.Version{Path: m.Path, Version: version}
	var zip bytes.Buffer
	if err := modzip.Create(&zip, mv, files); err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.Dir), "go.mod"))
	if err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	list, _ := os.ReadFile(filepath.Join(dir, "list"))
	versions := strings.Fields(string(list))
	if !slices.Contains(versions, version) {
		versions = append(versions, version)
	}
	for name, data := range map[string][]byte{
		version + ".zip":  zip.Bytes(),
		version + ".mod":  gomod,
		version + ".info": info,
		"list":            []byte(strings.Join(versions, "\n") + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	// The go command's own checks of a downloaded zip.
	_, err = modzip.CheckZip(mv, filepath.Join(dir, version+".zip"))
	return err
}

// gitFiles returns the files of the repository at root that git tracks or
// would track, relative to root and slash-separated.
func gitFiles(root string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files: %w: %s", err, stderr.String())
	}
	var files []string
	for f := range strings.SplitSeq(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// file is a file of a module zip, read from the working tree.
type file struct{ rel, abs string }

func (f file) Path() string                 { return f.rel }
func (f file) Lstat() (os.FileInfo, error)  { return os.Lstat(f.abs) }
func (f file) Open() (io.ReadCloser, error) { return os.Open(f.abs) }
