package torchrt

/*
#cgo CXXFLAGS: -std=c++17
#cgo LDFLAGS: -ltorch_cpu -lc10 -ldl
#include <stdint.h>
#include <stdlib.h>

// Implemented in shim.cpp.
void ddprun_set_num_threads(int n);
int  ddprun_get_num_threads(void);
int  ddprun_set_blas_threads(int n);
void ddprun_manual_seed(int64_t seed);
int  ddprun_set_malloc_policy(long mmap_threshold, long trim_threshold);
int  ddprun_autocast(int enabled, int cuda, int dtype);
const char* ddprun_torch_version(void);
int  ddprun_cuda_device_count(void);
*/
import "C"

import (
	// libtch must be linked into every binary that uses this package: the
	// shim's symbols resolve against the same libtorch.
	_ "github.com/sugarme/gotch/libtch"
)

func cSetNumThreads(n int)       { C.ddprun_set_num_threads(C.int(n)) }
func cNumThreads() int           { return int(C.ddprun_get_num_threads()) }
func cSetBLASThreads(n int) bool { return C.ddprun_set_blas_threads(C.int(n)) == 1 }
func cManualSeed(seed int64)     { C.ddprun_manual_seed(C.int64_t(seed)) }
func cSetMallocPolicy(mmap, trim int64) bool {
	return C.ddprun_set_malloc_policy(C.long(mmap), C.long(trim)) == 1
}
func cAutocast(enabled, cuda bool, dtype int) bool {
	return C.ddprun_autocast(cbool(enabled), cbool(cuda), C.int(dtype)) != 0
}
func cTorchVersion() string { return C.GoString(C.ddprun_torch_version()) }
func cCUDADevices() int     { return int(C.ddprun_cuda_device_count()) }

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
