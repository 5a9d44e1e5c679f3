package ring

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"unsafe"

	"github.com/ddprun/ddprun/collective"
)

// The bf16 wire kernels against their scalar Go loops, bit for bit. See
// Note [Vector kernels].

func logVector(t testing.TB) {
	t.Helper()
	if encodeBF16Vec(make([]uint16, 64), make([]float32, 64)) == 0 {
		t.Log("no vector kernels on this GOARCH or CPU: comparing the scalar loops with themselves")
	}
}

// specialF32 are float32 bit patterns at the edges of bfloat16 rounding.
var specialF32 = []uint32{
	0x00000000, 0x80000000, // ±0
	0x7f800000, 0xff800000, // ±Inf
	0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, // quiet, signalling NaN
	0x7f80ffff, 0x7fbf8000, 0x7fffffff, 0xffffffff, 0x7fff8000, // NaN payloads, low half only
	0x00000001, 0x80000001, 0x00007fff, 0x00008000, 0x00018000, 0x007fffff, 0x00800000, // subnormals, ties
	0x3f800000, 0x3f808000, 0x3f818000, 0x3f807fff, 0x3f808001, 0xbf808000, // 1.0 and ties around it
	0x7f7fffff, 0xff7fffff, 0x7f7f8000, 0x7f7f7fff, 0x7f7f0000, // overflow to Inf, or not
	0x4b400000, 0x3effffff,
}

// specialBF16 are bfloat16 patterns: zeros, infinities, NaNs, subnormals.
var specialBF16 = []uint16{
	0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0xffc0, 0x7f81, 0xff81, 0x7fff, 0xffff,
	0x0001, 0x8001, 0x007f, 0x0080, 0x3f80, 0xbf80, 0x7f7f, 0xff7f, 0x3f81, 0x4000,
}

// randF32 returns n float32 bit patterns: a quarter uniformly random (so
// NaNs of every payload, subnormals), a quarter specials, and the rest
// normal numbers of one scale, whose sums round and cancel.
func randF32(rng *rand.Rand, n int) []uint32 {
	v := make([]uint32, n)
	for i := range v {
		switch rng.IntN(4) {
		case 0:
			v[i] = rng.Uint32()
		case 1:
			v[i] = specialF32[rng.IntN(len(specialF32))]
		default:
			v[i] = math.Float32bits(float32(rng.NormFloat64()))
		}
	}
	return v
}

func randBF16(rng *rand.Rand, n int) []uint16 {
	v := make([]uint16, n)
	for i := range v {
		switch rng.IntN(4) {
		case 0:
			v[i] = uint16(rng.Uint32())
		case 1:
			v[i] = specialBF16[rng.IntN(len(specialBF16))]
		default:
			v[i] = collective.BFloat16FromFloat32(float32(rng.NormFloat64()))
		}
	}
	return v
}

// guardLen is how many elements past the end of each kernel's output
// hold random values that it must leave alone.
const guardLen = 17

func ptr[T any](s []T, off int) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(s[off:])) }

// kernelCase is one kernel run two ways on the same inputs: got through
// the codec function (vector prefix and scalar tail), want through the
// scalar loop alone. Both take count elements at offset off of their
// buffers, which hold count+off+guardLen.
type kernelCase struct {
	name string
	run  func(t *testing.T, rng *rand.Rand, off, count int)
}

// checkEqual fails unless got and want, the whole buffers with their
// guards, are equal bit for bit.
func checkEqual[T uint16 | uint32](t *testing.T, what string, off, count int, got, want []T) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s off=%d count=%d: element %d: got %#x, want %#x", what, off, count, i-off, got[i], want[i])
		}
	}
}

// checkSum is checkEqual for got = round(d+s), where round keeps the
// bits of got that mask selects, except that a sum of two NaNs may be
// either one, quieted. IEEE 754 and the Go spec leave that choice open, and
// gc makes it by register allocation: the scalar loops keep d's NaN in a
// plain build and s's under -race. The vector kernels always keep d's (see
// TestBF16Kernels_NaNOrder).
func checkSum(t *testing.T, what string, off, count int, got, want, d []uint32, s []uint16, mask uint32) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] && !nanSum(got[i], d[i], s[i], mask) {
			t.Fatalf("%s off=%d count=%d: element %d: %#x + %#x: got %#x, want %#x",
				what, off, count, i-off, d[i], s[i], got[i], want[i])
		}
	}
}

// nanSum reports whether v is a sum of the NaNs d and s, rounded by mask.
func nanSum(v, d uint32, s uint16, mask uint32) bool {
	if d&0x7fffffff <= 0x7f800000 || s&0x7fff <= 0x7f80 {
		return false
	}
	return v == (d|0x400000)&mask || v == (uint32(s)<<16|0x400000)&mask
}

var kernelCases = []kernelCase{
	{"encode", func(t *testing.T, rng *rand.Rand, off, count int) {
		s := randF32(rng, off+count+guardLen)
		got := randBF16(rng, len(s))
		want := slices.Clone(got)
		encodeBF16(unsafeBytes(got[off:]), ptr(s, off), count)
		encodeBF16Go(want[off:off+count], f32s(s)[off:off+count])
		checkEqual(t, "encode", off, count, got, want)
	}},
	{"truncate", func(t *testing.T, rng *rand.Rand, off, count int) {
		s := randF32(rng, off+count+guardLen)
		got := randBF16(rng, len(s))
		want := slices.Clone(got)
		truncateBF16(unsafeBytes(got[off:]), ptr(s, off), count)
		truncateBF16Go(want[off:off+count], s[off:off+count])
		checkEqual(t, "truncate", off, count, got, want)
	}},
	{"decode", func(t *testing.T, rng *rand.Rand, off, count int) {
		s := randBF16(rng, off+count+guardLen)
		got := randF32(rng, len(s))
		want := slices.Clone(got)
		decodeBF16(ptr(got, off), unsafeBytes(s[off:]), count)
		decodeBF16Go(want[off:off+count], s[off:off+count])
		checkEqual(t, "decode", off, count, got, want)
	}},
	{"add", func(t *testing.T, rng *rand.Rand, off, count int) {
		s := randBF16(rng, off+count+guardLen)
		got := randF32(rng, len(s))
		d, want := slices.Clone(got), slices.Clone(got)
		reduceBF16(ptr(got, off), unsafeBytes(s[off:]), count, collective.Sum)
		addBF16Go(f32s(want)[off:off+count], s[off:off+count])
		checkSum(t, "add", off, count, got, want, d, s, ^uint32(0))
	}},
}

func f32s(u []uint32) []float32 { return bytesView[float32](unsafeBytes(u)) }

func init() {
	for _, op := range []collective.Op{collective.Sum, collective.Avg} {
		for _, size := range []int{1, 2, 3, 4, 6, 8} {
			if op == collective.Sum && size > 1 {
				continue // size is unused
			}
			name := fmt.Sprintf("reduce-final/op=%v/size=%d", op, size)
			kernelCases = append(kernelCases, kernelCase{name, func(t *testing.T, rng *rand.Rand, off, count int) {
				s := randBF16(rng, off+count+guardLen)
				got := randF32(rng, len(s))
				d, want := slices.Clone(got), slices.Clone(got)
				reduceFinalBF16(ptr(got, off), unsafeBytes(s[off:]), count, op, size)
				reduceFinalBF16Go(f32s(want)[off:off+count], s[off:off+count], op == collective.Avg, size)
				checkSum(t, name, off, count, got, want, d, s, 0xffff0000)
			}})
		}
	}
}

// TestBF16Kernels_Vector runs every kernel on lengths 0..67 and a few
// long ones, at element offsets 0..7 (every alignment to a 32-byte
// vector), on random and special values.
func TestBF16Kernels_Vector(t *testing.T) {
	logVector(t)
	counts := []int{1000, 4099, 1 << 16}
	for c := range 68 {
		counts = append(counts, c)
	}
	for _, k := range kernelCases {
		t.Run(k.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 7))
			for _, count := range counts {
				for off := range 8 {
					for range 4 {
						k.run(t, rng, off, count)
					}
				}
			}
		})
	}
}

// TestBF16Kernels_NaNOrder checks that the vector kernels keep dst's NaN
// when both addends are NaN, as the scalar loops do in a plain build (see
// checkSum), so that the two agree bit for bit there too.
func TestBF16Kernels_NaNOrder(t *testing.T) {
	logVector(t)
	const n = 64
	s := make([]uint16, n)
	d := make([]uint32, n)
	for i := range n {
		s[i] = 0x7f81 + uint16(i) | uint16(i&1)<<15 // signalling, either sign
		d[i] = 0x7fc00001 + uint32(i)<<16           // quiet, payload in both halves
	}
	got := slices.Clone(d)
	k := addBF16Vec(f32s(got), s)
	for i := range k {
		if want := d[i] | 0x400000; got[i] != want {
			t.Errorf("add %#x + %#x: got %#x, want %#x", d[i], s[i], got[i], want)
		}
	}
	for _, size := range []int{2, 3} {
		copy(got, d)
		k = reduceFinalBF16Vec(f32s(got), s, true, size)
		for i := range k {
			if want := (d[i] | 0x400000) & 0xffff0000; got[i] != want {
				t.Errorf("reduce-final size=%d %#x + %#x: got %#x, want %#x", size, d[i], s[i], got[i], want)
			}
		}
	}
}

// TestEncodeBF16_AllFloat32 encodes every float32 bit pattern both ways,
// or with -short or -race (which slows the scalar loops 30 times) those
// with a zero or all-ones exponent and every 61st top half. It also rounds
// the patterns with a zero or all-ones exponent and every 16th top half
// through the fused reduce, adding -0: that changes nothing but quieting
// a signalling NaN, as the scalar add does.
func TestEncodeBF16_AllFloat32(t *testing.T) {
	logVector(t)
	every := 1
	if testing.Short() || raceEnabled {
		every = 61
	}
	workers := runtime.GOMAXPROCS(0)
	bad := make([]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { bad[w] = sweepBF16(w, workers, every) })
	}
	wg.Wait()
	for _, b := range bad {
		if b != "" {
			t.Error(b)
		}
	}
}

// sweepBF16 checks the patterns whose top half hi is w, w+step, ... and a
// multiple of every or has a zero or all-ones exponent, and describes the
// first mismatch.
func sweepBF16(w, step, every int) string {
	const block = 1 << 16
	negZero := make([]uint16, block)
	for i := range negZero {
		negZero[i] = 0x8000
	}
	src := make([]uint32, block)
	pairs := bytesView[uint64](unsafeBytes(src)) // two patterns at once
	got, want := make([]uint16, block), make([]uint16, block)
	gotF, wantF := make([]uint32, block), make([]uint32, block)
	for hi := w; hi < 1<<16; hi += step {
		exp := hi & 0x7f80
		special := exp == 0 || exp == 0x7f80
		if hi%every != 0 && !special {
			continue
		}
		top := uint64(hi) << 16 * (1<<32 + 1)
		for i := range pairs {
			pairs[i] = top | uint64(2*i) | uint64(2*i+1)<<32
		}
		encodeBF16(unsafeBytes(got), ptr(src, 0), block)
		encodeBF16Go(want, f32s(src))
		if !bytes.Equal(unsafeBytes(got), unsafeBytes(want)) {
			i := firstDiff(got, want)
			return fmt.Sprintf("encode %#08x: got %#04x, want %#04x", src[i], got[i], want[i])
		}
		if hi%16 != 0 && !special {
			continue
		}
		copy(gotF, src)
		copy(wantF, src)
		reduceFinalBF16(ptr(gotF, 0), unsafeBytes(negZero), block, collective.Sum, 1)
		reduceFinalBF16Go(f32s(wantF), negZero, false, 1)
		if !bytes.Equal(unsafeBytes(gotF), unsafeBytes(wantF)) {
			i := firstDiff(gotF, wantF)
			return fmt.Sprintf("reduce-final %#08x: got %#08x, want %#08x", src[i], gotF[i], wantF[i])
		}
	}
	return ""
}

func firstDiff[T comparable](a, b []T) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// FuzzBF16Kernels reads float32 and bfloat16 patterns from the input and
// compares every kernel with its scalar loop.
func FuzzBF16Kernels(f *testing.F) {
	seed := make([]byte, 0, 6*len(specialF32))
	for i, v := range specialF32 {
		h := specialBF16[i%len(specialBF16)]
		seed = append(seed, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(h), byte(h>>8))
	}
	f.Add(seed, uint8(0))
	f.Add(seed[:6*17], uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, size uint8) {
		n := len(b) / 6
		d := make([]uint32, n)
		s := make([]uint16, n)
		for i := range n {
			e := b[6*i:]
			d[i] = uint32(e[0]) | uint32(e[1])<<8 | uint32(e[2])<<16 | uint32(e[3])<<24
			s[i] = uint16(e[4]) | uint16(e[5])<<8
		}
		fuzzKernels(t, d, s, int(size)%9+1)
	})
}

func fuzzKernels(t *testing.T, d []uint32, s []uint16, size int) {
	n := len(d)
	if n == 0 {
		return
	}
	gotH, wantH := make([]uint16, n), make([]uint16, n)
	encodeBF16(unsafeBytes(gotH), ptr(d, 0), n)
	encodeBF16Go(wantH, f32s(d))
	checkEqual(t, "encode", 0, n, gotH, wantH)
	truncateBF16(unsafeBytes(gotH), ptr(d, 0), n)
	truncateBF16Go(wantH, d)
	checkEqual(t, "truncate", 0, n, gotH, wantH)
	gotF, wantF := make([]uint32, n), make([]uint32, n)
	decodeBF16(ptr(gotF, 0), unsafeBytes(s), n)
	decodeBF16Go(wantF, s)
	checkEqual(t, "decode", 0, n, gotF, wantF)
	copy(gotF, d)
	copy(wantF, d)
	reduceBF16(ptr(gotF, 0), unsafeBytes(s), n, collective.Sum)
	addBF16Go(f32s(wantF), s)
	checkSum(t, "add", 0, n, gotF, wantF, d, s, ^uint32(0))
	for _, op := range []collective.Op{collective.Sum, collective.Avg} {
		copy(gotF, d)
		copy(wantF, d)
		reduceFinalBF16(ptr(gotF, 0), unsafeBytes(s), n, op, size)
		reduceFinalBF16Go(f32s(wantF), s, op == collective.Avg, size)
		checkSum(t, fmt.Sprintf("reduce-final op=%v size=%d", op, size), 0, n, gotF, wantF, d, s, 0xffff0000)
	}
}
