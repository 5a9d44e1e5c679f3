package ring

// The AVX2 versions of the bfloat16 wire kernels, in kernels_amd64.s. Each
// does the longest prefix that is a multiple of 16 elements and returns its
// length; 0 where the CPU lacks AVX2. See Note [Vector kernels].

// useAVX2 says whether the *Vec functions use AVX2; tests turn it off to
// run the scalar loops alone.
var useAVX2 = hasAVX2()

// hasAVX2 reports whether the CPU has AVX2 and the OS saves the YMM
// registers.
func hasAVX2() bool

//go:noescape
func encodeBF16AVX2(dst *uint16, src *float32, n int)

//go:noescape
func truncateBF16AVX2(dst *uint16, src *uint32, n int)

//go:noescape
func decodeBF16AVX2(dst *uint32, src *uint16, n int)

//go:noescape
func addBF16AVX2(dst *float32, src *uint16, n int)

// reduceFinalMulBF16AVX2 sets dst to bfloat16((dst+src)*scale); with a
// scale of 1 or a power of two's inverse, that is reduceFinalBF16Go's
// division, exactly.
//
//go:noescape
func reduceFinalMulBF16AVX2(dst *float32, src *uint16, n int, scale float32)

//go:noescape
func reduceFinalDivBF16AVX2(dst *float32, src *uint16, n int, k float32)

// vecLen is the number of elements of an n-element kernel that the AVX2
// code does: a multiple of 16, or 0 without AVX2.
func vecLen(n int) int {
	if !useAVX2 {
		return 0
	}
	return n &^ 15
}

func encodeBF16Vec(d []uint16, s []float32) int {
	n := vecLen(len(s))
	if n > 0 {
		encodeBF16AVX2(&d[:n][0], &s[0], n)
	}
	return n
}

func truncateBF16Vec(d []uint16, s []uint32) int {
	n := vecLen(len(s))
	if n > 0 {
		truncateBF16AVX2(&d[:n][0], &s[0], n)
	}
	return n
}

func decodeBF16Vec(d []uint32, s []uint16) int {
	n := vecLen(len(s))
	if n > 0 {
		decodeBF16AVX2(&d[:n][0], &s[0], n)
	}
	return n
}

func addBF16Vec(d []float32, s []uint16) int {
	n := vecLen(len(d))
	if n > 0 {
		addBF16AVX2(&d[0], &s[:n][0], n)
	}
	return n
}

// reduceFinalBF16Vec multiplies where that equals reduceFinalBF16Go's
// division: by 1 for a sum, by 1/size for an average over a power of two
// ranks (x/2^k and x*2^-k are the same real number, rounded once).
func reduceFinalBF16Vec(d []float32, s []uint16, avg bool, size int) int {
	n := vecLen(len(d))
	switch {
	case n == 0:
	case !avg:
		reduceFinalMulBF16AVX2(&d[0], &s[:n][0], n, 1)
	case size&(size-1) == 0:
		reduceFinalMulBF16AVX2(&d[0], &s[:n][0], n, 1/float32(size))
	default:
		reduceFinalDivBF16AVX2(&d[0], &s[:n][0], n, float32(size))
	}
	return n
}

// VectorKernels names the instruction set of the bf16 wire kernels ("avx2"),
// or "" where they run as scalar Go (Note [Vector kernels]).
func VectorKernels() string {
	if useAVX2 {
		return "avx2"
	}
	return ""
}
