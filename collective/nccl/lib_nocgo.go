//go:build !cgo

package nccl

import (
	"errors"
	"unsafe"
)

// Without cgo there is no dlopen: every load fails with ErrNoLibrary, so
// the package (and everything importing it) still builds and tests.

const haveCgo = false

var errNoCgo = errors.New("built without cgo (CGO_ENABLED=0): cannot dlopen")

type ncclSyms struct{}

type cudaSyms struct{}

func openNCCL(string) (ncclSyms, error) { return ncclSyms{}, errNoCgo }
func openCUDA(string) (cudaSyms, error) { return cudaSyms{}, errNoCgo }

func (ncclSyms) version() (int, result)               { return 0, resInternalError }
func (ncclSyms) uniqueID(*[UniqueIDBytes]byte) result { return resInternalError }
func (ncclSyms) initRank(cudaSyms, int, *[UniqueIDBytes]byte, int, int) (uintptr, result, cudaError) {
	return 0, resInternalError, 0
}
func (ncclSyms) allReduce(_, _ unsafe.Pointer, _ int, _ dataType, _ redOp, _, _ uintptr) result {
	return resInternalError
}
func (ncclSyms) broadcast(_, _ unsafe.Pointer, _ int, _ dataType, _ int, _, _ uintptr) result {
	return resInternalError
}
func (ncclSyms) allGather(_, _ unsafe.Pointer, _ int, _ dataType, _, _ uintptr) result {
	return resInternalError
}
func (ncclSyms) reduceScatter(_, _ unsafe.Pointer, _ int, _ dataType, _ redOp, _, _ uintptr) result {
	return resInternalError
}
func (ncclSyms) abort(uintptr) result                { return resInternalError }
func (ncclSyms) destroy(uintptr) result              { return resInternalError }
func (ncclSyms) asyncError(uintptr) (result, result) { return resInternalError, resInternalError }
func (ncclSyms) errorString(result) string           { return "" }

func (cudaSyms) deviceCount() (int, cudaError)                  { return 0, cudaErrNoDevice }
func (cudaSyms) setDevice(int) cudaError                        { return cudaErrNoDevice }
func (cudaSyms) streamCreate() (uintptr, cudaError)             { return 0, cudaErrNoDevice }
func (cudaSyms) streamDestroy(uintptr) cudaError                { return cudaErrNoDevice }
func (cudaSyms) streamQuery(uintptr) cudaError                  { return cudaErrNoDevice }
func (cudaSyms) streamSync(uintptr) cudaError                   { return cudaErrNoDevice }
func (cudaSyms) malloc(int) (unsafe.Pointer, cudaError)         { return nil, cudaErrNoDevice }
func (cudaSyms) free(unsafe.Pointer) cudaError                  { return cudaErrNoDevice }
func (cudaSyms) memcpy(_, _ unsafe.Pointer, _, _ int) cudaError { return cudaErrNoDevice }
func (cudaSyms) runtimeVersion() (int, cudaError)               { return 0, cudaErrNoDevice }
func (cudaSyms) errorString(cudaError) string                   { return "" }
