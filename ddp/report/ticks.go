package report

import (
	"math"
	"strconv"
	"strings"
)

// niceTicks returns about n round tick values covering [lo, hi], and the
// widened range they span.
func niceTicks(lo, hi float64, n int) (ticks []float64, tlo, thi float64) {
	if !(hi > lo) {
		d := math.Max(math.Abs(lo)*0.1, 1e-9)
		if lo == 0 {
			d = 1
		}
		lo, hi = lo-d, hi+d
	}
	step := niceNum((hi - lo) / float64(n-1))
	tlo, thi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	for v := tlo; v <= thi+step/2; v += step {
		ticks = append(ticks, math.Round(v/step)*step)
	}
	return ticks, tlo, thi
}

// niceNum rounds x to the nearest of 1, 2, 2.5 or 5 times a power of ten.
func niceNum(x float64) float64 {
	exp := math.Floor(math.Log10(x))
	f := x / math.Pow(10, exp)
	switch {
	case f < 1.5:
		f = 1
	case f < 2.25:
		f = 2
	case f < 3.5:
		f = 2.5
	case f < 7.5:
		f = 5
	default:
		f = 10
	}
	return f * math.Pow(10, exp)
}

// tickLabel formats v for an axis whose ticks are step apart: "20k" for
// large values, "2e-5" for tiny ones, else as few decimals as the step
// needs ("1.1004" on a narrow range around 1.1).
func tickLabel(v, step float64) string {
	if v == 0 {
		return "0"
	}
	a := math.Abs(v)
	switch {
	case a >= 1e4 && step >= 1000:
		return trim(strconv.FormatFloat(v/1000, 'f', decimals(step/1000), 64)) + "k"
	case a < 1e-3:
		s := strconv.FormatFloat(v, 'e', max(0, decimals(step/math.Pow(10, math.Floor(math.Log10(a))))), 64)
		m, e, _ := strings.Cut(s, "e")
		exp, _ := strconv.Atoi(e)
		return trim(m) + "e" + strconv.Itoa(exp)
	}
	return strconv.FormatFloat(v, 'f', decimals(step), 64)
}

func decimals(step float64) int {
	d := 0
	for s := step; d < 8 && math.Abs(s-math.Round(s)) > 1e-9*math.Max(1, s); s *= 10 {
		d++
	}
	return d
}

func trim(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
