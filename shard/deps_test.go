package shard_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportWall keeps shard pure Go: no gotch, no collective, no cgo, as
// ARCHITECTURE.md requires.
func TestImportWall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	// With cgo enabled (the default), a dependency that uses cgo lists its
	// cgo files; none may.
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}}", ".")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, cgo, _ := strings.Cut(line, " ")
		if strings.Contains(pkg, "gotch") || strings.Contains(pkg, "ddprun/collective") || strings.Contains(pkg, "ddprun/bert") || cgo != "0" {
			t.Errorf("shard depends on %s (cgo files: %s)", pkg, cgo)
		}
	}
}
