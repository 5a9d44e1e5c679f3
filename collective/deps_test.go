package collective_test

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImportWalls fails if the pure-Go packages start depending on gotch or
// cgo (ARCHITECTURE.md: they must build with CGO_ENABLED=0), like
// deptest in the style study.
func TestImportWalls(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const module = "github.com/ddprun/ddprun/"
	for _, pkg := range []string{"collective", "collective/ring", "collective/ring/ringtest", "shard", "launcher"} {
		t.Run(pkg, func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join("..", pkg, "*.go"))
			if len(files) == len(slices.DeleteFunc(files, func(f string) bool { return !strings.HasSuffix(f, "_test.go") })) {
				t.Skipf("%s has no Go files yet", pkg)
			}
			out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}}", module+pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				path, cgoFiles, _ := strings.Cut(line, " ")
				if strings.Contains(path, "sugarme/gotch") || strings.Contains(path, "collective/nccl") {
					t.Errorf("%s depends on %s", pkg, path)
				}
				if strings.HasPrefix(path, module) && cgoFiles != "0" {
					t.Errorf("%s depends on %s, which uses cgo", pkg, path)
				}
			}
			cmd := exec.Command("go", "build", "-o", "/dev/null", module+pkg)
			cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("CGO_ENABLED=0 go build %s: %v\n%s", pkg, err, out)
			}
		})
	}
}
