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
int  ddprun_cuda_set_device(int d);
int  ddprun_grad_reset(void* t);
int  ddprun_grad_set(void* t, void* g);
int  ddprun_grad_defined(void* t);
int  ddprun_set_data(void* p, void* src);
int  ddprun_set_grad_enabled(int enabled);
int  ddprun_register_grad_hook(void* t, int64_t token);
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	"github.com/sugarme/gotch/ts"
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
func cCUDASetDevice(n int) int {
	return int(C.ddprun_cuda_set_device(C.int(n)))
}

// ResetGrad sets t's gradient to none (PyTorch's zero_grad(set_to_none=True)):
// the next backward writes a fresh gradient instead of adding to the old.
func ResetGrad(t *ts.Tensor) error {
	ok := C.ddprun_grad_reset(t.Ctensor()) == 1
	runtime.KeepAlive(t)
	if !ok {
		return fmt.Errorf("torchrt: resetting a gradient failed")
	}
	return nil
}

// SetGrad makes g (same shape and dtype as t) t's gradient: backward then
// accumulates into g's memory, which may be a view of a larger buffer.
func SetGrad(t, g *ts.Tensor) error {
	return pairCall(func(a, b unsafe.Pointer) C.int { return C.ddprun_grad_set(a, b) }, t, g, "setting a gradient")
}

// pairCall calls a shim taking two tensor handles, keeping both alive.
func pairCall(f func(a, b unsafe.Pointer) C.int, a, b *ts.Tensor, what string) error {
	ok := f(a.Ctensor(), b.Ctensor()) == 1
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	if !ok {
		return fmt.Errorf("torchrt: %s failed", what)
	}
	return nil
}

// SetData makes src the memory of parameter p (PyTorch's `p.data = src`):
// src must have p's shape and dtype and may be a view of a larger buffer.
// p keeps its autograd identity (grad, hooks, requires_grad).
func SetData(p, src *ts.Tensor) error {
	ps, err1 := p.Size()
	ss, err2 := src.Size()
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("torchrt: replacing a parameter's data: %w", err)
	}
	if !slices.Equal(ps, ss) || p.DType() != src.DType() {
		return fmt.Errorf("torchrt: replacing a %v %v parameter's data with a %v %v tensor", ps, p.DType(), ss, src.DType())
	}
	return pairCall(func(a, b unsafe.Pointer) C.int { return C.ddprun_set_data(a, b) }, p, src, "replacing a parameter's data")
}

// SetGradEnabled turns autograd recording on or off for the calling thread
// and returns the previous state (gotch's GradSetEnabled misreports it).
func SetGradEnabled(enabled bool) (prev bool) {
	return C.ddprun_set_grad_enabled(cbool(enabled)) == 1
}

// NoGrad runs f with autograd off, restoring the previous state.
func NoGrad(f func() error) error {
	prev := SetGradEnabled(false)
	defer SetGradEnabled(prev)
	return f()
}

// HasGrad reports whether t has a gradient.
func HasGrad(t *ts.Tensor) bool {
	ok := C.ddprun_grad_defined(t.Ctensor()) == 1
	runtime.KeepAlive(t)
	return ok
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
