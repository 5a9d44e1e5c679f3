package optim

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"
)

type run struct {
	LRs   []float64            `json:"lrs"`
	Norms []float64            `json:"norms"`
	Final map[string][]float64 `json:"final"`
}

type reference struct {
	Steps, Warmup int
	LR, Clip      float64
	NoDecay       []string               `json:"no_decay"`
	Init          map[string][]float32   `json:"init"`
	Grads         []map[string][]float32 `json:"grads"`
	AdamW         run                    `json:"adamw"`
	Adam          run                    `json:"adam"`
	SGD           run                    `json:"sgd"`
}

func loadRef(t *testing.T) reference {
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAgainstPyTorch replays PyTorch's run (testdata/gen_reference.py):
// the same gradients, HF's linear warmup schedule, clipping, and the
// optimizer; learning rates, norms and final weights must match.
func TestAgainstPyTorch(t *testing.T) {
	ref := loadRef(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		want run
	}{
		{"adamw", Config{Kind: AdamW, WeightDecay: 0.05, Threads: 2}, ref.AdamW},
		{"adam", Config{Kind: Adam, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.05}, ref.Adam},
		{"sgd", Config{Kind: SGD, Momentum: 0.9, WeightDecay: 0.05}, ref.SGD},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			sched := Schedule{Kind: Linear, Warmup: ref.Warmup, Total: ref.Steps}
			names := slices.Sorted(func(y func(string) bool) {
				for n := range ref.Init {
					if !y(n) {
						return
					}
				}
			})
			data := map[string][]float32{}
			for _, n := range names {
				data[n] = slices.Clone(ref.Init[n])
			}
			for k := range ref.Steps {
				var ps []Param
				for _, n := range names {
					ps = append(ps, Param{Name: n, Data: data[n], Grad: slices.Clone(ref.Grads[k][n]), Decay: !slices.Contains(ref.NoDecay, n)})
				}
				norm := ClipGradNorm(ps, ref.Clip)
				if math.Abs(norm-tc.want.Norms[k]) > 1e-5*tc.want.Norms[k] {
					t.Errorf("step %d: norm %v, PyTorch %v", k, norm, tc.want.Norms[k])
				}
				lr := sched.LR(ref.LR, k)
				if math.Abs(lr-tc.want.LRs[k]) > 1e-12 {
					t.Errorf("step %d: lr %v, PyTorch %v", k, lr, tc.want.LRs[k])
				}
				if err := opt.Step(ps, lr); err != nil {
					t.Fatal(err)
				}
			}
			for _, n := range names {
				for i, w := range tc.want.Final[n] {
					if d := math.Abs(float64(data[n][i]) - w); d > 2e-6*math.Max(1, math.Abs(w)) {
						t.Fatalf("%s[%d] = %v, PyTorch %v (diff %g)", n, i, data[n][i], w, d)
					}
				}
			}
		})
	}
}

func TestSkipsParamsWithoutGrad(t *testing.T) {
	opt, _ := New(Config{WeightDecay: 0.1})
	w := []float32{1, 2}
	if err := opt.Step([]Param{{Name: "w", Data: w, Decay: true}}, 0.1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w, []float32{1, 2}) || len(opt.State()) != 0 {
		t.Errorf("a parameter without gradient changed: %v, state %v", w, opt.State())
	}
	if err := opt.Step([]Param{{Name: "w", Data: w, Grad: []float32{1}}}, 0.1); err == nil {
		t.Error("a gradient of the wrong length was accepted")
	}
}

func TestStateRoundTrip(t *testing.T) {
	a, _ := New(Config{})
	b, _ := New(Config{})
	w1, w2 := []float32{1, -1, 3}, []float32{1, -1, 3}
	g := []float32{0.5, 0.25, -1}
	step := func(o *Optimizer, w []float32) { o.Step([]Param{{Name: "w", Data: w, Grad: slices.Clone(g)}}, 0.01) }
	step(a, w1)
	step(b, w2)
	st := a.State()
	c, _ := New(Config{})
	if err := c.SetState(map[string]ParamState{"w": {Step: st["w"].Step, M: slices.Clone(st["w"].M), V: slices.Clone(st["w"].V)}}); err != nil {
		t.Fatal(err)
	}
	step(b, w2)
	step(c, w1)
	if !slices.Equal(w1, w2) {
		t.Errorf("resumed optimizer diverged: %v vs %v", w1, w2)
	}
	sgd, _ := New(Config{Kind: SGD})
	if err := sgd.SetState(st); err == nil {
		t.Error("SGD accepted Adam state")
	}
}

func TestSchedules(t *testing.T) {
	s := Schedule{Kind: Cosine, Warmup: 10, Total: 110}
	for _, c := range []struct {
		step int
		want float64
	}{{0, 0}, {5, 0.5}, {10, 1}, {60, 0.5}, {110, 0}, {200, 0}} {
		if got := s.Factor(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("cosine factor(%d) = %v, want %v", c.step, got, c.want)
		}
	}
	if f := (Schedule{Kind: Constant, Warmup: 4}).Factor(2); f != 0.5 {
		t.Errorf("constant warmup factor %v", f)
	}
	if err := (Schedule{Kind: "step"}).Validate(); err == nil {
		t.Error("unknown schedule accepted")
	}
}

func BenchmarkAdamW(b *testing.B) {
	for _, threads := range []int{1, 2} {
		n := 11 << 20 // about the mini preset's parameter count
		w, g := make([]float32, n), make([]float32, n)
		for i := range g {
			g[i] = float32(i%7) - 3
		}
		opt, _ := New(Config{WeightDecay: 0.01, Threads: threads})
		ps := []Param{{Name: "w", Data: w, Grad: g, Decay: true}}
		b.Run("threads="+string(rune('0'+threads)), func(b *testing.B) {
			b.SetBytes(int64(n) * 4)
			for b.Loop() {
				opt.Step(ps, 1e-3)
			}
		})
	}
}

// Note [Lazy rows]: touched rows get exactly the dense update; untouched
// rows keep weights and moments (dense AdamW would decay and move them).
func TestLazyRows(t *testing.T) {
	const rows, width = 4, 3
	w0 := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	steps := []struct {
		grad    []float32
		touched []int64
	}{
		{[]float32{0, 0, 0, 1, -1, 2, 0, 0, 0, .5, .5, -3}, []int64{1, 3}},
		{[]float32{2, 1, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []int64{0}},
	}
	dense, _ := New(Config{WeightDecay: 0.1})
	lazy, _ := New(Config{WeightDecay: 0.1})
	wd, wl := slices.Clone(w0), slices.Clone(w0)
	for i, s := range steps {
		if err := dense.Step([]Param{{Name: "e", Data: wd, Grad: slices.Clone(s.grad), Decay: true}}, 0.01); err != nil {
			t.Fatal(err)
		}
		if err := lazy.Step([]Param{{Name: "e", Data: wl, Grad: slices.Clone(s.grad), Decay: true, Rows: s.touched, RowLen: width}}, 0.01); err != nil {
			t.Fatal(err)
		}
		for r := range rows {
			row := func(x []float32) []float32 { return x[r*width : (r+1)*width] }
			switch {
			case i == 0 && slices.Contains(s.touched, int64(r)):
				if !slices.Equal(row(wl), row(wd)) {
					t.Errorf("step 0 row %d (touched): lazy %v, dense %v", r, row(wl), row(wd))
				}
			case i == 0 && !slices.Equal(row(wl), row(w0)):
				t.Errorf("step 0 row %d (untouched) moved: %v", r, row(wl))
			}
		}
	}
	// After step 1, rows 1 and 3 were untouched: lazily they stay where step 0 left them.
	if slices.Equal(wl[3:6], wd[3:6]) {
		t.Errorf("row 1: lazy and dense agree after a step that did not touch it (%v): dense should have moved it", wl[3:6])
	}
	if _, err := New(Config{}); err != nil {
		t.Fatal(err)
	}
	bad, _ := New(Config{})
	if err := bad.Step([]Param{{Name: "e", Data: wl, Grad: wl, Rows: []int64{4}, RowLen: width}}, 0.1); err == nil {
		t.Error("a row outside the parameter was accepted")
	}
}
