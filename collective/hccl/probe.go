package hccl

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ddprun/ddprun/collective"
)

// EnvLib names the library holding the hccl* entry points (a file name or
// a path).
const EnvLib = "DDPRUN_HCCL_LIB"

// ErrNoLibrary means no library with HCCL's entry points could be loaded.
var ErrNoLibrary = fmt.Errorf("hccl: library not loadable: %w", collective.ErrUnsupported)

var errOpen = errors.New("dlopen failed")

// symbols are the entry points a Comm will use.
var symbols = []string{
	"hcclGetVersion", "hcclGetUniqueId", "hcclCommInitRank", "hcclAllReduce",
	"hcclBroadcast", "hcclAllGather", "hcclReduceScatter", "hcclCommAbort",
	"hcclCommDestroy", "hcclCommGetAsyncError", "hcclGetErrorString",
}

var defaultLibs = []string{
	"libSynapse.so", "/usr/lib/habanalabs/libSynapse.so",
	"libhcl.so", "/usr/lib/habanalabs/libhcl.so",
}

// Probe finds a library exporting HCCL's C API and returns its path and
// version. The error, matching ErrNoLibrary, names every path tried.
func Probe() (string, Version, error) {
	names := defaultLibs
	if p := os.Getenv(EnvLib); p != "" {
		names = []string{p}
	}
	var tried []string
	for _, name := range names {
		v, err := probeLib(name)
		if err == nil {
			return name, v, nil
		}
		if !errors.Is(err, errOpen) {
			return "", Version{}, fmt.Errorf("%w: %s: %w", ErrNoLibrary, name, err)
		}
		tried = append(tried, fmt.Sprintf("%s (%v)", name, err))
	}
	return "", Version{}, fmt.Errorf("%w: tried %s; LD_LIBRARY_PATH=%q; set %s",
		ErrNoLibrary, strings.Join(tried, ", "), os.Getenv("LD_LIBRARY_PATH"), EnvLib)
}
