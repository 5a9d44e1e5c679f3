package nccl

import (
	"fmt"
	"unsafe"
)

// CUDA is the part of the CUDA runtime (libcudart, loaded at run time like
// NCCL; see EnvCUDARTLib) that benchmarks and tests need to put data on a
// device without libtorch. The trainer does not use it: its buffers come
// from libtorch.
//
// The current device is a property of the OS thread: a goroutine that calls
// SetDevice and then allocates must hold runtime.LockOSThread. With one
// device per process (device 0) this does not matter.
type CUDA struct{ s cudaSyms }

// OpenCUDA loads the CUDA runtime.
func OpenCUDA() (*CUDA, error) {
	s, err := loadCUDA()
	if err != nil {
		return nil, err
	}
	return &CUDA{s}, nil
}

func (c *CUDA) check(fn string, r cudaError) error {
	if r != cudaSuccess {
		return cudaErr(c.s, fn, r)
	}
	return nil
}

// DeviceCount is the number of visible devices; no device is an error
// matching ErrNoDevice.
func (c *CUDA) DeviceCount() (int, error) {
	n, r := c.s.deviceCount()
	if err := c.check("cudaGetDeviceCount", r); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: cudaGetDeviceCount returned 0", ErrNoDevice)
	}
	return n, nil
}

// SetDevice makes dev the calling thread's current device.
func (c *CUDA) SetDevice(dev int) error { return c.check("cudaSetDevice", c.s.setDevice(dev)) }

// RuntimeVersion is cudaRuntimeGetVersion's code (12040 for 12.4).
func (c *CUDA) RuntimeVersion() (int, error) {
	v, r := c.s.runtimeVersion()
	return v, c.check("cudaRuntimeGetVersion", r)
}

// Malloc allocates n bytes of device memory.
func (c *CUDA) Malloc(n int) (unsafe.Pointer, error) {
	p, r := c.s.malloc(n)
	return p, c.check("cudaMalloc", r)
}

// Free releases memory from Malloc.
func (c *CUDA) Free(p unsafe.Pointer) error { return c.check("cudaFree", c.s.free(p)) }

// CopyToDevice copies n bytes from host src to device dst.
func (c *CUDA) CopyToDevice(dst, src unsafe.Pointer, n int) error {
	return c.check("cudaMemcpy", c.s.memcpy(dst, src, n, memcpyHostToDevice))
}

// CopyToHost copies n bytes from device src to host dst.
func (c *CUDA) CopyToHost(dst, src unsafe.Pointer, n int) error {
	return c.check("cudaMemcpy", c.s.memcpy(dst, src, n, memcpyDeviceToHost))
}

// StreamCreate creates a stream on the current device.
func (c *CUDA) StreamCreate() (uintptr, error) {
	s, r := c.s.streamCreate()
	return s, c.check("cudaStreamCreate", r)
}

// StreamDestroy destroys a stream from StreamCreate.
func (c *CUDA) StreamDestroy(s uintptr) error {
	return c.check("cudaStreamDestroy", c.s.streamDestroy(s))
}

// StreamSynchronize waits for the stream's work.
func (c *CUDA) StreamSynchronize(s uintptr) error {
	return c.check("cudaStreamSynchronize", c.s.streamSync(s))
}
