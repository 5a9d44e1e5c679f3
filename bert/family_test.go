package bert

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every registered family's names agree with its own parameters, for both
// tasks: what the shared code looks up by name (word embeddings, pooler,
// heads, masked-LM head, tied aliases) is there, and the encoder's
// parameters carry its prefix.
func TestFamilies(t *testing.T) {
	if got := ModelTypes(); !slices.Equal(got, []string{TypeBERT, TypeDistilBERT}) {
		t.Errorf("ModelTypes() = %v", got)
	}
	for _, typ := range ModelTypes() {
		f := families[typ]
		t.Run(typ, func(t *testing.T) {
			c := DefaultConfig()
			c.ModelType, c.NumLayers = typ, 1
			cls := names(Spec(c))
			c.Task, c.Labels = TaskMaskedLM, nil
			mlm := names(Spec(c))
			for _, task := range []string{TaskClassify, TaskMaskedLM} {
				if f.architectures[task] == "" {
					t.Errorf("no architecture for task %q", task)
				}
			}
			if !slices.Contains(cls, f.wordEmbeddings) || !slices.Contains(mlm, f.wordEmbeddings) {
				t.Errorf("word embeddings %s not among the parameters", f.wordEmbeddings)
			}
			pooler := func(n string) bool { return f.pooler != "" && strings.HasPrefix(n, f.pooler) }
			for _, n := range cls {
				encoder := strings.HasPrefix(n, f.prefix) && !pooler(n)
				if encoder == (IsHead(n) || pooler(n)) {
					t.Errorf("classifier parameter %s: not either under %q or in the head", n, f.prefix)
				}
			}
			for _, n := range mlm {
				if IsMaskedLMHead(n) == strings.HasPrefix(n, f.prefix) {
					t.Errorf("masked-LM parameter %s: not either under %q or in the head", n, f.prefix)
				}
			}
			for _, n := range []string{f.maskedLM.dense + ".weight", f.maskedLM.norm + ".weight", f.maskedLM.bias} {
				if !slices.Contains(mlm, n) {
					t.Errorf("masked-LM head parameter %s not in the spec", n)
				}
			}
			for alias, target := range f.tied {
				if !slices.Contains(mlm, target) || !IsMaskedLMHead(alias) {
					t.Errorf("tied alias %s -> %s: the target is no parameter or the alias is not in the head", alias, target)
				}
			}
		})
	}
}

func names(ps []Param) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

// The package dispatches on the model family through family (Note [Model
// families]): outside the families' own files nothing compares or switches
// on ModelType or a Type constant.
func TestNoModelTypeSwitches(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") || strings.HasSuffix(file, "_family.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var operands []ast.Expr
			switch n := n.(type) {
			case *ast.BinaryExpr:
				if n.Op == token.EQL || n.Op == token.NEQ {
					operands = []ast.Expr{n.X, n.Y}
				}
			case *ast.SwitchStmt:
				operands = []ast.Expr{n.Tag}
			case *ast.CaseClause:
				operands = n.List
			}
			for _, e := range operands {
				if isFamilyName(e) {
					t.Errorf("%s: tests the model type; ask the family instead (Note [Model families])", fset.Position(e.Pos()))
				}
			}
			return true
		})
	}
}

func isFamilyName(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.SelectorExpr:
		return e.Sel.Name == "ModelType"
	case *ast.Ident:
		return e.Name == "ModelType" || strings.HasPrefix(e.Name, "Type") && e.Name != "TypeIDs"
	}
	return false
}
