package nccl

import (
	"errors"
	"fmt"

	"github.com/ddprun/ddprun/collective"
)

// Sentinel errors. Both also match collective.ErrUnsupported, so a caller
// that falls back to another backend needs only that test.
var (
	// ErrNoLibrary means libnccl.so.2 or the CUDA runtime could not be
	// loaded (not installed, not on the search path, missing symbols, or a
	// build without cgo). The error text names the paths tried and
	// LD_LIBRARY_PATH.
	ErrNoLibrary = fmt.Errorf("nccl: library not loadable: %w", collective.ErrUnsupported)
	// ErrNoDevice means the CUDA runtime reports no usable device, or the
	// configured device index does not exist.
	ErrNoDevice = fmt.Errorf("nccl: no CUDA device: %w", collective.ErrUnsupported)
)

var errOpen = errors.New("dlopen failed")

// Error is a failed NCCL call: the function, its ncclResult_t and
// ncclGetErrorString's text. It matches collective.ErrPeerLost for system
// and remote errors (a peer or its link died), collective.ErrInvalid for
// invalid arguments or usage, and collective.ErrTimeout for ncclTimeout.
type Error struct {
	Func string // "ncclAllReduce", ...
	Code int    // ncclResult_t
	Text string // ncclGetErrorString(Code)
}

func (e *Error) Error() string {
	return fmt.Sprintf("nccl: %s: %s (ncclResult_t %d)", e.Func, e.Text, e.Code)
}

// Is matches the collective sentinels that describe the code.
func (e *Error) Is(target error) bool {
	switch result(e.Code) {
	case resSystemError, resRemoteError:
		return target == collective.ErrPeerLost
	case resInvalidArgument, resInvalidUsage:
		return target == collective.ErrInvalid
	case resTimeout:
		return target == collective.ErrTimeout
	}
	return false
}

// CUDAError is a failed CUDA runtime call.
type CUDAError struct {
	Func string // "cudaSetDevice", ...
	Code int    // cudaError_t
	Text string // cudaGetErrorString(Code)
}

func (e *CUDAError) Error() string {
	return fmt.Sprintf("nccl: %s: %s (cudaError_t %d)", e.Func, e.Text, e.Code)
}

// Is matches ErrNoDevice for cudaErrorNoDevice and cudaErrorInvalidDevice.
func (e *CUDAError) Is(target error) bool {
	c := cudaError(e.Code)
	return target == ErrNoDevice && (c == cudaErrNoDevice || c == cudaErrInvalidDevice)
}
