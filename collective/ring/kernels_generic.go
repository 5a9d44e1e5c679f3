//go:build !amd64

package ring

// Without vector kernels, the *Vec functions do nothing and the scalar
// loops do it all. See Note [Vector kernels].

func encodeBF16Vec(d []uint16, s []float32) int                          { return 0 }
func truncateBF16Vec(d []uint16, s []uint32) int                         { return 0 }
func decodeBF16Vec(d []uint32, s []uint16) int                           { return 0 }
func addBF16Vec(d []float32, s []uint16) int                             { return 0 }
func reduceFinalBF16Vec(d []float32, s []uint16, avg bool, size int) int { return 0 }

// VectorKernels names the instruction set of the bf16 wire kernels: none
// here (Note [Vector kernels]).
func VectorKernels() string { return "" }
