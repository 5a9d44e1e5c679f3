//go:build !cgo

package optim

// adamC is the pure-Go twin of kernel.c's ddprun_adam: the same float32
// operations in the same order.
func adamC(w, g, m, v []float32, a adamArgs) { adamGo(w, g, m, v, a) }

// sumSquares matches kernel.c's ddprun_sumsq: 8 interleaved double sums.
func sumSquares(g []float32) float64 {
	var s [8]float64
	i := 0
	for ; i+8 <= len(g); i += 8 {
		for k := range 8 {
			s[k] += float64(g[i+k]) * float64(g[i+k])
		}
	}
	for ; i < len(g); i++ {
		s[0] += float64(g[i]) * float64(g[i])
	}
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

func scale(g []float32, c float32) {
	for i := range g {
		g[i] *= c
	}
}

const haveC = false
