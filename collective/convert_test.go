package collective_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ddprun/ddprun/collective"
)

type conv struct {
	name string
	enc  func(float32) uint16
	dec  func(uint16) float32
}

var convs = []conv{
	{"bfloat16", collective.BFloat16FromFloat32, collective.Float32FromBFloat16},
	{"float16", collective.Float16FromFloat32, collective.Float32FromFloat16},
}

// TestConvert_RoundTrip: every 16-bit pattern survives widening and
// narrowing (NaNs stay NaN).
func TestConvert_RoundTrip(t *testing.T) {
	for _, c := range convs {
		for h := range 1 << 16 {
			f := c.dec(uint16(h))
			got := c.enc(f)
			if math.IsNaN(float64(f)) {
				if !math.IsNaN(float64(c.dec(got))) {
					t.Fatalf("%s: NaN %#04x became %#04x", c.name, h, got)
				}
				continue
			}
			if got != uint16(h) {
				t.Fatalf("%s: %#04x -> %g -> %#04x", c.name, h, f, got)
			}
		}
	}
}

// TestConvert_Nearest: narrowing picks the nearest value, ties to even.
func TestConvert_Nearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range convs {
		for range 200_000 {
			f := math.Float32frombits(rng.Uint32())
			if math.IsNaN(float64(f)) {
				if !math.IsNaN(float64(c.dec(c.enc(f)))) {
					t.Fatalf("%s: NaN %#x not kept", c.name, math.Float32bits(f))
				}
				continue
			}
			h := c.enc(f)
			got := float64(c.dec(h))
			for _, nb := range []uint16{h - 1, h + 1} {
				alt := float64(c.dec(nb))
				if math.IsNaN(alt) || math.IsInf(got, 0) {
					continue
				}
				d, da := math.Abs(got-float64(f)), math.Abs(alt-float64(f))
				if da < d || (da == d && h&1 == 1) {
					t.Fatalf("%s(%g) = %g (%#04x), but %g (%#04x) is nearer or even", c.name, f, got, h, alt, nb)
				}
			}
		}
	}
}

func TestConvert_Cases(t *testing.T) {
	cases := []struct {
		in        float32
		bf16, f16 uint16
	}{
		{1, 0x3f80, 0x3c00},
		{-2, 0xc000, 0xc000},
		{1 + 1.0/256, 0x3f80, 0x3c04}, // bf16 tie: to even (down)
		{1 + 3.0/256, 0x3f82, 0x3c0c}, // bf16 tie: to even (up)
		{65504, 0x4780, 0x7bff},       // float16 max
		{65520, 0x4780, 0x7c00},       // float16 overflow to +Inf
		{float32(math.Inf(-1)), 0xff80, 0xfc00},
		{5.960464477539063e-08, 0x3380, 0x0001}, // float16 smallest subnormal
		{2.98e-08, 0x3300, 0x0000},              // bf16: 0x32fffae5 rounds up              // below half of it
	}
	for _, c := range cases {
		if got := collective.BFloat16FromFloat32(c.in); got != c.bf16 {
			t.Errorf("BFloat16FromFloat32(%g) = %#04x, want %#04x", c.in, got, c.bf16)
		}
		if got := collective.Float16FromFloat32(c.in); got != c.f16 {
			t.Errorf("Float16FromFloat32(%g) = %#04x, want %#04x", c.in, got, c.f16)
		}
	}
}

func TestBlockRange(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000003} {
		for _, size := range []int{1, 2, 3, 8} {
			next := 0
			for r := range size {
				lo, hi := collective.BlockRange(n, size, r)
				if lo != next || hi-lo < n/size || hi-lo > n/size+1 {
					t.Fatalf("BlockRange(%d, %d, %d) = [%d, %d) after %d", n, size, r, lo, hi, next)
				}
				next = hi
			}
			if next != n {
				t.Fatalf("blocks of %d over %d end at %d", n, size, next)
			}
		}
	}
}
