package shard_test

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the tests with the temporary directory pointed at a fresh
// one and fails if anything is left in it: tests make their folders with
// t.TempDir, which removes them, and examples remove what they make.
func TestMain(m *testing.M) { os.Exit(runCheckingTempDir(m)) }

func runCheckingTempDir(m *testing.M) int {
	root, err := os.MkdirTemp("", "shard-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "shard tests:", err)
		return 1
	}
	defer os.RemoveAll(root)
	for _, v := range []string{"TMPDIR", "TMP", "TEMP"} { // os.TempDir reads these
		os.Setenv(v, root)
	}
	code := m.Run()
	left, err := os.ReadDir(root)
	if code == 0 && (err != nil || len(left) > 0) {
		fmt.Fprintf(os.Stderr, "shard tests left %d entries in the temporary directory (use t.TempDir): %v %v\n", len(left), left, err)
		return 1
	}
	return code
}
