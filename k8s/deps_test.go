package k8s_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportWall: package k8s renders YAML and reads a pod's environment;
// it must not pull in tensors (gotch, bert, ddp), cgo, or the Kubernetes
// API packages (only its tests decode into those).
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
		switch {
		case strings.Contains(pkg, "gotch"), strings.HasPrefix(pkg, "github.com/ddprun/ddprun/bert"),
			strings.HasPrefix(pkg, "github.com/ddprun/ddprun/ddp"), strings.HasPrefix(pkg, "k8s.io/"),
			cgo != "0" && !std:
			t.Errorf("k8s depends on %s (cgo files: %s)", pkg, cgo)
		}
	}
}
