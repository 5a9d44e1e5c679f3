package devopt

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ddprun/ddprun/ddp/optim"
	"github.com/ddprun/ddprun/internal/torchrt"
)

// sizes are the parameters of one test group; the first three decay.
var sizes = []int{5, 70_000, 3, 17, 1}

const nDecayParams = 3

type fixture struct {
	w, g   *ts.Tensor
	wm, gm []float32 // the tensors' memory
	group  Group
	params []optim.Param // the same memory, per parameter, for package optim
}

func newFixture(t *testing.T, seed uint64) *fixture {
	t.Helper()
	n := 0
	for _, s := range sizes {
		n += s
	}
	f := &fixture{}
	var err error
	if f.w, err = ts.Zeros([]int64{int64(n)}, gotch.Float, gotch.CPU); err != nil {
		t.Fatal(err)
	}
	if f.g, err = ts.Zeros([]int64{int64(n)}, gotch.Float, gotch.CPU); err != nil {
		t.Fatal(err)
	}
	f.wm = unsafe.Slice((*float32)(f.w.MustDataPtr()), n)
	f.gm = unsafe.Slice((*float32)(f.g.MustDataPtr()), n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range f.wm {
		f.wm[i] = float32(r.NormFloat64())
	}
	f.group = Group{W: f.w, G: f.g}
	off := 0
	for i, s := range sizes {
		name := string(rune('a' + i))
		f.group.Slots = append(f.group.Slots, Slot{Name: name, Offset: off, Numel: s})
		f.params = append(f.params, optim.Param{Name: name, Data: f.wm[off : off+s], Grad: f.gm[off : off+s], Decay: i < nDecayParams})
		if i < nDecayParams {
			f.group.NDecay += s
		}
		off += s
	}
	t.Cleanup(func() { f.w.MustDrop(); f.g.MustDrop() })
	return f
}

// grads writes step k's gradients (the same for every fixture).
func (f *fixture) grads(k int) {
	r := rand.New(rand.NewPCG(uint64(k), 2))
	for i := range f.gm {
		f.gm[i] = float32(r.NormFloat64()) * 3
	}
}

func onThread(t *testing.T, f func() error) {
	t.Helper()
	if err := torchrt.Run(torchrt.Config{Threads: 1}, func(*torchrt.Thread) error { return f() }); err != nil {
		t.Fatal(err)
	}
}

// TestMatchesHost: one flat step per group equals package optim's
// per-parameter step (itself checked against PyTorch) to float rounding,
// weight decay only on the decaying prefix, with clipping.
func TestMatchesHost(t *testing.T) {
	for _, tc := range []struct {
		cfg optim.Config
		tol float64
	}{
		{optim.Config{Kind: optim.AdamW, WeightDecay: 0.1}, 2e-6},
		// Adam's L2 term: ATen computes g + wd*w with a fused multiply-add,
		// package optim rounds wd*w first (as PyTorch's scalar path does);
		// where g + wd*w nearly cancels, Adam's normalised step magnifies
		// that last-bit difference (lr up to 6e-2 here).
		{optim.Config{Kind: optim.Adam, WeightDecay: 0.05}, 1e-4},
		{optim.Config{Kind: optim.SGD, WeightDecay: 0.01, Momentum: 0.9}, 2e-6},
		{optim.Config{Kind: optim.SGD}, 2e-6},
	} {
		cfg := tc.cfg
		t.Run(string(cfg.Kind), func(t *testing.T) {
			onThread(t, func() error {
				flat, host := newFixture(t, 7), newFixture(t, 7)
				start := append([]float32(nil), flat.wm...)
				dev, err := New(cfg, []Group{flat.group})
				if err != nil {
					return err
				}
				defer dev.Close()
				ref, err := optim.New(cfg)
				if err != nil {
					return err
				}
				for k := range 6 {
					flat.grads(k)
					host.grads(k)
					n1, err := ClipGradNorm([]*ts.Tensor{flat.g}, 50)
					if err != nil {
						return err
					}
					n2 := optim.ClipGradNorm(host.params, 50)
					if math.Abs(n1-n2) > 1e-5*n2 {
						t.Errorf("step %d: norm %v, host %v", k, n1, n2)
					}
					lr := 1e-2 * float64(k+1)
					if err := dev.Step(lr); err != nil {
						return err
					}
					if err := ref.Step(host.params, lr); err != nil {
						return err
					}
				}
				worst, at := 0.0, 0
				for i := range flat.wm {
					d := math.Abs(float64(flat.wm[i] - host.wm[i]))
					if d > worst {
						worst, at = d, i
					}
				}
				if worst > tc.tol {
					t.Errorf("weights differ from the per-parameter optimizer by %g at element %d (tolerance %g)", worst, at, tc.tol)
				}
				var moved float64
				for i := range flat.wm {
					moved = max(moved, math.Abs(float64(flat.wm[i]-start[i])))
				}
				if moved < 1e-3 {
					t.Errorf("the weights barely moved (%g): the test proves nothing", moved)
				}
				return nil
			})
		})
	}
}

// TestStateRoundTrip: stopping after 3 steps, saving the state and loading
// it into a fresh optimizer continues bit for bit; the state is also what
// package optim keeps (same names, steps and moments).
func TestStateRoundTrip(t *testing.T) {
	cfg := optim.Config{Kind: optim.AdamW, WeightDecay: 0.1}
	onThread(t, func() error {
		a, b := newFixture(t, 3), newFixture(t, 3)
		oa, err := New(cfg, []Group{a.group})
		if err != nil {
			return err
		}
		defer oa.Close()
		ob, err := New(cfg, []Group{b.group})
		if err != nil {
			return err
		}
		defer ob.Close()
		host := newFixture(t, 3)
		ref, _ := optim.New(cfg)
		for k := range 3 {
			a.grads(k)
			b.grads(k)
			host.grads(k)
			if err := oa.Step(1e-2); err != nil {
				return err
			}
			if err := ob.Step(1e-2); err != nil {
				return err
			}
			ref.Step(host.params, 1e-2)
		}
		st, err := ob.State()
		if err != nil {
			return err
		}
		for name, want := range ref.State() {
			got := st[name]
			if got.Step != want.Step || len(got.M) != len(want.M) || len(got.V) != len(want.V) {
				t.Fatalf("%s: state step %d, %d+%d moments; package optim has %d, %d+%d", name, got.Step, len(got.M), len(got.V), want.Step, len(want.M), len(want.V))
			}
			for i := range got.V {
				if d := math.Abs(float64(got.V[i] - want.V[i])); d > 1e-6*math.Abs(float64(want.V[i]))+1e-12 {
					t.Fatalf("%s: exp_avg_sq[%d] = %v, package optim %v", name, i, got.V[i], want.V[i])
				}
			}
		}
		oc, err := New(cfg, []Group{b.group})
		if err != nil {
			return err
		}
		defer oc.Close()
		if err := oc.SetState(st); err != nil {
			return err
		}
		for k := 3; k < 6; k++ {
			a.grads(k)
			b.grads(k)
			if err := oa.Step(1e-2); err != nil {
				return err
			}
			if err := oc.Step(1e-2); err != nil {
				return err
			}
		}
		for i := range a.wm {
			if a.wm[i] != b.wm[i] {
				t.Fatalf("element %d: %v after a resume, %v without", i, b.wm[i], a.wm[i])
			}
		}
		delete(st, "b")
		if err := oc.SetState(st); err == nil {
			t.Error("state missing one parameter of a group was accepted")
		}
		return nil
	})
}

func TestRejectsBadGroups(t *testing.T) {
	onThread(t, func() error {
		f := newFixture(t, 1)
		short, _ := ts.Zeros([]int64{3}, gotch.Float, gotch.CPU)
		defer short.MustDrop()
		for _, g := range []Group{
			{W: f.w, G: short},
			{W: f.w, G: f.g, NDecay: -1},
			{W: f.w, G: f.g, Slots: []Slot{{"x", 0, 10}, {"y", 5, 10}}},
			{W: f.w},
		} {
			if o, err := New(optim.Config{}, []Group{g}); err == nil {
				o.Close()
				t.Errorf("group %+v accepted", g.Slots)
			}
		}
		return nil
	})
}
