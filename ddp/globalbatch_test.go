package ddp

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/bert"
)

// --global-batch-size keeps the samples of every optimizer step when the
// world size changes: 4 ranks x batch 2 and 2 ranks x batch 2 x 2
// accumulated micro-batches train on the same 8 samples per step (Note
// [Resharding]), so a run that loses half its ranks mid-way (resumed from
// the checkpoint at 2 ranks) ends with the weights of an uninterrupted
// 4-rank run, to float rounding: the sums run in another order.
func TestGlobalBatchAcrossResize(t *testing.T) {
	model, data := tinyModelDir(t, 0), t.TempDir()
	cfg := testTrainConfig(t, model, data, "")
	cfg.Test, cfg.Val, cfg.EvalStrategy, cfg.NoReport, cfg.LoadBestAtEnd, cfg.Baseline = "", "", "no", true, false, "none"
	cfg.Wire, cfg.BatchSize, cfg.GlobalBatch, cfg.SaveSteps, cfg.SaveTotalLimit = "fp32", 2, 8, 1, 0
	outs := func(n int) []string {
		o := make([]string, n)
		for i := range o {
			o[i] = t.TempDir()
		}
		return o
	}
	run := func(o []string, stopAt int) []*Result {
		res, errs := trainRanks(t, cfg, o, stopAt, fp32Ring)
		for r, err := range errs {
			if err != nil && !(stopAt > 0 && errors.Is(err, ErrStopped)) {
				t.Fatalf("%d ranks, rank %d: %v", len(o), r, err)
			}
		}
		return res
	}
	full := outs(4)
	if res := run(full, 0); res[0].Steps != 12 {
		t.Fatalf("4 ranks: %d steps, want 12 (48 rows, 8 a step, 2 epochs)", res[0].Steps)
	}
	part := outs(4)
	run(part, 5)
	shrunk := []string{part[0], t.TempDir()} // rank 0 keeps its folder, as the first node would
	res := run(shrunk, 0)
	if res[0].ResumedFrom == "" || res[0].Steps != 12 || res[0].WorldSize != 2 {
		t.Fatalf("resumed at 2 ranks: %+v", res[0])
	}
	want, _, err := bert.ReadWeights(filepath.Join(full[0], "checkpoint-12"))
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := bert.ReadWeights(filepath.Join(shrunk[0], "checkpoint-12"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range want {
		if roundingNoise(name) {
			delete(want, name)
			delete(got, name)
		}
	}
	d, where := maxDiff(got, want)
	t.Logf("largest difference from the uninterrupted 4-rank run: %g (%s)", d, where)
	if d > 1e-5 {
		t.Errorf("%s differs by %g from the uninterrupted 4-rank run", where, d)
	}
}

func TestGlobalBatchDivides(t *testing.T) {
	c := DefaultConfig()
	c.BatchSize, c.GlobalBatch = 16, 96
	for world, want := range map[int]int{1: 6, 2: 3, 3: 2, 6: 1} {
		if got, err := c.gradAccum(world); err != nil || got != want {
			t.Errorf("%d ranks: accum %d, %v; want %d", world, got, err, want)
		}
	}
	if _, err := c.gradAccum(4); err == nil || !strings.Contains(err.Error(), "not a multiple of --batch-size 16 x 4 ranks = 64") {
		t.Errorf("4 ranks: %v", err)
	}
	c.GradAccum = 2
	if err := c.Validate(); err == nil {
		t.Error("--global-batch-size with --grad-accum accepted")
	}
}
