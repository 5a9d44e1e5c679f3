package ring

import (
	"unsafe"

	"github.com/ddprun/ddprun/collective"
)

// A codec moves one buffer dtype over one wire dtype. Buffers hold partial
// results in their own dtype; the wire carries them in the wire dtype.
// See Note [Bit-identical results].
type codec struct {
	dtype, wire collective.DType
	direct      bool // wire bytes are the buffer's bytes: no conversion
	encode      func(dst []byte, src unsafe.Pointer, n int)
	// encodeExact encodes values already representable in the wire dtype
	// (all-gather forwarding); nil means encode.
	encodeExact func(dst []byte, src unsafe.Pointer, n int)
	// reduceFinal fuses the last reduce with finalize; nil means both.
	reduceFinal func(dst unsafe.Pointer, src []byte, n int, op collective.Op, size int)
	decode      func(dst unsafe.Pointer, src []byte, n int)
	reduce      func(dst unsafe.Pointer, src []byte, n int, op collective.Op)
	finalize    func(dst unsafe.Pointer, n int, op collective.Op, size int)
}

// Note [Bit-identical results]: in the reduce-scatter, each hop adds the
// received partial sum (decoded to float32 for 16-bit types) to the local
// value and sends the result rounded to the wire dtype. The owner of a
// block adds the last partial sum, divides by the world size for Avg (in
// float32), rounds to the wire dtype, and stores that rounded value in its
// own buffer (finalize) before sending it on in the all-gather, where the
// other ranks decode the same bits. Every rank therefore ends with the
// owner's value, bit for bit. The latency path instead gathers every
// rank's wire-rounded input and reduces them in rank order, the same on
// every rank, then rounds once.

func codecFor(dtype, wire collective.DType) codec {
	if dtype != collective.Float32 {
		wire = dtype // only float32 buffers travel in another dtype
	}
	c := codec{dtype: dtype, wire: wire, direct: dtype == wire}
	switch {
	case dtype == collective.Float32 && wire == collective.Float32:
		c.reduce, c.finalize, c.reduceFinal = reduceNative[float32], finalizeNative[float32], reduceFinalF32
	case dtype == collective.Float32 && wire == collective.BFloat16:
		c.encode, c.decode, c.reduce, c.finalize = encodeBF16, decodeBF16, reduceBF16, finalizeBF16
		c.encodeExact, c.reduceFinal = truncateBF16, reduceFinalBF16
	case dtype == collective.Float32:
		c.encode, c.decode, c.reduce, c.finalize = encodeF16, decodeF16, reduceF16, finalizeF16
	case dtype == collective.BFloat16:
		c.reduce, c.finalize = reduceHalf(bf16), finalizeHalf(bf16)
	case dtype == collective.Float16:
		c.reduce, c.finalize = reduceHalf(f16), finalizeHalf(f16)
	case dtype == collective.Int32:
		c.reduce, c.finalize = reduceNative[int32], finalizeNative[int32]
	case dtype == collective.Int64:
		c.reduce, c.finalize = reduceNative[int64], finalizeNative[int64]
	}
	if c.encodeExact == nil {
		c.encodeExact = c.encode
	}
	if c.reduceFinal == nil {
		c.reduceFinal = func(dst unsafe.Pointer, src []byte, n int, op collective.Op, size int) {
			c.reduce(dst, src, n, op)
			c.finalize(dst, n, op, size)
		}
	}
	return c
}

func view[T any](p unsafe.Pointer, n int) []T {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(p), n)
}

func bytesView[T any](b []byte) []T {
	var zero T
	return view[T](unsafe.Pointer(unsafe.SliceData(b)), len(b)/int(unsafe.Sizeof(zero)))
}

func unsafeBytes[T any](s []T) []byte {
	var zero T
	return view[byte](unsafe.Pointer(unsafe.SliceData(s)), len(s)*int(unsafe.Sizeof(zero)))
}

type number interface{ ~float32 | ~int32 | ~int64 }

func reduceNative[T number](dst unsafe.Pointer, src []byte, n int, op collective.Op) {
	d, s := view[T](dst, n), bytesView[T](src)[:n]
	switch op {
	case collective.Sum, collective.Avg:
		addTo(d, s)
	case collective.Max:
		for i := range d {
			d[i] = max(d[i], s[i])
		}
	case collective.Min:
		for i := range d {
			d[i] = min(d[i], s[i])
		}
	}
}

// addTo is dst += src, unrolled by 8 with bounds checks hoisted.
func addTo[T number](dst, src []T) {
	src = src[:len(dst)]
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		d, s := dst[i:i+8:i+8], src[i:i+8:i+8]
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
		d[4] += s[4]
		d[5] += s[5]
		d[6] += s[6]
		d[7] += s[7]
	}
	for ; i < len(dst); i++ {
		dst[i] += src[i]
	}
}

func finalizeNative[T number](dst unsafe.Pointer, n int, op collective.Op, size int) {
	if op != collective.Avg {
		return
	}
	d, k := view[T](dst, n), T(size)
	for i := range d {
		d[i] /= k
	}
}

// reduceFinalF32 fuses the owner's last add with Avg's division. Dividing
// by a power of two equals multiplying by its inverse, exactly.
func reduceFinalF32(dst unsafe.Pointer, src []byte, n int, op collective.Op, size int) {
	if op != collective.Avg || size&(size-1) != 0 {
		reduceNative[float32](dst, src, n, op)
		finalizeNative[float32](dst, n, op, size)
		return
	}
	d := view[float32](dst, n)
	s := bytesView[float32](src)[:len(d)]
	inv := 1 / float32(size)
	i := 0
	for ; i+4 <= len(d); i += 4 {
		dd, ss := d[i:i+4:i+4], s[i:i+4:i+4]
		dd[0] = (dd[0] + ss[0]) * inv
		dd[1] = (dd[1] + ss[1]) * inv
		dd[2] = (dd[2] + ss[2]) * inv
		dd[3] = (dd[3] + ss[3]) * inv
	}
	for ; i < len(d); i++ {
		d[i] = (d[i] + s[i]) * inv
	}
}

// bfloat16 wire for float32 buffers: the hot path of gradient sync. Each
// kernel hands the longest prefix it can to a vector version (the *Vec
// functions: AVX2 on amd64, see kernels_amd64.go; none elsewhere), which
// says how many elements it did, and finishes the tail with the scalar Go
// loop. See Note [Vector kernels].

// Note [Vector kernels]: the vector kernels give the scalar loops' results
// bit for bit, for every input: the same integer rounding (round to
// nearest even, NaN kept NaN with bit 6 set, as
// collective.BFloat16FromFloat32 does) and IEEE single adds and divides
// (a multiply where that is exact). One choice is not in the source: when
// both addends are NaN, IEEE 754 and the Go spec let the sum be either.
// The vector adds keep dst's, as gc's scalar code does in a plain build
// (under -race gc swaps the operands). The *Go functions are the reference;
// kernels_simd_test.go compares the two on every float32 bit pattern for
// the rounding, and on random and special values, lengths 0..67 and every
// alignment for the rest.

func encodeBF16(dst []byte, src unsafe.Pointer, n int) {
	s := view[float32](src, n)
	d := bytesView[uint16](dst)[:len(s)]
	i := encodeBF16Vec(d, s)
	encodeBF16Go(d[i:], s[i:])
}

// encodeBF16Go rounds s to bfloat16 in d, unrolled by 4.
func encodeBF16Go(d []uint16, s []float32) {
	d = d[:len(s)]
	i := 0
	for ; i+4 <= len(s); i += 4 {
		ss, dd := s[i:i+4:i+4], d[i:i+4:i+4]
		dd[0] = collective.BFloat16FromFloat32(ss[0])
		dd[1] = collective.BFloat16FromFloat32(ss[1])
		dd[2] = collective.BFloat16FromFloat32(ss[2])
		dd[3] = collective.BFloat16FromFloat32(ss[3])
	}
	for ; i < len(s); i++ {
		d[i] = collective.BFloat16FromFloat32(s[i])
	}
}

// truncateBF16 encodes float32 values that are exactly bfloat16 (decoded
// from the wire, or rounded by finalize): the top half is the encoding.
func truncateBF16(dst []byte, src unsafe.Pointer, n int) {
	s := view[uint32](src, n)
	d := bytesView[uint16](dst)[:len(s)]
	i := truncateBF16Vec(d, s)
	truncateBF16Go(d[i:], s[i:])
}

func truncateBF16Go(d []uint16, s []uint32) {
	d = d[:len(s)]
	i := 0
	for ; i+4 <= len(s); i += 4 {
		ss, dd := s[i:i+4:i+4], d[i:i+4:i+4]
		dd[0] = uint16(ss[0] >> 16)
		dd[1] = uint16(ss[1] >> 16)
		dd[2] = uint16(ss[2] >> 16)
		dd[3] = uint16(ss[3] >> 16)
	}
	for ; i < len(s); i++ {
		d[i] = uint16(s[i] >> 16)
	}
}

// reduceFinalBF16 is the owner's last step, fused: add, divide for Avg,
// round to bfloat16. See Note [Bit-identical results].
func reduceFinalBF16(dst unsafe.Pointer, src []byte, n int, op collective.Op, size int) {
	if op != collective.Sum && op != collective.Avg {
		reduceBF16(dst, src, n, op)
		finalizeBF16(dst, n, op, size)
		return
	}
	d := view[float32](dst, n)
	s := bytesView[uint16](src)[:len(d)]
	avg := op == collective.Avg
	i := reduceFinalBF16Vec(d, s, avg, size)
	reduceFinalBF16Go(d[i:], s[i:], avg, size)
}

// reduceFinalBF16Go sets d to bfloat16(d+s), or bfloat16((d+s)/size) if avg.
func reduceFinalBF16Go(d []float32, s []uint16, avg bool, size int) {
	s = s[:len(d)]
	k := float32(size)
	for i, h := range s {
		f := d[i] + bf16f(h)
		if avg {
			f /= k
		}
		d[i] = bf16f(collective.BFloat16FromFloat32(f))
	}
}

func decodeBF16(dst unsafe.Pointer, src []byte, n int) {
	s := bytesView[uint16](src)[:n]
	d := view[uint32](dst, n)[:len(s)]
	i := decodeBF16Vec(d, s)
	decodeBF16Go(d[i:], s[i:])
}

func decodeBF16Go(d []uint32, s []uint16) {
	d = d[:len(s)]
	for i, h := range s {
		d[i] = uint32(h) << 16
	}
}

func reduceBF16(dst unsafe.Pointer, src []byte, n int, op collective.Op) {
	d, s := view[float32](dst, n), bytesView[uint16](src)[:n]
	if op == collective.Sum || op == collective.Avg {
		addBF16(d, s)
		return
	}
	for i := range d {
		d[i] = combine(d[i], collective.Float32FromBFloat16(s[i]), op)
	}
}

// addBF16 is dst += float32(src).
func addBF16(dst []float32, src []uint16) {
	i := addBF16Vec(dst, src)
	addBF16Go(dst[i:], src[i:])
}

// addBF16Go is addBF16's scalar loop, unrolled by 8.
func addBF16Go(dst []float32, src []uint16) {
	src = src[:len(dst)]
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		d, s := dst[i:i+8:i+8], src[i:i+8:i+8]
		d[0] += bf16f(s[0])
		d[1] += bf16f(s[1])
		d[2] += bf16f(s[2])
		d[3] += bf16f(s[3])
		d[4] += bf16f(s[4])
		d[5] += bf16f(s[5])
		d[6] += bf16f(s[6])
		d[7] += bf16f(s[7])
	}
	for ; i < len(dst); i++ {
		dst[i] += bf16f(src[i])
	}
}

func bf16f(h uint16) float32 { return collective.Float32FromBFloat16(h) }

func finalizeBF16(dst unsafe.Pointer, n int, op collective.Op, size int) {
	d, k := view[float32](dst, n), float32(size)
	for i, f := range d {
		if op == collective.Avg {
			f /= k
		}
		d[i] = bf16f(collective.BFloat16FromFloat32(f))
	}
}

func combine(a, b float32, op collective.Op) float32 {
	switch op {
	case collective.Max:
		return max(a, b)
	case collective.Min:
		return min(a, b)
	}
	return a + b
}

// float16 wire for float32 buffers, and 16-bit buffers: not hot, so they
// share generic loops over a conversion pair.

type half struct {
	enc func(float32) uint16
	dec func(uint16) float32
}

var (
	bf16 = half{collective.BFloat16FromFloat32, collective.Float32FromBFloat16}
	f16  = half{collective.Float16FromFloat32, collective.Float32FromFloat16}
)

func encodeF16(dst []byte, src unsafe.Pointer, n int) {
	d, s := bytesView[uint16](dst)[:n], view[float32](src, n)
	for i, f := range s {
		d[i] = f16.enc(f)
	}
}

func decodeF16(dst unsafe.Pointer, src []byte, n int) {
	d, s := view[float32](dst, n), bytesView[uint16](src)[:n]
	for i, h := range s {
		d[i] = f16.dec(h)
	}
}

func reduceF16(dst unsafe.Pointer, src []byte, n int, op collective.Op) {
	d, s := view[float32](dst, n), bytesView[uint16](src)[:n]
	for i := range d {
		d[i] = combine(d[i], f16.dec(s[i]), op)
	}
}

func finalizeF16(dst unsafe.Pointer, n int, op collective.Op, size int) {
	d := view[float32](dst, n)
	for i, f := range d {
		if op == collective.Avg {
			f /= float32(size)
		}
		d[i] = f16.dec(f16.enc(f))
	}
}

func reduceHalf(h half) func(unsafe.Pointer, []byte, int, collective.Op) {
	return func(dst unsafe.Pointer, src []byte, n int, op collective.Op) {
		d, s := view[uint16](dst, n), bytesView[uint16](src)[:n]
		for i := range d {
			d[i] = h.enc(combine(h.dec(d[i]), h.dec(s[i]), op))
		}
	}
}

func finalizeHalf(h half) func(unsafe.Pointer, int, collective.Op, int) {
	return func(dst unsafe.Pointer, n int, op collective.Op, size int) {
		if op != collective.Avg {
			return
		}
		d := view[uint16](dst, n)
		for i := range d {
			d[i] = h.enc(h.dec(d[i]) / float32(size))
		}
	}
}
