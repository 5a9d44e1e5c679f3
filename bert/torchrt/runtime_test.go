package torchrt

import (
	"runtime"
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
	if DefaultThreads() < 1 || DefaultThreads() > runtime.NumCPU() {
		t.Errorf("default threads %d", DefaultThreads())
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
