package launcher_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportWall keeps the launcher away from tensors: no gotch, bert or
// ddp, and no cgo (ARCHITECTURE.md).
func TestImportWall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}} {{.Standard}}", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, cgo, std := f[0], f[1], f[2] == "true"
		if strings.Contains(pkg, "gotch") || strings.HasPrefix(pkg, "github.com/ddprun/ddprun/bert") ||
			strings.HasPrefix(pkg, "github.com/ddprun/ddprun/ddp") || cgo != "0" && !std {
			t.Errorf("launcher depends on %s (cgo files: %s)", pkg, cgo)
		}
	}
}
