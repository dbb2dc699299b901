// Package doclinks checks that the doc links ([Name], [pkg.Name],
// [Type.Field]) in the module's doc comments resolve: go doc and pkgsite
// print a link that does not resolve as plain text in brackets.
package doclinks

import (
	"go/ast"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/bearerguard/bearerguard"

// bracketed finds text that reads like a doc link: an identifier, perhaps
// qualified, in square brackets.
var bracketed = regexp.MustCompile(`\[\*?([A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)\]`)

// fieldAfter matches the ".Field" that follows a link written [Type].Field.
var fieldAfter = regexp.MustCompile(`^\.[A-Z][A-Za-z0-9_]*`)

type pkg struct {
	files []*ast.File
	doc   *doc.Package
	syms  map[string]bool // exported names, Type.Method and Type.Field
}

func TestDocLinksResolve(t *testing.T) {
	root := "../.."
	fset := token.NewFileSet()
	pkgs := map[string]*pkg{} // by import path
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		ip := module
		if rel != "." {
			ip += "/" + filepath.ToSlash(rel)
		}
		if pkgs[ip] == nil {
			pkgs[ip] = &pkg{}
		}
		pkgs[ip].files = append(pkgs[ip].files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 5 {
		t.Fatalf("found %d packages; the walk is broken", len(pkgs))
	}
	for ip, p := range pkgs {
		p.doc, err = doc.NewFromFiles(fset, p.files, ip, doc.PreserveAST)
		if err != nil {
			t.Fatal(err)
		}
		p.syms = symbols(p.files)
	}
	for ip, p := range pkgs {
		parse := p.doc.Parser()
		check := func(pos token.Pos, text string) {
			for _, bad := range unresolved(parse.Parse(text), pkgs) {
				t.Errorf("%s (%s): doc link [%s does not resolve", fset.Position(pos), ip, bad)
			}
		}
		for _, f := range p.files {
			if f.Doc != nil {
				check(f.Doc.Pos(), f.Doc.Text())
			}
			ast.Inspect(f, func(n ast.Node) bool {
				var g *ast.CommentGroup
				switch n := n.(type) {
				case *ast.FuncDecl:
					g = n.Doc
				case *ast.GenDecl:
					g = n.Doc
				case *ast.TypeSpec:
					g = n.Doc
				case *ast.ValueSpec:
					g = n.Doc
				case *ast.Field:
					g = n.Doc
				}
				if g != nil {
					check(g.Pos(), g.Text())
				}
				return true
			})
		}
	}
}

// symbols lists the package-level names of files, with Type.Method and
// Type.Field for their methods and struct fields.
func symbols(files []*ast.File) map[string]bool {
	syms := map[string]bool{}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					syms[d.Name.Name] = true
					continue
				}
				typ := d.Recv.List[0].Type
				if s, ok := typ.(*ast.StarExpr); ok {
					typ = s.X
				}
				if ix, ok := typ.(*ast.IndexExpr); ok {
					typ = ix.X
				}
				if id, ok := typ.(*ast.Ident); ok {
					syms[id.Name+"."+d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						syms[s.Name.Name] = true
						var fields *ast.FieldList
						switch t := s.Type.(type) {
						case *ast.StructType:
							fields = t.Fields
						case *ast.InterfaceType:
							fields = t.Methods
						}
						if fields != nil {
							for _, fl := range fields.List {
								for _, n := range fl.Names {
									syms[s.Name.Name+"."+n.Name] = true
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							syms[n.Name] = true
						}
					}
				}
			}
		}
	}
	return syms
}

// unresolved returns the bracketed names in d that the parser left as
// plain text, and the links into this module's packages that name no
// symbol there.
func unresolved(d *comment.Doc, pkgs map[string]*pkg) []string {
	var bad []string
	var walk func(text []comment.Text)
	walk = func(text []comment.Text) {
		for i, x := range text {
			switch x := x.(type) {
			case comment.Plain:
				for _, m := range bracketed.FindAllStringSubmatch(string(x), -1) {
					name := m[1]
					// A lone lower-case word in brackets is prose or an
					// index expression, not a link.
					if !strings.Contains(name, ".") && strings.ToLower(name[:1]) == name[:1] {
						continue
					}
					bad = append(bad, name+"]")
				}
			case *comment.Italic:
				walk([]comment.Text{comment.Plain(*x)})
			case *comment.Link:
				walk(x.Text)
			case *comment.DocLink:
				// [Type].Field reads as a link to the field but links
				// only the type: write [Type.Field].
				if i+1 < len(text) {
					if next, ok := text[i+1].(comment.Plain); ok && fieldAfter.MatchString(string(next)) {
						bad = append(bad, linkText(x)+"]"+fieldAfter.FindString(string(next))+" (write the field inside the brackets)")
					}
				}
				if p, ok := pkgs[x.ImportPath]; ok && x.ImportPath != "" && x.Name != "" {
					name := x.Name
					if x.Recv != "" {
						name = x.Recv + "." + name
					}
					if !p.syms[name] {
						bad = append(bad, linkText(x)+"] (no such name in "+x.ImportPath+")")
					}
				}
			}
		}
	}
	for _, b := range d.Content {
		switch b := b.(type) {
		case *comment.Paragraph:
			walk(b.Text)
		case *comment.List:
			for _, it := range b.Items {
				for _, c := range it.Content {
					if p, ok := c.(*comment.Paragraph); ok {
						walk(p.Text)
					}
				}
			}
		case *comment.Heading:
			walk(b.Text)
		}
	}
	return bad
}

// linkText is the text of a doc link as written, without the brackets.
func linkText(l *comment.DocLink) string {
	var b strings.Builder
	for _, t := range l.Text {
		if p, ok := t.(comment.Plain); ok {
			b.WriteString(string(p))
		}
	}
	return b.String()
}
