package ring_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"testing/quick"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/ring"
	"github.com/ddprun/ddprun/collective/ring/ringtest"
)

// exactInput is rank r's input: multiples of 1/8 below 13, so float32 sums
// of up to 8 ranks are exact and results can be compared exactly.
func exactInput(r, count int) []float32 {
	x := make([]float32, count)
	for i := range x {
		x[i] = float32((i*7+r*13)%101) / 8
	}
	return x
}

// naive is the reference: a sequential reduction in rank order.
func naive(inputs [][]float32, op collective.Op) []float32 {
	out := append([]float32(nil), inputs[0]...)
	for _, in := range inputs[1:] {
		for i, v := range in {
			switch op {
			case collective.Max:
				out[i] = max(out[i], v)
			case collective.Min:
				out[i] = min(out[i], v)
			default:
				out[i] += v
			}
		}
	}
	if op == collective.Avg {
		for i := range out {
			out[i] /= float32(len(inputs))
		}
	}
	return out
}

type transport struct {
	name string
	cfgs func(t *testing.T, n int) []ring.Config
}

var transports = []transport{
	{"mem", func(_ *testing.T, n int) []ring.Config { return memConfigs(ringtest.NewNetwork(n)) }},
	{"tcp", func(t *testing.T, n int) []ring.Config { return loopbackConfigs(t, n) }},
}

// paths selects the latency path (defaults) or forces the pipelined ring
// with small chunks.
var paths = []struct {
	name string
	set  func(cfg *ring.Config, count int)
}{
	{"auto", func(*ring.Config, int) {}},
	{"ring", func(cfg *ring.Config, count int) {
		cfg.SmallBytes = -1
		cfg.ChunkBytes = max(64, count/16) // many chunks per step
	}},
}

func TestRing_AllReduce(t *testing.T) {
	checkNoLeaks(t)
	for _, tr := range transports {
		for _, n := range []int{1, 2, 3, 4, 8} {
			for _, count := range []int{0, 1, n - 1, 1_000_003} {
				for _, path := range paths {
					if count == 1_000_003 && testing.Short() && n > 4 {
						continue
					}
					name := fmt.Sprintf("transport=%s/ranks=%d/count=%d/path=%s", tr.name, n, count, path.name)
					t.Run(name, func(t *testing.T) {
						cfgs := tr.cfgs(t, n)
						for r := range cfgs {
							path.set(&cfgs[r], count)
						}
						testAllReduceExact(t, cfgs, count)
					})
				}
			}
		}
	}
}

func testAllReduceExact(t *testing.T, cfgs []ring.Config, count int) {
	n := len(cfgs)
	inputs := make([][]float32, n)
	for r := range inputs {
		inputs[r] = exactInput(r, count)
	}
	want := naive(inputs, collective.Sum)
	got := make([][]float32, n)
	mustRun(t, cfgs, func(ctx context.Context, c *ring.Comm) error {
		x := append([]float32(nil), inputs[c.Rank()]...)
		err := c.AllReduce(ctx, collective.Float32s(x), collective.Sum)
		got[c.Rank()] = x
		return err
	})
	for r := range n {
		if diff := diffFloats(want, got[r]); diff != "" {
			t.Fatalf("rank %d: all-reduce differs from the sequential sum (-want +got):\n%s", r, diff)
		}
	}
}

// diffFloats is cmp.Diff for big slices: a fast exact check first, then a
// diff of the first differing window only (cmp.Diff on a million elements
// takes seconds).
func diffFloats(want, got []float32) string {
	if len(want) != len(got) {
		return fmt.Sprintf("length %d, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			hi := min(i+8, len(want))
			return fmt.Sprintf("from element %d:\n%s", i, cmp.Diff(want[i:hi], got[i:hi], cmpopts.EquateNaNs()))
		}
	}
	return ""
}

// TestRing_Ops checks every op on every dtype against the naive reduction,
// on 3 ranks, both paths.
func TestRing_Ops(t *testing.T) {
	for _, path := range paths {
		for _, dt := range []collective.DType{collective.Float32, collective.BFloat16, collective.Float16, collective.Int32, collective.Int64} {
			for _, op := range []collective.Op{collective.Sum, collective.Avg, collective.Max, collective.Min} {
				t.Run(fmt.Sprintf("path=%s/dtype=%v/op=%v", path.name, dt, op), func(t *testing.T) {
					testOp(t, path.set, dt, op)
				})
			}
		}
	}
}

// testOp uses small integers, exact in every dtype, so that all results
// (after Avg's rounding to the dtype) compare exactly.
func testOp(t *testing.T, set func(*ring.Config, int), dt collective.DType, op collective.Op) {
	const n, count = 3, 1001
	cfgs := memConfigs(ringtest.NewNetwork(n))
	inputs := make([][]float32, n)
	for r := range inputs {
		inputs[r] = make([]float32, count)
		for i := range inputs[r] {
			inputs[r][i] = float32((i*5+r*11)%17 - 8)
		}
		set(&cfgs[r], count)
	}
	want := toDType(naive(inputs, op), dt)
	if op == collective.Avg && (dt == collective.Int32 || dt == collective.Int64) {
		for i := range want {
			s := naive(inputs, collective.Sum)[i]
			want[i] = float32(int(s) / n) // integer Avg truncates
		}
	}
	got := make([][]float32, n)
	mustRun(t, cfgs, func(ctx context.Context, c *ring.Comm) error {
		buf, read := makeBuffer(dt, inputs[c.Rank()])
		err := c.AllReduce(ctx, buf, op)
		got[c.Rank()] = read()
		return err
	})
	for r := range n {
		if diff := diffFloats(want, got[r]); diff != "" {
			t.Fatalf("rank %d (-want +got):\n%s", r, diff)
		}
	}
}

// toDType rounds float32 values to what dt can hold.
func toDType(x []float32, dt collective.DType) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		switch dt {
		case collective.BFloat16:
			v = collective.Float32FromBFloat16(collective.BFloat16FromFloat32(v))
		case collective.Float16:
			v = collective.Float32FromFloat16(collective.Float16FromFloat32(v))
		}
		out[i] = v
	}
	return out
}

// makeBuffer converts x to a buffer of dt and returns a function that reads
// it back as float32.
func makeBuffer(dt collective.DType, x []float32) (collective.Buffer, func() []float32) {
	switch dt {
	case collective.BFloat16, collective.Float16:
		enc, dec := collective.BFloat16FromFloat32, collective.Float32FromBFloat16
		if dt == collective.Float16 {
			enc, dec = collective.Float16FromFloat32, collective.Float32FromFloat16
		}
		h := make([]uint16, len(x))
		for i, v := range x {
			h[i] = enc(v)
		}
		b := collective.BFloat16s(h)
		b.DType = dt
		return b, func() []float32 { return mapSlice(h, dec) }
	case collective.Int32:
		s := mapSlice(x, func(v float32) int32 { return int32(v) })
		return collective.Int32s(s), func() []float32 { return mapSlice(s, func(v int32) float32 { return float32(v) }) }
	case collective.Int64:
		s := mapSlice(x, func(v float32) int64 { return int64(v) })
		return collective.Int64s(s), func() []float32 { return mapSlice(s, func(v int64) float32 { return float32(v) }) }
	}
	s := append([]float32(nil), x...)
	return collective.Float32s(s), func() []float32 { return s }
}

func mapSlice[T, U any](s []T, f func(T) U) []U {
	out := make([]U, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// TestRing_WireBF16 checks the bfloat16 wire on float32 buffers: every rank
// ends with the same bits, within bfloat16 rounding of the exact result.
func TestRing_WireBF16(t *testing.T) {
	for _, n := range []int{2, 3, 4, 8} {
		for _, path := range paths {
			for _, op := range []collective.Op{collective.Sum, collective.Avg} {
				t.Run(fmt.Sprintf("ranks=%d/path=%s/op=%v", n, path.name, op), func(t *testing.T) {
					testWireBF16(t, n, path.set, op)
				})
			}
		}
	}
}

func testWireBF16(t *testing.T, n int, set func(*ring.Config, int), op collective.Op) {
	const count = 5003
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	inputs := make([][]float32, n)
	for r := range inputs {
		inputs[r] = make([]float32, count)
		for i := range inputs[r] {
			inputs[r][i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3)))
		}
	}
	inputs[n-1][42] = float32(math.NaN())
	cfgs := memConfigs(ringtest.NewNetwork(n))
	for r := range cfgs {
		cfgs[r].WireDType = collective.BFloat16
		set(&cfgs[r], count)
	}
	got := make([][]float32, n)
	mustRun(t, cfgs, func(ctx context.Context, c *ring.Comm) error {
		x := append([]float32(nil), inputs[c.Rank()]...)
		err := c.AllReduce(ctx, collective.Float32s(x), op)
		got[c.Rank()] = x
		return err
	})
	for r := 1; r < n; r++ {
		for i := range got[0] {
			if math.Float32bits(got[r][i]) != math.Float32bits(got[0][i]) {
				t.Fatalf("rank %d element %d = %g (%#x), rank 0 has %g (%#x): not bit-identical",
					r, i, got[r][i], math.Float32bits(got[r][i]), got[0][i], math.Float32bits(got[0][i]))
			}
		}
	}
	checkBF16Close(t, inputs, got[0], op)
}

// checkBF16Close: each of at most n roundings to bfloat16 (8 significant
// bits) errs by at most 2^-8 of a partial sum bounded by sum(|x|).
func checkBF16Close(t *testing.T, inputs [][]float32, got []float32, op collective.Op) {
	n := float64(len(inputs))
	for i := range got {
		var sum, abs float64
		for _, in := range inputs {
			sum += float64(in[i])
			abs += math.Abs(float64(in[i]))
		}
		if op == collective.Avg {
			sum, abs = sum/n, abs/n
		}
		if math.IsNaN(sum) {
			if !math.IsNaN(float64(got[i])) {
				t.Errorf("element %d: got %g, want NaN", i, got[i])
			}
			continue
		}
		if tol := (n + 1) * abs / 256; math.Abs(float64(got[i])-sum) > tol {
			t.Errorf("element %d: got %g, want %g ± %g", i, got[i], sum, tol)
		}
	}
}

// TestRing_QuickCheck compares the ring with the naive sum on random int32
// inputs (exact), in the style of raft's quick.CheckEqual tests.
func TestRing_QuickCheck(t *testing.T) {
	const n = 3
	reduce := func(seed uint64, count uint16, useRing bool) []int32 {
		inputs := randomInts(seed, n, int(count))
		cfgs := memConfigs(ringtest.NewNetwork(n))
		out := make([][]int32, n)
		for r := range cfgs {
			cfgs[r].ChunkBytes = 128
			if useRing {
				cfgs[r].SmallBytes = -1
			}
		}
		errs := runAll(t.Context(), cfgs, func(ctx context.Context, c *ring.Comm) error {
			out[c.Rank()] = inputs[c.Rank()]
			return c.AllReduce(ctx, collective.Int32s(out[c.Rank()]), collective.Sum)
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		return out[int(seed%n)]
	}
	ringSum := func(seed uint64, count uint16) []int32 { return reduce(seed, count%3000, seed%2 == 0) }
	naiveSum := func(seed uint64, count uint16) []int32 {
		inputs := randomInts(seed, n, int(count%3000))
		out := inputs[0]
		for _, in := range inputs[1:] {
			for i, v := range in {
				out[i] += v
			}
		}
		return out
	}
	if err := quick.CheckEqual(ringSum, naiveSum, &quick.Config{MaxCount: 40}); err != nil {
		t.Error(err)
	}
}

func randomInts(seed uint64, n, count int) [][]int32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]int32, n)
	for r := range out {
		out[r] = make([]int32, count)
		for i := range out[r] {
			out[r][i] = rng.Int32N(1<<20) - 1<<19
		}
	}
	return out
}
