package report_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportWall keeps the observability packages pure Go, as the trainer's
// plan requires: no gotch, bert or collective, no cgo, so they build with
// CGO_ENABLED=0 and test in seconds.
func TestImportWall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	pkgs := []string{"../metrics", "../tblog", "../runlog", "../progress", "."}
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}}"}, pkgs...)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, cgo, _ := strings.Cut(line, " ")
		if strings.Contains(pkg, "gotch") || strings.Contains(pkg, "ddprun/collective") || strings.Contains(pkg, "ddprun/bert") || cgo != "0" {
			t.Errorf("depends on %s (cgo files: %s)", pkg, cgo)
		}
	}
}
