package nccl

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/ddprun/ddprun/collective"
)

// scratch is a device buffer for staging host buffers; it only grows.
type scratch struct {
	p unsafe.Pointer
	n int
}

func (s *scratch) free(cu cudaSyms) {
	if s.p != nil {
		cu.free(s.p)
		s.p, s.n = nil, 0
	}
}

// staged calls f with device pointers for bufs. Device buffers are passed
// as they are. Host buffers are copied into scratch device memory first
// and back afterwards (with cudaMemcpy, which orders itself against the
// legacy default stream). Mixing host and device buffers is refused. The
// caller holds c.mu.
func (c *Comm) staged(bufs []collective.Buffer, f func(p []unsafe.Pointer) error) error {
	p := make([]unsafe.Pointer, len(bufs))
	host := 0
	for i, b := range bufs {
		p[i] = b.Ptr
		switch b.Device {
		case collective.CPU:
			host++
		case collective.CUDA:
		default:
			return fmt.Errorf("%w: nccl backend: buffer on device %d (want CUDA or host memory)", collective.ErrUnsupported, b.Device)
		}
	}
	switch host {
	case 0:
		return f(p)
	case len(bufs):
		return c.viaScratch(bufs, f)
	}
	return fmt.Errorf("%w: nccl backend: host and device buffers in one call", collective.ErrUnsupported)
}

func (c *Comm) viaScratch(bufs []collective.Buffer, f func(p []unsafe.Pointer) error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if r := c.cuda.setDevice(c.cfg.Device); r != cudaSuccess {
		return cudaErr(c.cuda, "cudaSetDevice", r)
	}
	off := make([]int, len(bufs)+1)
	for i, b := range bufs {
		off[i+1] = off[i] + (b.Bytes()+255)&^255
	}
	if err := c.growScratch(off[len(bufs)]); err != nil {
		return err
	}
	p := make([]unsafe.Pointer, len(bufs))
	for i, b := range bufs {
		p[i] = unsafe.Add(c.scratch.p, off[i])
		if r := c.cuda.memcpy(p[i], b.Ptr, b.Bytes(), memcpyHostToDevice); r != cudaSuccess {
			return cudaErr(c.cuda, "cudaMemcpy to device", r)
		}
	}
	if r := c.cuda.streamSync(0); r != cudaSuccess { // pageable copies may still be in flight
		return cudaErr(c.cuda, "cudaStreamSynchronize", r)
	}
	if err := f(p); err != nil {
		return err
	}
	for i, b := range bufs {
		if r := c.cuda.memcpy(b.Ptr, p[i], b.Bytes(), memcpyDeviceToHost); r != cudaSuccess {
			return cudaErr(c.cuda, "cudaMemcpy to host", r)
		}
	}
	return nil
}

func (c *Comm) growScratch(n int) error {
	if n <= c.scratch.n {
		return nil
	}
	c.scratch.free(c.cuda)
	p, r := c.cuda.malloc(n)
	if r != cudaSuccess {
		return cudaErr(c.cuda, "cudaMalloc", r)
	}
	c.scratch.p, c.scratch.n = p, n
	return nil
}
