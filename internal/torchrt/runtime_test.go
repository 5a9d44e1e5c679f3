package torchrt

import (
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Autograd's mode is thread-local state of the compute thread; SetGradEnabled
// reports the previous state truthfully (gotch's wrapper does not).
func TestGradMode(t *testing.T) {
	err := Run(Config{Threads: 1}, func(*Thread) error {
		if !SetGradEnabled(false) {
			t.Error("grad mode should start enabled")
		}
		if SetGradEnabled(true) {
			t.Error("previous state should be disabled")
		}
		_ = NoGrad(func() error {
			if SetGradEnabled(false) {
				t.Error("NoGrad did not disable autograd")
			}
			return nil
		})
		if !SetGradEnabled(true) {
			t.Error("NoGrad did not restore autograd")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRunSetsThreadsAndReportsPanics(t *testing.T) {
	err := Run(Config{Threads: 2}, func(*Thread) error {
		if n := NumThreads(); n != 2 {
			t.Errorf("intra-op threads %d, want 2", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = Run(Config{}, func(*Thread) error { panic("boom") })
	if err == nil {
		t.Fatal("a panic on the compute thread was not reported")
	}
	if DefaultThreads(0) < 1 || DefaultThreads(0) > runtime.NumCPU() {
		t.Errorf("default threads %d", DefaultThreads(0))
	}
	if Version() == "" || !MallocTuned() {
		t.Errorf("version %q, malloc tuned %v", Version(), MallocTuned())
	}
}

func TestOnGradReady(t *testing.T) {
	err := Run(Config{Threads: 1}, func(th *Thread) error {
		w := ts.MustOnes([]int64{3}, gotch.Float, gotch.CPU)
		defer w.MustDrop()
		if err := w.RequiresGrad_(true); err != nil {
			return err
		}
		calls := 0
		if err := OnGradReady(w, func() { calls++ }); err != nil {
			return err
		}
		for i := range 3 {
			y := w.MustMul(w, false)
			s := y.MustSum(gotch.Float, false)
			if err := s.Backward(); err != nil {
				return err
			}
			s.MustDrop()
			y.MustDrop()
			if calls != i+1 {
				t.Errorf("after backward %d the hook ran %d times", i+1, calls)
			}
		}
		x := ts.MustOnes([]int64{2}, gotch.Float, gotch.CPU) // no grad: not a hookable leaf
		defer x.MustDrop()
		if err := OnGradReady(x, func() {}); err == nil {
			t.Error("a hook on a tensor without grad was accepted")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// SetData: after p.data = view of a flat buffer, the parameter reads and
// writes the buffer, autograd still treats p as the same leaf, and a
// shape mismatch is refused.
func TestSetData(t *testing.T) {
	err := Run(Config{Threads: 1}, func(*Thread) error {
		p := ts.MustOnes([]int64{2, 2}, gotch.Float, gotch.CPU)
		defer p.MustDrop()
		if err := p.RequiresGrad_(true); err != nil {
			return err
		}
		flat := ts.MustArange(ts.FloatScalar(6), gotch.Float, gotch.CPU) // 0..5
		defer flat.MustDrop()
		view := flat.MustNarrow(0, 1, 4, false).MustView([]int64{2, 2}, true)
		defer view.MustDrop()
		if err := SetData(p, view); err != nil {
			return err
		}
		s := p.MustSum(gotch.Float, false)
		if got := s.Float64Values()[0]; got != 1+2+3+4 {
			t.Errorf("sum of the parameter %v, want 10 (the buffer's elements 1..4)", got)
		}
		if err := s.Backward(); err != nil {
			return err
		}
		s.MustDrop()
		if !HasGrad(p) || !p.MustRequiresGrad() {
			t.Error("the parameter lost its gradient or requires_grad")
		}
		_ = NoGrad(func() error { return flat.Fill_(ts.FloatScalar(2)) })
		s = p.MustSum(gotch.Float, false)
		defer s.MustDrop()
		if got := s.Float64Values()[0]; got != 8 {
			t.Errorf("after filling the buffer with 2 the parameter sums to %v, want 8", got)
		}
		wrong := ts.MustOnes([]int64{3}, gotch.Float, gotch.CPU)
		defer wrong.MustDrop()
		if err := SetData(p, wrong); err == nil {
			t.Error("data of another shape was accepted")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Without a CUDA device SetCUDADevice fails and says why: no CUDA runtime
// loaded (a CPU-only libtorch, as here) or cudaSetDevice's error (a CUDA
// libtorch on a machine without GPUs). With one it is cudaSetDevice.
func TestSetCUDADeviceWithoutCUDA(t *testing.T) {
	if CUDADevices() > 0 {
		t.Skip("CUDA devices are visible: this checks machines without")
	}
	err := SetCUDADevice(0)
	if err == nil || !(strings.Contains(err.Error(), "no CUDA runtime is loaded") || strings.Contains(err.Error(), "cudaSetDevice(0) failed")) {
		t.Errorf("SetCUDADevice(0) without a GPU: %v", err)
	}
}

// The ranks sharing the machine come from the caller, never from the
// environment: LOCAL_WORLD_SIZE is internal/rankenv's to read.
func TestDefaultThreads_SharedByLocalRanks(t *testing.T) {
	t.Setenv("LOCAL_WORLD_SIZE", "1000000")
	n := runtime.NumCPU()
	for _, tc := range []struct{ ranks, want int }{{0, n}, {1, n}, {2, max(n/2, 1)}, {2 * n, 1}} {
		if got := DefaultThreads(tc.ranks); got != tc.want {
			t.Errorf("DefaultThreads(%d) = %d on %d CPUs, want %d", tc.ranks, got, n, tc.want)
		}
	}
}
