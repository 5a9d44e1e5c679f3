package collective

import (
	"fmt"
	"unsafe"
)

// Device says where a Buffer's memory lives.
type Device uint8

// Devices. The ring backend handles CPU buffers only.
const (
	CPU Device = iota
	CUDA
	HPU
)

// Buffer describes rank-local memory holding Count elements of DType: host
// memory for the ring backend, device memory (gotch Tensor.DataPtr) for nccl.
// A backend must not keep a Buffer after the call returns, and the caller
// must not touch the memory while a call that uses it is running.
type Buffer struct {
	Ptr    unsafe.Pointer
	Count  int
	DType  DType
	Device Device
}

// NewBuffer describes count elements of dtype at ptr in host memory, such as
// the data pointer of a contiguous CPU tensor. ptr must stay valid (and, for
// Go memory, reachable) for as long as the Buffer is in use.
func NewBuffer(ptr unsafe.Pointer, count int, dtype DType) Buffer {
	return Buffer{Ptr: ptr, Count: count, DType: dtype}
}

// Float32s describes a float32 slice.
func Float32s(s []float32) Buffer { return sliceBuffer(s, Float32) }

// BFloat16s describes a slice of bfloat16 bit patterns.
func BFloat16s(s []uint16) Buffer { return sliceBuffer(s, BFloat16) }

// Float16s describes a slice of IEEE binary16 bit patterns.
func Float16s(s []uint16) Buffer { return sliceBuffer(s, Float16) }

// Int32s describes an int32 slice.
func Int32s(s []int32) Buffer { return sliceBuffer(s, Int32) }

// Int64s describes an int64 slice.
func Int64s(s []int64) Buffer { return sliceBuffer(s, Int64) }

func sliceBuffer[T any](s []T, d DType) Buffer {
	return Buffer{Ptr: unsafe.Pointer(unsafe.SliceData(s)), Count: len(s), DType: d}
}

// Bytes is the size of the buffer in bytes.
func (b Buffer) Bytes() int { return b.Count * b.DType.Size() }

// ByteSlice views a host buffer's memory as bytes (nil when empty).
func (b Buffer) ByteSlice() []byte {
	if b.Count == 0 || b.Ptr == nil {
		return nil
	}
	return unsafe.Slice((*byte)(b.Ptr), b.Bytes())
}

// Check reports whether b is well formed: a known dtype, a non-negative
// count and a non-nil pointer when the count is positive.
func (b Buffer) Check() error {
	switch {
	case !b.DType.Valid():
		return fmt.Errorf("%w: unknown dtype %v", ErrInvalid, b.DType)
	case b.Count < 0:
		return fmt.Errorf("%w: negative count %d", ErrInvalid, b.Count)
	case b.Count > 0 && b.Ptr == nil:
		return fmt.Errorf("%w: nil pointer with count %d", ErrInvalid, b.Count)
	}
	return nil
}

// Slice returns the elements [lo, hi) of b.
func (b Buffer) Slice(lo, hi int) Buffer {
	if lo < 0 || hi < lo || hi > b.Count {
		panic(fmt.Sprintf("collective: Buffer.Slice(%d, %d) of %d elements", lo, hi, b.Count))
	}
	p := b.Ptr
	if hi > lo {
		p = unsafe.Add(b.Ptr, lo*b.DType.Size())
	}
	return Buffer{Ptr: p, Count: hi - lo, DType: b.DType, Device: b.Device}
}
