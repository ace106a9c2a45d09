package p2pshare_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/p2pshare/p2pshare/p2pshare"
)

// aliasTargets are the package's aliases of internal types, by name: go
// doc shows an alias's comment and not its target's fields or methods
// (an importer cannot open an internal package), so the comment lists
// them.
var aliasTargets = map[string]reflect.Type{
	"Progress":      reflect.TypeFor[p2pshare.Progress](),
	"Event":         reflect.TypeFor[p2pshare.Event](),
	"EventKind":     reflect.TypeFor[p2pshare.EventKind](),
	"Waiting":       reflect.TypeFor[p2pshare.Waiting](),
	"ClassSnapshot": reflect.TypeFor[p2pshare.ClassSnapshot](),
	"ClassMember":   reflect.TypeFor[p2pshare.ClassMember](),
	"ClassBound":    reflect.TypeFor[p2pshare.ClassBound](),
}

// TestAliasDocsListFields reads the package's documentation as go doc
// does and checks that every exported alias of an internal type documents
// what go doc would otherwise hide: a struct's comment lists exactly its
// exported fields, one a line in a code block, and a named kind's says
// what its String gives.
func TestAliasDocsListFields(t *testing.T) {
	pkg := readDoc(t)
	found := 0
	for _, typ := range pkg.Types {
		spec := typ.Decl.Specs[0].(*ast.TypeSpec)
		if !spec.Assign.IsValid() || !aliasesInternal(pkg, spec) {
			continue
		}
		found++
		target, ok := aliasTargets[typ.Name]
		if !ok {
			t.Errorf("%s aliases an internal type: list what go doc cannot show in its comment, and add it to aliasTargets", typ.Name)
			continue
		}
		if target.Kind() != reflect.Struct {
			if !strings.Contains(typ.Doc, "String") {
				t.Errorf("%s (a %s) does not say what its String gives:\n%s", typ.Name, target.Kind(), typ.Doc)
			}
			continue
		}
		var fields []string
		for f := range target.Fields() {
			if f.IsExported() {
				fields = append(fields, f.Name)
			}
		}
		listed := listedNames(typ.Doc)
		for _, f := range fields {
			if !slices.Contains(listed, f) {
				t.Errorf("%s's comment does not list its field %s (it lists %v)", typ.Name, f, listed)
			}
		}
		for _, l := range listed {
			if !slices.Contains(fields, l) {
				t.Errorf("%s's comment lists %s, which is no field of it (its fields: %v)", typ.Name, l, fields)
			}
		}
	}
	if found != len(aliasTargets) {
		t.Errorf("found %d aliases of internal types, want the %d of aliasTargets", found, len(aliasTargets))
	}
}

// readDoc parses the package's non-test files with their comments, as go
// doc reads them.
func readDoc(t *testing.T) *doc.Package {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	pkg, err := doc.NewFromFiles(fset, files, "github.com/p2pshare/p2pshare/p2pshare")
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

// aliasesInternal reports whether spec's type is pkg.Name of an imported
// package under internal/.
func aliasesInternal(pkg *doc.Package, spec *ast.TypeSpec) bool {
	sel, ok := spec.Type.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok {
		return false
	}
	for _, imp := range pkg.Imports {
		if strings.Contains(imp, "/internal/") && (imp == x.Name || strings.HasSuffix(imp, "/"+x.Name)) {
			return true
		}
	}
	return false
}

// listedNames are the identifiers that start the lines of the code blocks
// of a doc comment: a field list's names.
func listedNames(text string) []string {
	var names []string
	for l := range strings.Lines(text) {
		if !strings.HasPrefix(l, "\t") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSpace(l), " ")
		if isIdent(name) {
			names = append(names, name)
		}
	}
	return names
}

func isIdent(s string) bool {
	for i, r := range s {
		if !unicode.IsLetter(r) && r != '_' && (i == 0 || !unicode.IsDigit(r)) {
			return false
		}
	}
	return s != ""
}
