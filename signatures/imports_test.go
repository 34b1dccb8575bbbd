package signatures

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports guards the catalog's place at the bottom of the tree: it
// imports nothing of shadowmap's (the agent and the collector both build
// on it) and only the third-party modules it needs to load and match.
func TestImports(t *testing.T) {
	allowed := map[string]bool{
		"go.yaml.in/yaml/v3":    true,
		"golang.org/x/net/idna": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			stdlib := !strings.Contains(strings.SplitN(p, "/", 2)[0], ".")
			if !stdlib && !allowed[p] {
				t.Errorf("%s imports %s: the catalog may use only the standard library and %v", f, p, allowed)
			}
		}
	}
}
