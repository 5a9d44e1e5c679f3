package metrics

import "fmt"

// Note [Wire layout]: Int64s lays the integer sums out as
//
//	[0, K*K)  the confusion matrix, row-major: index label*K + pred
//	K*K       the example count N
//
// so the slice has K*K+1 elements and an element-wise sum of two ranks'
// slices is the slice of their merged Counts. The loss sum is a float64 and
// travels on its own (LossSum, SetLossSum): packing it into an int64 would
// lose either range or precision.

// Int64s returns c's integer sums in the layout of Note [Wire layout], in a
// new slice the caller may all-reduce in place.
func (c *Counts) Int64s() []int64 {
	out := make([]int64, c.k*c.k+1)
	copy(out, c.confusion)
	out[c.k*c.k] = c.n
	return out
}

// FromInt64s rebuilds Counts for k classes from a slice in the layout of
// Note [Wire layout]. The loss sum is zero; set it with SetLossSum. It fails
// if the length is wrong, a count is negative, or N is not the sum of the
// confusion matrix (a sign that ranks reduced different layouts).
func FromInt64s(k int, v []int64) (*Counts, error) {
	if k < 1 || len(v) != k*k+1 {
		return nil, fmt.Errorf("metrics: %d int64s for %d classes, want %d: %w", len(v), k, k*k+1, ErrMismatch)
	}
	c := NewCounts(k)
	copy(c.confusion, v[:k*k])
	c.n = v[k*k]
	var sum int64
	for i, x := range c.confusion {
		if x < 0 {
			return nil, fmt.Errorf("metrics: negative count %d at confusion[%d][%d]", x, i/k, i%k)
		}
		sum += x
	}
	if sum != c.n {
		return nil, fmt.Errorf("metrics: count %d differs from confusion total %d: %w", c.n, sum, ErrMismatch)
	}
	return c, nil
}
