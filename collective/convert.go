package collective

import "math"

// Note [Rounding]: conversions to 16-bit floats round to nearest, ties to
// even, like PyTorch's .to(torch.bfloat16) and the AVX512-BF16 instructions
// (except that subnormals are kept, not flushed). NaN stays NaN (quiet, sign
// and top payload bits kept); overflow rounds to ±Inf.

// BFloat16FromFloat32 rounds f to bfloat16. See Note [Rounding].
func BFloat16FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // NaN: keep it NaN even if the payload is in the low half
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// Float32FromBFloat16 widens a bfloat16 exactly.
func Float32FromBFloat16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float16FromFloat32 rounds f to IEEE binary16. See Note [Rounding].
func Float16FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00 | uint16(man>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	switch {
	case e >= 0x1f:
		return sign | 0x7c00
	case e <= 0:
		return sign | half16Subnormal(man|0x800000, uint32(14-e))
	}
	r := uint32(e)<<10 | man>>13
	return sign | uint16(roundEven(r, man&0x1fff, 0x1000))
}

// half16Subnormal rounds the 24-bit significand m shifted right by shift.
func half16Subnormal(m, shift uint32) uint16 {
	if shift > 24 {
		return 0
	}
	half := uint32(1) << (shift - 1)
	return uint16(roundEven(m>>shift, m&(half<<1-1), half))
}

// roundEven rounds r up when the dropped bits rem exceed half, or equal it
// and r is odd.
func roundEven(r, rem, half uint32) uint32 {
	if rem > half || (rem == half && r&1 == 1) {
		r++
	}
	return r
}

// Float32FromFloat16 widens an IEEE binary16 exactly.
func Float32FromFloat16(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0 && man == 0:
		return math.Float32frombits(sign)
	case exp == 0:
		e := uint32(127 - 15 + 1)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}
