package hccl

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/collective"
)

func TestProbe_Missing(t *testing.T) {
	t.Setenv(EnvLib, "/nonexistent/libhcl.so")
	_, _, err := Probe()
	if !errors.Is(err, ErrNoLibrary) || !errors.Is(err, collective.ErrUnsupported) {
		t.Fatalf("err = %v", err)
	}
	if haveCgo && !strings.Contains(err.Error(), "/nonexistent/libhcl.so") {
		t.Errorf("error %q does not name the path", err)
	}
}

// TestProbe_Fake: a stand-in exporting the entry points (built by the
// test) is found, and its version decoded with HCCL_VERSION's formula.
func TestProbe_Fake(t *testing.T) {
	if !haveCgo {
		t.Skip("built without cgo")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc to build the fake library")
	}
	src := "int hcclGetVersion(int* v) { *v = 2604; return 0; }\n"
	for _, s := range symbols[1:] {
		src += "int " + s + "(void) { return 0; }\n"
	}
	dir := t.TempDir()
	c, so := filepath.Join(dir, "fake.c"), filepath.Join(dir, "libhcl.so")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-o", so, c).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	t.Setenv(EnvLib, so)
	path, v, err := Probe()
	if err != nil || path != so || v != (Version{2, 6, 4}) {
		t.Fatalf("Probe() = %q, %v, %v", path, v, err)
	}
}

// TestEnums pins the values read from Habana's hccl_types.h, in
// particular Min and Max, which differ from NCCL's.
func TestEnums(t *testing.T) {
	for o, want := range map[collective.Op]RedOp{collective.Sum: 0, collective.Min: 2, collective.Max: 3, collective.Avg: 4} {
		if got, err := OpOf(o); err != nil || got != want {
			t.Errorf("OpOf(%v) = %d, %v; want %d", o, got, err, want)
		}
	}
	for d, want := range map[collective.DType]DataType{collective.Float32: 7, collective.BFloat16: 9, collective.Float16: 6, collective.Int32: 2, collective.Int64: 4} {
		if got, err := TypeOf(d); err != nil || got != want {
			t.Errorf("TypeOf(%v) = %d, %v; want %d", d, got, err, want)
		}
	}
}
