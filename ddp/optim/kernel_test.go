package optim

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The C kernels (when built with cgo) give the same bits as the Go ones,
// on random data including signed zeros, tiny and huge values.
func TestKernelsMatchGo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 10_007
	mk := func() []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(12)-6)))
		}
		return s
	}
	for _, dec := range []bool{true, false} {
		w, g, m, v := mk(), mk(), mk(), mk()
		for i := range v {
			v[i] = float32(math.Abs(float64(v[i])))
		}
		w2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
		a := adamArgs{shrink: 0.9999, l2: 0.01, decoupled: dec, b1: 0.9, b1c: 0.1, b2: 0.999, b2c: 0.001, bc2s: 0.3, eps: 1e-8, step: -1e-3}
		adamC(w, g, m, v, a)
		adamGo(w2, g, m2, v2, a)
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(w2[i]) || m[i] != m2[i] || v[i] != v2[i] {
				t.Fatalf("decoupled=%v element %d: C (%v %v %v) vs Go (%v %v %v)", dec, i, w[i], m[i], v[i], w2[i], m2[i], v2[i])
			}
		}
	}
	g := mk()
	var want [8]float64
	i := 0
	for ; i+8 <= n; i += 8 {
		for k := range 8 {
			want[k] += float64(g[i+k]) * float64(g[i+k])
		}
	}
	for ; i < n; i++ {
		want[0] += float64(g[i]) * float64(g[i])
	}
	w := ((want[0] + want[1]) + (want[2] + want[3])) + ((want[4] + want[5]) + (want[6] + want[7]))
	if got := sumSquares(g); got != w {
		t.Errorf("sum of squares %v, want %v (C kernels: %v)", got, w, haveC)
	}
}
