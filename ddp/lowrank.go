package ddp

/*
#cgo CFLAGS: -O3
#include <stddef.h>
void ddprun_lowrank_mq(float* pt, const float* m, const float* qt, size_t n, size_t cols, size_t r);
void ddprun_lowrank_mtp(float* qt, const float* m, const float* pt, size_t n, size_t cols, size_t r);
void ddprun_lowrank_pqt(float* m, const float* pt, const float* qt, size_t n, size_t cols, size_t r);
void ddprun_lowrank_feed(float* g, float* resid, size_t n);
void ddprun_lowrank_keep(float* resid, const float* g, size_t n);
*/
import "C"

import (
	"math"
	"unsafe"
)

// The matrix products of PowerSGD (Note [PowerSGD]) on float32 host
// memory: a gradient M, n x m row-major, and its factors stored
// transposed, Pᵀ (r x n) and Qᵀ (r x m), so that each factor's columns are
// contiguous rows (for orthogonalize, and for vectorised loops over M's
// rows). The products are C (lowrank.c), 10-40x faster than Go's scalar
// loops here (BenchmarkPowerSGD); the Go slices hold no Go pointers and C
// keeps none.

// mulMQ sets pt = (M Q)ᵀ.
func mulMQ(pt, mat, qt []float32, n, m, r int) {
	_, _, _ = pt[r*n-1], mat[n*m-1], qt[r*m-1]
	C.ddprun_lowrank_mq(cfloats(pt), cfloats(mat), cfloats(qt), C.size_t(n), C.size_t(m), C.size_t(r))
}

// mulMtP sets qt = (Mᵀ P)ᵀ.
func mulMtP(qt, mat, pt []float32, n, m, r int) {
	_, _, _ = pt[r*n-1], mat[n*m-1], qt[r*m-1]
	C.ddprun_lowrank_mtp(cfloats(qt), cfloats(mat), cfloats(pt), C.size_t(n), C.size_t(m), C.size_t(r))
}

// mulPQt sets M = P Qᵀ, the same bits on every CPU (lowrank.c).
func mulPQt(mat, pt, qt []float32, n, m, r int) {
	_, _, _ = pt[r*n-1], mat[n*m-1], qt[r*m-1]
	C.ddprun_lowrank_pqt(cfloats(mat), cfloats(pt), cfloats(qt), C.size_t(n), C.size_t(m), C.size_t(r))
}

// feedResidual sets g += resid and resid = g (error feedback's input).
func feedResidual(g, resid []float32) {
	if len(g) > 0 {
		_ = resid[len(g)-1]
		C.ddprun_lowrank_feed(cfloats(g), cfloats(resid), C.size_t(len(g)))
	}
}

// keepResidual sets resid -= g (the input minus the output).
func keepResidual(resid, g []float32) {
	if len(g) > 0 {
		_ = resid[len(g)-1]
		C.ddprun_lowrank_keep(cfloats(resid), cfloats(g), C.size_t(len(g)))
	}
}

func cfloats(s []float32) *C.float { return (*C.float)(unsafe.Pointer(unsafe.SliceData(s))) }

// orthogonalize makes the r rows of a (r x length) orthonormal, in order,
// by Gram-Schmidt in float64 with each row projected twice ("twice is
// enough": orthogonal to float64 rounding however ill conditioned the
// rows, as torch's Householder QR is to float32 rounding; one float32 pass,
// torch's Gram-Schmidt, loses orthogonality in proportion to the condition
// number, and differed from torch's QR by 6e-5 after three steps of the
// fixture). A row that is a combination of the rows before it (less than
// 1e-6 of its norm left after projection: float32 rounding) or zero (a
// parameter that got no gradient) cannot be normalised: refill, if not
// nil, replaces it by another vector, which is orthogonalised in turn;
// without refill the row becomes zero, where torch's epsilon-free
// Gram-Schmidt makes NaNs. The conversions round every product, so that
// no multiply-add is fused and every CPU gets the same bits. scratch is
// reused across calls.
func orthogonalize(a []float32, r, length int, scratch *[]float64, refill func(row []float64)) {
	a = a[:r*length]
	if cap(*scratch) < len(a) {
		*scratch = make([]float64, len(a))
	}
	w := (*scratch)[:len(a)]
	for k, v := range a {
		w[k] = float64(v)
	}
	for c := range r {
		row := w[c*length : (c+1)*length]
		if !orthonormalize(row, w[:c*length], length) && refill != nil {
			refill(row)
			orthonormalize(row, w[:c*length], length)
		}
	}
	for k, v := range w {
		a[k] = float32(v)
	}
}

// orthonormalize makes row orthogonal to the rows of prev (orthonormal or
// zero), twice, and of unit norm, and reports whether it could; if not,
// row is zero.
func orthonormalize(row, prev []float64, length int) bool {
	before := sumSquares64(row)
	for range 2 {
		for d := 0; d < len(prev); d += length {
			p := prev[d : d+length]
			dot := 0.0
			for i, v := range p {
				dot += float64(v * row[i])
			}
			for i, v := range p {
				row[i] -= float64(dot * v)
			}
		}
	}
	ss := sumSquares64(row)
	if ss == 0 || ss <= before*1e-12 {
		clear(row)
		return false
	}
	inv := 1 / math.Sqrt(ss)
	for i := range row {
		row[i] *= inv
	}
	return true
}

func sumSquares64(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x * x)
	}
	return s
}
