package ddprun_test

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every package has a doc comment saying what it is for ("Package x ...").
func TestPackagesHaveDocs(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}} {{.Name}}", "./...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dir, name, _ := strings.Cut(line, " ")
		if name == "main" || strings.Contains(dir, string(filepath.Separator)+"testdata") {
			continue
		}
		if !hasDoc(t, dir, name) {
			t.Errorf("package %s (%s) has no package doc comment", name, dir)
		}
	}
}

func hasDoc(t *testing.T, dir, name string) bool {
	fset := token.NewFileSet()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	sources := 0
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		sources++
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+name) {
			return true
		}
	}
	return sources == 0 // a folder of tests only (benchmarks) is not a package to document
}
