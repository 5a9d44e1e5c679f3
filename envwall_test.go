package ddprun_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The rank environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// NODE_RANK and DDPRUN_*) has one reader, internal/rankenv; libraries get
// what they need from its Identity, passed in (the device through
// collective.Options.Device, the ranks on the machine through
// torchrt.Config). Besides rankenv, only the commands (cmd/..., which hand
// os.Getenv to rankenv) and the launcher (which sets the variables) may
// touch it. Test files may too.
var envReaders = []string{"internal/rankenv", "cmd", "launcher"}

// notRankEnv are DDPRUN_* variables that are no part of the rank
// environment: library search paths, read where the library is loaded,
// as LD_LIBRARY_PATH would be.
var notRankEnv = []string{"DDPRUN_NCCL_LIB", "DDPRUN_CUDART_LIB", "DDPRUN_HCCL_LIB"}

// envFuncs read the environment: by name (the first argument), or all of it.
var envFuncs = map[string]map[string]bool{
	"os":      {"Getenv": true, "LookupEnv": true, "Environ": false, "ExpandEnv": false},
	"syscall": {"Getenv": true, "Environ": false},
}

func TestRankEnvironmentWall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Dir}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dirs := map[string]string{} // import path -> directory
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, dir, _ := strings.Cut(line, " ")
		dirs[path] = dir
	}
	s := &envScan{dirs: dirs, consts: map[string]map[string]string{}}
	rankenv := s.constsOf(module + "internal/rankenv")
	if rankenv["Rank"] != "RANK" || rankenv["Device"] != "DDPRUN_DEVICE" {
		t.Fatalf("internal/rankenv's names not found: %v", rankenv)
	}
	for name, v := range rankenv { // a new rankenv variable is covered, whatever its name
		if !isRankEnv(v, rankenv) {
			t.Errorf("rankenv.%s = %q is not in the wall's rank environment", name, v)
		}
	}
	for _, path := range slices.Sorted(maps.Keys(dirs)) {
		dir, rel := dirs[path], strings.TrimPrefix(path, module)
		if slices.ContainsFunc(envReaders, func(p string) bool { return rel == p || strings.HasPrefix(rel, p+"/") }) {
			continue
		}
		for _, bad := range s.reads(t, path, dir, rankenv) {
			t.Errorf("%s: %s; only internal/rankenv reads the rank environment: take the value from its Identity, passed in", rel, bad)
		}
	}
}

// isRankEnv reports whether the variable name belongs to the rank environment.
func isRankEnv(name string, rankenv map[string]string) bool {
	for _, v := range rankenv {
		if name == v {
			return true
		}
	}
	return strings.HasPrefix(name, "DDPRUN_") && !slices.Contains(notRankEnv, name)
}

type envScan struct {
	dirs   map[string]string            // import path -> directory
	consts map[string]map[string]string // import path -> string constants by name
}

// reads lists the places in package path's non-test files that read the
// rank environment, or read the environment in a way the scan cannot
// name (a variable's name that is no constant, os.Getenv handed on as a
// value, all of os.Environ).
func (s *envScan) reads(t *testing.T, path, dir string, rankenv map[string]string) []string {
	var bad []string
	fset := token.NewFileSet()
	for _, f := range s.files(t, fset, dir) {
		imports := importsOf(f)
		called := map[*ast.SelectorExpr]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, byName, ok := envFunc(n.Fun, imports)
				if !ok {
					return true
				}
				called[sel] = true
				pos := fset.Position(n.Pos())
				where := fmt.Sprintf("%s:%d", filepath.Base(pos.Filename), pos.Line)
				if !byName {
					bad = append(bad, fmt.Sprintf("%s: %s reads the whole environment", where, render(n.Fun)))
					return true
				}
				name, ok := s.constString(path, imports, n.Args[0])
				switch {
				case !ok:
					bad = append(bad, fmt.Sprintf("%s: %s(%s): not a constant name, so maybe the rank environment", where, render(n.Fun), render(n.Args[0])))
				case isRankEnv(name, rankenv):
					bad = append(bad, fmt.Sprintf("%s: %s(%q)", where, render(n.Fun), name))
				}
			case *ast.SelectorExpr:
				if _, _, ok := envFunc(n, imports); ok && !called[n] {
					pos := fset.Position(n.Pos())
					bad = append(bad, fmt.Sprintf("%s:%d: %s handed on as a value", filepath.Base(pos.Filename), pos.Line, render(n)))
				}
			}
			return true
		})
	}
	return bad
}

// files parses dir's non-test Go files, whatever their build tags.
func (s *envScan) files(t *testing.T, fset *token.FileSet, dir string) []*ast.File {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// importsOf maps a file's import names to import paths.
func importsOf(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := filepath.Base(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		m[name] = p
	}
	return m
}

// envFunc reports whether e names one of envFuncs, and whether it reads a
// variable by name.
func envFunc(e ast.Expr, imports map[string]string) (sel *ast.SelectorExpr, byName, ok bool) {
	sel, isSel := e.(*ast.SelectorExpr)
	if !isSel {
		return nil, false, false
	}
	pkg, isIdent := sel.X.(*ast.Ident)
	if !isIdent || imports[pkg.Name] == "" {
		return nil, false, false
	}
	byName, ok = envFuncs[imports[pkg.Name]][sel.Sel.Name]
	return sel, byName, ok
}

// constString evaluates e, in package path, as a string constant: a
// literal, a constant of the package or of another of the module's, or a
// sum of those.
func (s *envScan) constString(path string, imports map[string]string, e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		v, err := strconv.Unquote(e.Value)
		return v, err == nil
	case *ast.Ident:
		v, ok := s.constsOf(path)[e.Name]
		return v, ok
	case *ast.SelectorExpr:
		if pkg, ok := e.X.(*ast.Ident); ok && imports[pkg.Name] != "" {
			v, ok := s.constsOf(imports[pkg.Name])[e.Sel.Name]
			return v, ok
		}
	case *ast.ParenExpr:
		return s.constString(path, imports, e.X)
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			a, ok1 := s.constString(path, imports, e.X)
			b, ok2 := s.constString(path, imports, e.Y)
			return a + b, ok1 && ok2
		}
	}
	return "", false
}

// constsOf returns the string constants (literals) declared in a package
// of the module, by name; none for other packages.
func (s *envScan) constsOf(path string) map[string]string {
	if m, ok := s.consts[path]; ok {
		return m
	}
	m := map[string]string{}
	s.consts[path] = m
	dir, ok := s.dirs[path]
	if !ok {
		return m
	}
	ents, _ := os.ReadDir(dir)
	fset := token.NewFileSet()
	for _, ent := range ents {
		if !strings.HasSuffix(ent.Name(), ".go") || strings.HasSuffix(ent.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, ent.Name()), nil, 0)
		if err != nil {
			continue
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						m[name.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
	}
	return m
}

// render prints a short expression as written.
func render(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return render(e.X) + "." + e.Sel.Name
	case *ast.BasicLit:
		return e.Value
	}
	return fmt.Sprintf("%T", e)
}
