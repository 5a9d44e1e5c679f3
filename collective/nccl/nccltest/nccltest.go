// Package nccltest builds the fake NCCL and CUDA runtime libraries that
// the tests of package nccl, and of its users, load instead of the real
// ones: csrc/fakenccl.c implements the part of NCCL's C ABI that package
// nccl calls, on host memory, for ranks that are goroutines of one test
// process; csrc/fakecudart.c the CUDA runtime calls (memory is host
// memory, streams are always complete). See the comments in those files.
//
//	libs := nccltest.Build(t) // skips without a C compiler
//	t.Setenv(nccl.EnvNCCLLib, libs.NCCL)
//	t.Setenv(nccl.EnvCUDARTLib, libs.CUDART)
package nccltest

import (
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

//go:embed csrc/*.c
var sources embed.FS

// Libs are the paths of the built libraries.
type Libs struct {
	NCCL        string // libnccl.so.2
	NCCLNoAsync string // the same without ncclCommGetAsyncError (an old NCCL)
	CUDART      string // libcudart.so.12
}

var built struct {
	once sync.Once
	dir  string
	libs Libs
	err  error
}

// Build compiles the libraries, once per process, into a temporary folder
// (removed by Cleanup). It skips the test when there is no C compiler and
// fails it when the build fails.
func Build(tb testing.TB) Libs {
	tb.Helper()
	built.once.Do(func() { built.libs, built.err = build() })
	if built.err != nil {
		if _, err := exec.LookPath(cc()); err != nil {
			tb.Skipf("no C compiler (%s) to build the fake NCCL: %v", cc(), err)
		}
		tb.Fatal(built.err)
	}
	return built.libs
}

// Cleanup removes the built libraries; call it from TestMain after m.Run.
func Cleanup() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

func build() (Libs, error) {
	dir, err := os.MkdirTemp("", "fakenccl")
	if err != nil {
		return Libs{}, err
	}
	built.dir = dir
	for _, f := range []string{"fakenccl.c", "fakecudart.c"} {
		b, err := sources.ReadFile("csrc/" + f)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		if err != nil {
			return Libs{}, err
		}
	}
	libs := Libs{
		NCCL:        filepath.Join(dir, "libnccl.so.2"),
		NCCLNoAsync: filepath.Join(dir, "libnccl-noasync.so.2"),
		CUDART:      filepath.Join(dir, "libcudart.so.12"),
	}
	for _, b := range []struct{ out, src, def string }{
		{libs.NCCL, "fakenccl.c", ""},
		{libs.NCCLNoAsync, "fakenccl.c", "-DFAKE_OMIT_ASYNC"},
		{libs.CUDART, "fakecudart.c", ""},
	} {
		args := []string{"-shared", "-fPIC", "-O1", "-Wall", "-o", b.out, filepath.Join(dir, b.src), "-lpthread"}
		if b.def != "" {
			args = append(args, b.def)
		}
		if out, err := exec.Command(cc(), args...).CombinedOutput(); err != nil {
			return Libs{}, fmt.Errorf("%s %v: %v\n%s", cc(), args, err, out)
		}
	}
	return libs, nil
}

func cc() string {
	if c := os.Getenv("CC"); c != "" {
		return c
	}
	return "gcc"
}
