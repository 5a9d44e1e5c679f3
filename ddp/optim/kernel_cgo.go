//go:build cgo

package optim

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#include <stddef.h>
void ddprun_adam(float* w, const float* g, float* m, float* v, size_t n, float shrink, float l2, int decoupled,
                 float b1, float b1c, float b2, float b2c, float bc2s, float eps, float step);
double ddprun_sumsq(const float* g, size_t n);
void ddprun_scale(float* g, size_t n, float c);
*/
import "C"

import "unsafe"

// Go slices passed to C hold no Go pointers, and C keeps none: the cgo
// pointer rules allow it.

func adamC(w, g, m, v []float32, a adamArgs) {
	if len(w) == 0 {
		return
	}
	dec := C.int(0)
	if a.decoupled {
		dec = 1
	}
	C.ddprun_adam((*C.float)(unsafe.Pointer(&w[0])), (*C.float)(unsafe.Pointer(&g[0])), (*C.float)(unsafe.Pointer(&m[0])),
		(*C.float)(unsafe.Pointer(&v[0])), C.size_t(len(w)), C.float(a.shrink), C.float(a.l2), dec, C.float(a.b1),
		C.float(a.b1c), C.float(a.b2), C.float(a.b2c), C.float(a.bc2s), C.float(a.eps), C.float(a.step))
}

func sumSquares(g []float32) float64 {
	if len(g) == 0 {
		return 0
	}
	return float64(C.ddprun_sumsq((*C.float)(unsafe.Pointer(&g[0])), C.size_t(len(g))))
}

func scale(g []float32, c float32) {
	if len(g) == 0 {
		return
	}
	C.ddprun_scale((*C.float)(unsafe.Pointer(&g[0])), C.size_t(len(g)), C.float(c))
}

const haveC = true
