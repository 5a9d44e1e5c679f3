package report

import (
	"math"

	"github.com/ddprun/ddprun/ddp/runlog"
)

// pt is one point of a series: a step and a value.
type pt struct{ x, y float64 }

// extract returns the (step, field) points of entries of kind, in step
// order. See Note [Resumed runs].
func extract(entries []runlog.Entry, kind runlog.Kind, field string) []pt {
	var out []pt
	for _, e := range entries {
		if e.Kind != kind {
			continue
		}
		v, ok := e.Float(field)
		if !ok {
			continue
		}
		x := float64(e.Step)
		for len(out) > 0 && out[len(out)-1].x >= x {
			out = out[:len(out)-1]
		}
		out = append(out, pt{x, v})
	}
	return out
}

// smooth returns TensorBoard's debiased exponential moving average of pts,
// with a weight that grows with the number of points so that long runs
// still show a trend. Non-finite values are skipped.
func smooth(pts []pt) []pt {
	w := 0.6
	switch n := len(pts); {
	case n > 2000:
		w = 0.98
	case n > 500:
		w = 0.95
	case n > 100:
		w = 0.9
	case n > 30:
		w = 0.8
	}
	var out []pt
	var acc, debias float64
	for _, p := range pts {
		if !finite(p.y) {
			continue
		}
		acc = w*acc + (1-w)*p.y
		debias = w*debias + (1 - w)
		out = append(out, pt{p.x, acc / debias})
	}
	return out
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// decimate keeps at most about 2*buckets points: the first, the minimum and
// the maximum of each bucket of x, in order, so spikes stay visible.
func decimate(pts []pt, buckets int) []pt {
	if len(pts) <= 2*buckets {
		return pts
	}
	lo, hi := pts[0].x, pts[len(pts)-1].x
	var out []pt
	for i := 0; i < len(pts); {
		b := bucket(pts[i].x, lo, hi, buckets)
		mn, mx := i, i
		j := i
		for ; j < len(pts) && bucket(pts[j].x, lo, hi, buckets) == b; j++ {
			if pts[j].y < pts[mn].y {
				mn = j
			}
			if pts[j].y > pts[mx].y {
				mx = j
			}
		}
		out = append(out, pts[min(mn, mx)])
		if mn != mx {
			out = append(out, pts[max(mn, mx)])
		}
		i = j
	}
	return out
}

func bucket(x, lo, hi float64, n int) int {
	if hi <= lo {
		return 0
	}
	return min(n-1, int((x-lo)/(hi-lo)*float64(n)))
}
