package ddp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/internal/rankenv"
)

// trainRanks runs Train on n in-process ranks over fresh comms from open,
// rank r writing to outs[r]; stop, if not nil, is rank 0's stop channel,
// closed after step stopAt.
func trainRanks(t *testing.T, base Config, outs []string, stopAt int, open commMaker) ([]*Result, []error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	n := len(outs)
	comms := open(t, ctx, n)
	res, errs := make([]*Result, n), make([]error, n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := range n {
		wg.Go(func() {
			cfg := base
			cfg.Output = outs[r]
			env := Env{ID: rankenv.Identity{Rank: r, WorldSize: n, LocalRank: r, LocalWorldSize: n}, Comm: comms[r]}
			if r == 0 && stopAt > 0 {
				env.Stop = stop
				env.OnStep = func(s int) {
					if s == stopAt {
						close(stop)
					}
				}
			}
			res[r], errs[r] = Train(ctx, cfg, env)
		})
	}
	wg.Wait()
	return res, errs
}

type commMaker func(t *testing.T, ctx context.Context, n int) []collective.Comm

func fp32Ring(t *testing.T, ctx context.Context, n int) []collective.Comm {
	return loopbackRing(t, ctx, n, collective.Float32)
}

// Ranks on machines without a shared --output: only rank 0 has the
// checkpoint; a restart with rank 1's folder empty still continues exactly
// (rank 0 sends the trainer and optimizer state) and ends with the weights
// of an uninterrupted run. Over the ring with the host optimizer, and over
// (fake) NCCL with the flat optimizer and ddp's bf16 wire conversion: the
// CUDA path's trainer, on host memory.
func TestResumeWithoutSharedOutput(t *testing.T) {
	t.Run("ring", func(t *testing.T) { testResumeWithoutSharedOutput(t, "host", fp32Ring) })
	t.Run("nccl-flat", func(t *testing.T) { testResumeWithoutSharedOutput(t, "flat", fakeNCCL) })
}

func testResumeWithoutSharedOutput(t *testing.T, impl string, open commMaker) {
	// No dropout: in-process ranks share libtorch's global generator, so
	// their dropout masks interleave nondeterministically (separate rank
	// processes do not; TestResumeIsExact covers dropout).
	model, data := tinyModelDir(t, 0), t.TempDir()
	cfg := testTrainConfig(t, model, data, "")
	cfg.Test, cfg.NoReport, cfg.LoadBestAtEnd = "", true, false
	cfg.OptimizerImpl = impl
	// Overlap is off on one machine by default (Note [Overlap policy]):
	// force it to keep it covered, with an fp32 wire, since a bf16 wire
	// converted in ddp turns it off.
	cfg.Overlap, cfg.Wire = "on", "fp32"
	full := []string{t.TempDir(), t.TempDir()}
	_, errs := trainRanks(t, cfg, full, 0, open)
	for r, err := range errs {
		if err != nil {
			t.Fatalf("uninterrupted rank %d: %v", r, err)
		}
	}
	part := []string{t.TempDir(), t.TempDir()}
	res, errs := trainRanks(t, cfg, part, 2, open)
	for r, err := range errs {
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("interrupted rank %d: %v", r, err)
		}
	}
	if res[0].Steps != 2 {
		t.Fatalf("stopped at step %d, want 2", res[0].Steps)
	}
	part[1] = t.TempDir() // rank 1 on a "new machine": nothing on disk
	before := checkpointReads.Load()
	res, errs = trainRanks(t, cfg, part, 0, open)
	if reads := checkpointReads.Load() - before; reads != 1 {
		t.Errorf("the resume read %d checkpoints from disk, want 1 (rank 0's)", reads)
	}
	for r, err := range errs {
		if err != nil {
			t.Fatalf("resumed rank %d: %v", r, err)
		}
	}
	if res[1].ResumedFrom == "" || res[0].Steps != 6 {
		t.Fatalf("resumed run: rank 0 %+v, rank 1 %+v", res[0], res[1])
	}
	compareFolders(t, full[0], part[0])
}
