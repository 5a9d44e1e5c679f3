package ddp

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ddprun/ddprun/shard"
)

// parseClassWeights reads --class-weights: none (or ""), balanced, or
// explicit weights w0,w1,... in label order.
func parseClassWeights(s string) (balanced bool, w []float64, err error) {
	switch strings.TrimSpace(s) {
	case "", "none":
		return false, nil, nil
	case "balanced":
		return true, nil, nil
	}
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return false, nil, fmt.Errorf("ddp: --class-weights %q: %q is not a weight >= 0 (want none, balanced or w0,w1,...)", s, f)
		}
		w = append(w, v)
	}
	return false, w, nil
}

// classWeights resolves --class-weights for a training split with k
// classes: explicit weights must number k; balanced gives n / (k * count)
// per class, scikit-learn's compute_class_weight("balanced"), and 0 to a
// class without training rows (no row carries it anyway). nil: none.
func classWeights(s string, train *shard.Dataset, k int) ([]float64, error) {
	balanced, w, err := parseClassWeights(s)
	switch {
	case err != nil:
		return nil, err
	case balanced:
		counts := make([]int, k)
		for i := range train.Len() {
			counts[train.Label(i)]++
		}
		w = make([]float64, k)
		for i, c := range counts {
			if c > 0 {
				w[i] = float64(train.Len()) / float64(k*c)
			}
		}
	case w != nil && len(w) != k:
		return nil, fmt.Errorf("ddp: --class-weights has %d weights for %d classes (%s)", len(w), k, train.Name())
	}
	return w, nil
}
