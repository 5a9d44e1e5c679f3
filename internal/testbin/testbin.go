// Package testbin builds the real ddprun binary for end-to-end tests, once
// per test process, with the libtorch build environment
// (build/libtorch/env.sh).
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Cleanup removes the binary Ddprun built; call it from TestMain after
// m.Run (the binary is shared by a package's tests, so no single test's
// TempDir can hold it).
func Cleanup() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

// Ddprun returns the path of a freshly built ddprun. Tests calling it are
// skipped with -short; a failed build fails the test.
func Ddprun(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	build.once.Do(func() { build.bin, build.err = compile() })
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

func compile() (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("testbin: go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if _, err := os.Stat(filepath.Join(root, "build/libtorch/env.sh")); err != nil {
		return "", fmt.Errorf("testbin: no libtorch build environment: %w", err)
	}
	dir, err := os.MkdirTemp("", "ddprun-test-")
	if err != nil {
		return "", err
	}
	build.dir = dir
	bin := filepath.Join(dir, "ddprun")
	cmd := exec.Command("bash", "-c", ". build/libtorch/env.sh && go build -o "+bin+" ./cmd/ddprun")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testbin: building ddprun: %v\n%s", err, out)
	}
	return bin, nil
}
