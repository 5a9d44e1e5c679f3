package ddp

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ddprun/ddprun/collective"
)

// psgdFixture is testdata/powersgd.json, written by gen_powersgd.py: what
// torch's powerSGD_hook made of fixed gradients (psgdGrad) on 2 ranks.
type psgdFixture struct {
	Torch   string
	Rank    int
	Start   int
	World   int
	Steps   int
	Shapes  map[string][]int64
	InitQ   map[string][]float32 `json:"init_q"`
	Outputs []map[string][]float32
}

func loadPSGDFixture(t *testing.T) psgdFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/powersgd.json")
	if err != nil {
		t.Fatal(err)
	}
	var f psgdFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// psgdGrad is gen_powersgd.py's grad(name, rank, step): the same float64
// arithmetic, rounded to float32.
func psgdGrad(names []string, shapes map[string][]int64, name string, rank, step int) []float32 {
	shape := shapes[name]
	numel := int(numel(shape))
	n := int(shape[0])
	m := numel / n
	k := slices.Index(names, name)
	out := make([]float32, 0, numel)
	for i := range n {
		for j := range m {
			u := float64((i*37+k*11+step*5)%17-8) / 8.0
			v := float64((j*23+k*3+step*13)%19-9) / 9.0
			noise := float64((i*7919+j*6007+k*3001+rank*104729+step*1299709)%2001-1000) / 1000.0
			out = append(out, float32(u*v+0.5*noise))
		}
	}
	return out
}

// psgdBuckets makes one bucket of the given parameters.
func psgdBuckets(shapes map[string][]int64) []Bucket {
	var ps []ParamInfo
	for name, s := range shapes {
		ps = append(ps, ParamInfo{Name: name, Numel: int(numel(s))})
	}
	return PlanBuckets(ps, 1<<30, 1<<30)
}

// runPSGD runs steps of PowerSGD on n ranks over the loopback ring with
// the given wire and returns every rank's bucket output and residual after
// every step. grad gives rank r's gradient of a parameter at a step.
func runPSGD(t *testing.T, n int, wire collective.DType, shapes map[string][]int64, rank, start, steps int,
	grad func(name string, r, step int) []float32, setup func(*powerSGD)) (out, resid [][][]float32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	comms := loopbackRing(t, ctx, n, wire)
	buckets := psgdBuckets(shapes)
	out, resid = make([][][]float32, n), make([][][]float32, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		wg.Go(func() {
			s := newPowerSGD(buckets, shapes, rank, start, 9)
			if setup != nil {
				setup(s)
			}
			b := buckets[0]
			g := make([]float32, b.Numel)
			for step := range steps {
				for i, p := range b.Params {
					copy(g[b.Offsets[i]:], grad(p.Name, r, step))
				}
				s.step = step
				if _, err := s.allReduce(ctx, comms[r], 0, g); err != nil {
					errs[r] = fmt.Errorf("step %d: %w", step, err)
					return
				}
				out[r] = append(out[r], slices.Clone(g))
				resid[r] = append(resid[r], slices.Clone(s.buckets[0].resid))
			}
		})
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	return out, resid
}

// PowerSGD against torch's own powerSGD_hook (testdata/gen_powersgd.py,
// DDP over Gloo, 2 ranks): the same averaged gradients on every step,
// plain ones first, then compressed with error feedback and warm start,
// from the same first Qs. Float tolerance: torch orthogonalises rank-3
// factors by QR, ddp by Gram-Schmidt (Note [PowerSGD]).
func TestPowerSGD_MatchesTorch(t *testing.T) {
	f := loadPSGDFixture(t)
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range f.Shapes {
			if !yield(k) {
				return
			}
		}
	})
	grad := func(name string, r, step int) []float32 { return psgdGrad(names, f.Shapes, name, r, step) }
	out, _ := runPSGD(t, f.World, collective.Float32, f.Shapes, f.Rank, f.Start, f.Steps, grad, func(s *powerSGD) {
		s.initQ = func(name string, qt []float32) {
			q := f.InitQ[name] // m x r, torch's layout; ddp's is Qᵀ
			if len(q) != len(qt) {
				t.Errorf("%s: the fixture's first Q has %d values, ddp's %d: the two compress different parameters", name, len(q), len(qt))
				return
			}
			r := min(f.Rank, int(f.Shapes[name][0]), len(q)/f.Rank)
			m := len(q) / r
			for j := range m {
				for k := range r {
					qt[k*m+j] = q[j*r+k]
				}
			}
		}
		var compressed []string
		for _, l := range s.buckets[0].mats {
			compressed = append(compressed, l.name)
		}
		sort.Strings(compressed)
		if want := slices.Sorted(mapKeys(f.InitQ)); !slices.Equal(compressed, want) {
			t.Errorf("compressed %v, torch compressed %v", compressed, want)
		}
	})
	b := psgdBuckets(f.Shapes)[0]
	for step := range f.Steps {
		worst, where := 0.0, ""
		for i, p := range b.Params {
			want := f.Outputs[step][p.Name]
			got := out[0][step][b.Offsets[i] : b.Offsets[i]+p.Numel]
			for j := range want {
				if d := math.Abs(float64(got[j]-want[j])) / math.Max(1, math.Abs(float64(want[j]))); d > worst {
					worst, where = d, fmt.Sprintf("%s[%d] = %g, torch %g", p.Name, j, got[j], want[j])
				}
			}
		}
		t.Logf("step %d: largest difference from torch %.2g (%s)", step, worst, where)
		if worst > 1e-5 {
			t.Errorf("step %d: %s: differs from torch's powerSGD_hook by %.2g (tolerance 1e-5)", step, where, worst)
		}
		for r := 1; r < f.World; r++ {
			if !slices.Equal(out[r][step], out[0][step]) {
				t.Errorf("step %d: rank %d's gradient differs from rank 0's", step, r)
			}
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Error feedback loses nothing: on every rank, the gradients it applied
// (the compressed averages) plus the residual it keeps add up to the
// gradients it computed, step after step; and compression does leave a
// residual.
func TestPowerSGD_ErrorFeedback(t *testing.T) {
	f := loadPSGDFixture(t)
	names := slices.Sorted(mapKeys(f.Shapes))
	grad := func(name string, r, step int) []float32 { return psgdGrad(names, f.Shapes, name, r, step) }
	const steps = 6
	out, resid := runPSGD(t, 2, collective.Float32, f.Shapes, 1, 0, steps, grad, nil)
	b := psgdBuckets(f.Shapes)[0]
	for r := range 2 {
		applied := make([]float64, b.Numel)
		computed := make([]float64, b.Numel)
		for step := range steps {
			for i, p := range b.Params {
				for j, v := range grad(p.Name, r, step) {
					computed[b.Offsets[i]+j] += float64(v)
				}
			}
			worst, norm := 0.0, 0.0
			for k := range applied {
				applied[k] += float64(out[r][step][k])
				d := applied[k] + float64(resid[r][step][k]) - computed[k]
				worst, norm = math.Max(worst, math.Abs(d)), math.Max(norm, math.Abs(computed[k]))
			}
			if worst > 1e-5*math.Max(norm, 1) {
				t.Errorf("rank %d step %d: applied + residual differs from the gradients computed by %g (largest %g)", r, step, worst, norm)
			}
		}
		if n := l2(resid[r][steps-1]); n == 0 {
			t.Errorf("rank %d: no residual: nothing was compressed", r)
		}
	}
}

// Every rank ends every step with the same bits, over three ranks (an
// average that is not a power of two) and a bf16 wire, though each keeps
// its own residual; and the bucket travels in fewer elements.
func TestPowerSGD_RanksBitIdentical(t *testing.T) {
	f := loadPSGDFixture(t)
	names := slices.Sorted(mapKeys(f.Shapes))
	grad := func(name string, r, step int) []float32 { return psgdGrad(names, f.Shapes, name, r, step) }
	var sent, dense int
	out, resid := runPSGD(t, 3, collective.BFloat16, f.Shapes, 2, 1, 5, grad, func(s *powerSGD) { sent, dense = s.sent, s.dense })
	for step := range 5 {
		for r := 1; r < 3; r++ {
			if !slices.Equal(out[r][step], out[0][step]) {
				t.Errorf("step %d: rank %d's gradient differs from rank 0's", step, r)
			}
		}
	}
	if slices.Equal(resid[1][4], resid[0][4]) {
		t.Error("ranks 0 and 1 keep the same residual: the residual must be each rank's own")
	}
	if sent >= dense {
		t.Errorf("a compressed step sends %d elements of a %d-element bucket", sent, dense)
	}
}

func l2(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// The products and the orthogonalisation against plain float64 loops,
// over sizes around the C loops' 16 lanes, for several ranks.
func TestLowRankKernels(t *testing.T) {
	for _, sz := range [][2]int{{7, 5}, {3, 16}, {9, 37}, {40, 33}} {
		n, m := sz[0], sz[1]
		mat := make([]float32, n*m)
		for k := range mat {
			mat[k] = float32((k*37)%11-5) / 3
		}
		for _, r := range []int{1, 3, 4} {
			if r > min(n, m) {
				continue
			}
			t.Run(fmt.Sprintf("n=%d/m=%d/r=%d", n, m, r), func(t *testing.T) {
				testLowRank(t, mat, n, m, r)
			})
		}
	}
	// A zero P (no gradient) stays zero (torch: NaN); a zero or
	// rank-deficient Q is refilled (else warm start would keep it).
	zero := make([]float32, 2*6)
	var scratch []float64
	orthogonalize(zero, 2, 6, &scratch, nil)
	checkOrthonormal(t, zero, 2, 6, true)
	if l2(zero) != 0 {
		t.Errorf("a zero P orthogonalised to %v, want zeros", zero)
	}
	q := []float32{1, 2, 3, 4, 0, 0, 0, 0, 2, 4, 6, 8}
	s := (&powerSGD{seed: 3}).refill(0)
	orthogonalize(q, 3, 4, &scratch, s)
	checkOrthonormal(t, q, 3, 4, false)
}

// checkOrthonormal checks that the r rows of a are orthonormal, or zero
// where zeros is true.
func checkOrthonormal(t *testing.T, a []float32, r, length int, zeros bool) {
	t.Helper()
	for x := range r {
		for y := range r {
			dot := 0.0
			for i := range length {
				dot += float64(a[x*length+i]) * float64(a[y*length+i])
			}
			want := 0.0
			if x == y && (!zeros || dot > 0.5) {
				want = 1
			}
			if math.Abs(dot-want) > 1e-6 {
				t.Errorf("rows %d and %d: dot %g, want %g", x, y, dot, want)
			}
		}
	}
}

func testLowRank(t *testing.T, mat []float32, n, m, r int) {
	qt := make([]float32, r*m)
	for k := range qt {
		qt[k] = float32((k*13)%7-3) / 2
	}
	pt := make([]float32, r*n)
	mulMQ(pt, mat, qt, n, m, r)
	for i := range n {
		for k := range r {
			want := 0.0
			for j := range m {
				want += float64(mat[i*m+j]) * float64(qt[k*m+j])
			}
			approx(t, "M Q", float64(pt[k*n+i]), want)
		}
	}
	var scratch []float64
	orthogonalize(pt, r, n, &scratch, nil)
	checkOrthonormal(t, pt, r, n, true)
	qt2 := make([]float32, r*m)
	mulMtP(qt2, mat, pt, n, m, r)
	for j := range m {
		for k := range r {
			want := 0.0
			for i := range n {
				want += float64(mat[i*m+j]) * float64(pt[k*n+i])
			}
			approx(t, "Mᵀ P", float64(qt2[k*m+j]), want)
		}
	}
	out := make([]float32, n*m)
	mulPQt(out, pt, qt2, n, m, r)
	for i := range n {
		for j := range m {
			want := 0.0
			for k := range r {
				want += float64(pt[k*n+i]) * float64(qt2[k*m+j])
			}
			approx(t, "P Qᵀ", float64(out[i*m+j]), want)
		}
	}
}

func approx(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
		t.Errorf("%s: got %g, want %g", what, got, want)
	}
}

// BenchmarkPowerSGD times one compressed step of the mini preset's dense
// gradients (all but the word embeddings, 25 MiB buckets) on one rank:
// the products and orthogonalisations alone, no network.
func BenchmarkPowerSGD(b *testing.B) {
	shapes := map[string][]int64{"pos": {512, 256}, "type": {2, 256}, "pooler": {256, 256}, "cls": {3, 256}, "ln": {256}}
	for l := range 4 {
		for _, n := range []string{"q", "k", "v", "o"} {
			shapes[fmt.Sprintf("l%d.%s", l, n)] = []int64{256, 256}
			shapes[fmt.Sprintf("l%d.%s.bias", l, n)] = []int64{256}
		}
		shapes[fmt.Sprintf("l%d.up", l)] = []int64{1024, 256}
		shapes[fmt.Sprintf("l%d.down", l)] = []int64{256, 1024}
	}
	var ps []ParamInfo
	for name, s := range shapes {
		ps = append(ps, ParamInfo{Name: name, Numel: int(numel(s))})
	}
	buckets := PlanBuckets(ps, 1<<20, 25<<20)
	for _, rank := range []int{1, 4} {
		b.Run(fmt.Sprintf("rank=%d", rank), func(b *testing.B) {
			s := newPowerSGD(buckets, shapes, rank, 0, 1)
			gs := make([][]float32, len(buckets))
			for i, bk := range buckets {
				gs[i] = make([]float32, bk.Numel)
				for k := range gs[i] {
					gs[i][k] = float32(k%7) - 3
				}
			}
			c := collective.Solo()
			b.SetBytes(int64(s.dense) * 4)
			for b.Loop() {
				for i := range buckets {
					if _, err := s.allReduce(b.Context(), c, i, gs[i]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(s.dense)/float64(s.sent), "compression")
		})
	}
}
