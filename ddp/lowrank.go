package ddp

import "math"

// The matrix products of PowerSGD (Note [PowerSGD]), on row-major float32
// matrices in host memory: a gradient M (n x m), and its factors P (n x r)
// and Q (m x r) with r small (1 to 64; 1 to 4 in practice). Each walks M
// once, row by row, so that M streams from memory and a row of P or the
// whole of Q stays in cache. Sums are in float32, as torch's bmm.

// mulMQ sets p = m q.
func mulMQ(p, mat, q []float32, n, m, r int) {
	if r == 4 {
		mulMQ4(p, mat, q, n, m)
		return
	}
	for i := range n {
		row, acc := mat[i*m:(i+1)*m], p[i*r:(i+1)*r]
		clear(acc)
		for j, v := range row {
			for k, x := range q[j*r : (j+1)*r] {
				acc[k] += v * x
			}
		}
	}
}

// mulMQ4 is mulMQ for rank 4, the common case, with the row's four sums
// in registers.
func mulMQ4(p, mat, q []float32, n, m int) {
	q = q[:m*4]
	for i := range n {
		row := mat[i*m : (i+1)*m]
		var a0, a1, a2, a3 float32
		for j, v := range row {
			x := q[j*4 : j*4+4 : j*4+4]
			a0 += v * x[0]
			a1 += v * x[1]
			a2 += v * x[2]
			a3 += v * x[3]
		}
		o := p[i*4 : i*4+4 : i*4+4]
		o[0], o[1], o[2], o[3] = a0, a1, a2, a3
	}
}

// mulMtP sets q = mᵀ p.
func mulMtP(q, mat, p []float32, n, m, r int) {
	q = q[:m*r]
	clear(q)
	if r == 4 {
		for i := range n {
			row, x := mat[i*m:(i+1)*m], p[i*4:i*4+4:i*4+4]
			x0, x1, x2, x3 := x[0], x[1], x[2], x[3]
			for j, v := range row {
				o := q[j*4 : j*4+4 : j*4+4]
				o[0] += v * x0
				o[1] += v * x1
				o[2] += v * x2
				o[3] += v * x3
			}
		}
		return
	}
	for i := range n {
		row, x := mat[i*m:(i+1)*m], p[i*r:(i+1)*r]
		for j, v := range row {
			o := q[j*r : (j+1)*r]
			for k, y := range x {
				o[k] += v * y
			}
		}
	}
}

// mulPQt sets m = p qᵀ.
func mulPQt(mat, p, q []float32, n, m, r int) {
	q = q[:m*r]
	if r == 4 {
		for i := range n {
			row, x := mat[i*m:(i+1)*m], p[i*4:i*4+4:i*4+4]
			x0, x1, x2, x3 := x[0], x[1], x[2], x[3]
			for j := range row {
				y := q[j*4 : j*4+4 : j*4+4]
				row[j] = x0*y[0] + x1*y[1] + x2*y[2] + x3*y[3]
			}
		}
		return
	}
	for i := range n {
		row, x := mat[i*m:(i+1)*m], p[i*r:(i+1)*r]
		for j := range row {
			y := q[j*r : (j+1)*r]
			var s float32
			for k, v := range x {
				s += v * y[k]
			}
			row[j] = s
		}
	}
}

// orthogonalize makes the r columns of a (rows x r) orthonormal, in
// order, by Gram-Schmidt in float64 with each column projected twice
// ("twice is enough": orthogonal to float64 rounding however ill
// conditioned the columns, as torch's Householder QR is to float32
// rounding; one float32 pass, torch's Gram-Schmidt, loses orthogonality in
// proportion to the condition number). A column of zeros (a parameter that
// got no gradient) stays zero where torch's epsilon-free Gram-Schmidt makes
// NaNs. scratch is reused across calls.
func orthogonalize(a []float32, rows, r int, scratch *[]float64) {
	a = a[:rows*r]
	if cap(*scratch) < len(a) {
		*scratch = make([]float64, len(a))
	}
	w := (*scratch)[:len(a)]
	for k, v := range a { // column c at w[c*rows:]
		w[(k%r)*rows+k/r] = float64(v)
	}
	for c := range r {
		col := w[c*rows : (c+1)*rows]
		for range 2 {
			for d := range c {
				prev := w[d*rows : (d+1)*rows]
				dot := 0.0
				for i, v := range prev {
					dot += v * col[i]
				}
				for i, v := range prev {
					col[i] -= dot * v
				}
			}
		}
		ss := 0.0
		for _, v := range col {
			ss += v * v
		}
		if ss == 0 {
			continue
		}
		inv := 1 / math.Sqrt(ss)
		for i := range col {
			col[i] *= inv
		}
	}
	for k := range a {
		a[k] = float32(w[(k%r)*rows+k/r])
	}
}
