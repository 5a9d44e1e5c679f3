//go:build amd64

#include "textflag.h"

// The bfloat16 wire kernels in AVX2, 16 elements per iteration; n is a
// positive multiple of 16. See Note [Vector kernels] in kernels.go.

// func hasAVX2() bool
TEXT ·hasAVX2(SB), NOSPLIT, $0-1
	XORL AX, AX
	XORL CX, CX
	CPUID
	CMPL AX, $7
	JB   no
	MOVL $1, AX
	XORL CX, CX
	CPUID
	ANDL $0x18000000, CX // OSXSAVE and AVX
	CMPL CX, $0x18000000
	JNE  no
	XORL CX, CX
	XGETBV               // XCR0: the OS saves XMM and YMM state
	ANDL $6, AX
	CMPL AX, $6
	JNE  no
	MOVL $7, AX
	XORL CX, CX
	CPUID
	BTL  $5, BX          // AVX2
	JCC  no
	MOVB $1, ret+0(FP)
	RET

no:
	MOVB $0, ret+0(FP)
	RET

// BROADCAST sets all eight dwords of y to the constant c.
#define BROADCAST(c, y) \
	MOVL         c, AX \
	MOVQ         AX, X0 \
	VPBROADCASTD X0, y

// ROUND_CONSTS loads the constants ROUND uses.
#define ROUND_CONSTS \
	BROADCAST($0x00007fff, Y15) \
	BROADCAST($0x00000001, Y14) \
	BROADCAST($0x7fffffff, Y13) \
	BROADCAST($0x7f800000, Y12) \
	BROADCAST($0x00400000, Y11)

// ROUND rounds the float32 bits in x to bfloat16 in its top half, as
// collective.BFloat16FromFloat32 does: x + 0x7fff + (x>>16)&1 for numbers,
// x | 0x400000 for NaN (|x| > 0x7f800000). The low half is left dirty.
#define ROUND(x, t1, t2) \
	VPSRLD    $16, x, t1 \
	VPAND     Y14, t1, t1 \
	VPADDD    Y15, x, t2 \
	VPADDD    t1, t2, t2 \
	VPAND     Y13, x, t1 \
	VPCMPGTD  Y12, t1, t1 \
	VPOR      Y11, x, x \
	VPBLENDVB t1, x, t2, x

// func encodeBF16AVX2(dst *uint16, src *float32, n int)
TEXT ·encodeBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	ROUND_CONSTS
	SHRQ $4, CX

encodeLoop:
	VMOVDQU   (SI), Y0
	VMOVDQU   32(SI), Y1
	ROUND(Y0, Y2, Y3)
	ROUND(Y1, Y4, Y5)
	VPSRLD    $16, Y0, Y0
	VPSRLD    $16, Y1, Y1
	VPACKUSDW Y1, Y0, Y0   // per 128-bit lane: 0-3 8-11 | 4-7 12-15
	VPERMQ    $0xd8, Y0, Y0 // 0-3 4-7 | 8-11 12-15
	VMOVDQU   Y0, (DI)
	ADDQ      $64, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       encodeLoop
	VZEROUPPER
	RET

// func truncateBF16AVX2(dst *uint16, src *uint32, n int)
TEXT ·truncateBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX

truncateLoop:
	VMOVDQU   (SI), Y0
	VMOVDQU   32(SI), Y1
	VPSRLD    $16, Y0, Y0
	VPSRLD    $16, Y1, Y1
	VPACKUSDW Y1, Y0, Y0
	VPERMQ    $0xd8, Y0, Y0
	VMOVDQU   Y0, (DI)
	ADDQ      $64, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       truncateLoop
	VZEROUPPER
	RET

// func decodeBF16AVX2(dst *uint32, src *uint16, n int)
TEXT ·decodeBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX

decodeLoop:
	VPMOVZXWD (SI), Y0
	VPMOVZXWD 16(SI), Y1
	VPSLLD    $16, Y0, Y0
	VPSLLD    $16, Y1, Y1
	VMOVDQU   Y0, (DI)
	VMOVDQU   Y1, 32(DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       decodeLoop
	VZEROUPPER
	RET

// func addBF16AVX2(dst *float32, src *uint16, n int)
TEXT ·addBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX

addLoop:
	VPMOVZXWD (SI), Y0
	VPMOVZXWD 16(SI), Y1
	VPSLLD    $16, Y0, Y0
	VPSLLD    $16, Y1, Y1
	VMOVUPS   (DI), Y2
	VMOVUPS   32(DI), Y3
	VADDPS    Y0, Y2, Y2 // dst first, as in addBF16Go: its NaN wins
	VADDPS    Y1, Y3, Y3
	VMOVUPS   Y2, (DI)
	VMOVUPS   Y3, 32(DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       addLoop
	VZEROUPPER
	RET

// REDUCE_FINAL is the loop of reduceFinal{Mul,Div}BF16AVX2 over DI (dst),
// SI (src) and CX (n): dst = round((dst + src) op Y10), with op VMULPS or
// VDIVPS.
#define REDUCE_FINAL(op, loop) \
	ROUND_CONSTS \
	BROADCAST($0xffff0000, Y9) \
	SHRQ      $4, CX \
loop: \
	VPMOVZXWD (SI), Y0 \
	VPMOVZXWD 16(SI), Y1 \
	VPSLLD    $16, Y0, Y0 \
	VPSLLD    $16, Y1, Y1 \
	VMOVUPS   (DI), Y2 \
	VMOVUPS   32(DI), Y3 \
	VADDPS    Y0, Y2, Y2 \
	VADDPS    Y1, Y3, Y3 \
	op        Y10, Y2, Y2 \
	op        Y10, Y3, Y3 \
	ROUND(Y2, Y4, Y5) \
	ROUND(Y3, Y6, Y7) \
	VPAND     Y9, Y2, Y2 \
	VPAND     Y9, Y3, Y3 \
	VMOVUPS   Y2, (DI) \
	VMOVUPS   Y3, 32(DI) \
	ADDQ      $32, SI \
	ADDQ      $64, DI \
	DECQ      CX \
	JNZ       loop \
	VZEROUPPER

// func reduceFinalMulBF16AVX2(dst *float32, src *uint16, n int, scale float32)
TEXT ·reduceFinalMulBF16AVX2(SB), NOSPLIT, $0-28
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS scale+24(FP), Y10
	REDUCE_FINAL(VMULPS, mulLoop)
	RET

// func reduceFinalDivBF16AVX2(dst *float32, src *uint16, n int, k float32)
TEXT ·reduceFinalDivBF16AVX2(SB), NOSPLIT, $0-28
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS k+24(FP), Y10
	REDUCE_FINAL(VDIVPS, divLoop)
	RET
