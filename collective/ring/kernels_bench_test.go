package ring

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/ddprun/ddprun/collective"
)

// The bf16 wire kernels, benchmarked on one chunk (ChunkBytes' default of
// 1 MiB on the wire is 512Ki elements) and on a cache-resident 4Ki. SetBytes
// counts the float32 side, so GB/s compares across kernels.

var benchCounts = []int{4 << 10, 512 << 10}

// benchGradients returns n float32 values like gradients, and their bfloat16
// wire encoding.
func benchGradients(n int) ([]float32, []byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(rng.NormFloat64() * 1e-3)
	}
	w := make([]byte, 2*n)
	encodeBF16(w, unsafe.Pointer(&f[0]), n)
	return f, w
}

func benchKernel(b *testing.B, name string, f func(d []float32, w []byte, n int)) {
	for _, n := range benchCounts {
		b.Run(fmt.Sprintf("%s/count=%d", name, n), func(b *testing.B) {
			d, w := benchGradients(n)
			b.SetBytes(int64(4 * n))
			for b.Loop() {
				f(d, w, n)
			}
		})
	}
}

func BenchmarkEncodeBF16(b *testing.B) {
	benchKernel(b, "encode", func(d []float32, w []byte, n int) { encodeBF16(w, unsafe.Pointer(&d[0]), n) })
	benchKernel(b, "truncate", func(d []float32, w []byte, n int) { truncateBF16(w, unsafe.Pointer(&d[0]), n) })
}

func BenchmarkDecodeBF16(b *testing.B) {
	benchKernel(b, "decode", func(d []float32, w []byte, n int) { decodeBF16(unsafe.Pointer(&d[0]), w, n) })
}

func BenchmarkReduceBF16(b *testing.B) {
	// Sum keeps growing d; the values stay finite for any b.N that runs.
	benchKernel(b, "sum", func(d []float32, w []byte, n int) { reduceBF16(unsafe.Pointer(&d[0]), w, n, collective.Sum) })
	for _, size := range []int{2, 3} {
		benchKernel(b, fmt.Sprintf("final-avg/size=%d", size), func(d []float32, w []byte, n int) {
			reduceFinalBF16(unsafe.Pointer(&d[0]), w, n, collective.Avg, size)
		})
	}
}
