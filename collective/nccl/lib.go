package nccl

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// Environment variables that choose the libraries. Each holds a file name
// (searched like dlopen searches: LD_LIBRARY_PATH, the ld cache, ...) or a
// path. Unset, the loader tries the usual sonames.
const (
	EnvNCCLLib   = "DDPRUN_NCCL_LIB"   // default: libnccl.so.2, then libnccl.so
	EnvCUDARTLib = "DDPRUN_CUDART_LIB" // default: libcudart.so.12, .11.0, libcudart.so
)

var (
	ncclCandidates   = []string{"libnccl.so.2", "libnccl.so"}
	cudartCandidates = []string{"libcudart.so.12", "libcudart.so.11.0", "libcudart.so"}
)

// loaded caches opened libraries by the name they were opened with:
// libraries are never closed (unloading NCCL or CUDA is not safe).
var loaded struct {
	sync.Mutex
	nccl map[string]ncclSyms
	cuda map[string]cudaSyms
}

// candidates is the override (an environment variable's value), or the
// defaults.
func candidates(override string, defaults []string) []string {
	if override != "" {
		return []string{override}
	}
	return defaults
}

// loadNCCL opens the first loadable candidate.
func loadNCCL() (ncclSyms, error) {
	loaded.Lock()
	defer loaded.Unlock()
	return firstLoadable(&loaded.nccl, "NCCL", EnvNCCLLib, candidates(os.Getenv(EnvNCCLLib), ncclCandidates), openNCCL,
		"pip's PyTorch ships it in site-packages/nvidia/nccl/lib")
}

// loadCUDA opens the first loadable CUDA runtime.
func loadCUDA() (cudaSyms, error) {
	loaded.Lock()
	defer loaded.Unlock()
	return firstLoadable(&loaded.cuda, "the CUDA runtime", EnvCUDARTLib, candidates(os.Getenv(EnvCUDARTLib), cudartCandidates), openCUDA,
		"pip's PyTorch ships it in site-packages/nvidia/cuda_runtime/lib")
}

// firstLoadable tries names in order. A library that opens but lacks
// symbols stops the search: it is the wrong library, or too old.
func firstLoadable[T any](cache *map[string]T, what, env string, names []string, open func(string) (T, error), hint string) (T, error) {
	var zero T
	var tried []string
	for _, name := range names {
		if s, ok := (*cache)[name]; ok {
			return s, nil
		}
		s, err := open(name)
		if err == nil {
			if *cache == nil {
				*cache = map[string]T{}
			}
			(*cache)[name] = s
			return s, nil
		}
		if !errors.Is(err, errOpen) {
			return zero, fmt.Errorf("%w: %s %s: %w", ErrNoLibrary, what, name, err)
		}
		tried = append(tried, fmt.Sprintf("%s (%v)", name, err))
	}
	return zero, fmt.Errorf("%w: cannot load %s: tried %s; LD_LIBRARY_PATH=%q; set %s to the library's path (%s)",
		ErrNoLibrary, what, strings.Join(tried, ", "), os.Getenv("LD_LIBRARY_PATH"), env, hint)
}

// LibraryVersion loads NCCL (see EnvNCCLLib) and returns its version.
func LibraryVersion() (Version, error) {
	s, err := loadNCCL()
	if err != nil {
		return Version{}, err
	}
	return libVersion(s)
}

func libVersion(s ncclSyms) (Version, error) {
	code, r := s.version()
	if r != resSuccess {
		return Version{}, ncclError(s, "ncclGetVersion", r)
	}
	return decodeVersion(code), nil
}

func ncclError(s ncclSyms, fn string, r result) error {
	return &Error{Func: fn, Code: int(r), Text: s.errorString(r)}
}

func cudaErr(c cudaSyms, fn string, r cudaError) error {
	return &CUDAError{Func: fn, Code: int(r), Text: c.errorString(r)}
}
