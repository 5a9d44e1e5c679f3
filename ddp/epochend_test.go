package ddp

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/ddprun/ddprun/ddp/runlog"
)

// An epoch's end is handled once: the step that takes the epoch's last
// batch evaluates (--eval-strategy epoch) and counts the epoch, and the
// loader's end-of-epoch signal that follows adds nothing. (It used to run
// a second evaluation at the same step, which also spent early-stopping
// patience twice, and to count the epoch twice.)
func TestEpochEndHandledOnce(t *testing.T) {
	model, data := tinyModelDir(t, 0), t.TempDir()
	cfg := testTrainConfig(t, model, data, t.TempDir())
	cfg.Epochs, cfg.EvalStrategy, cfg.EvalSteps, cfg.SaveStrategy, cfg.LoadBestAtEnd, cfg.Test, cfg.NoReport = 3, "epoch", 0, "epoch", false, "", true
	if _, err := Train(t.Context(), cfg, Env{}); err != nil {
		t.Fatal(err)
	}
	entries, err := runlog.Read(filepath.Join(cfg.Output, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var evals, saves []int64
	for _, e := range entries {
		switch {
		case e.Kind == runlog.Eval:
			evals = append(evals, e.Step)
		case e.Kind == runlog.Event && e.Fields[runlog.FieldMsg] == "checkpoint":
			saves = append(saves, e.Step)
		}
	}
	if want := []int64{6, 12, 18}; !slices.Equal(evals, want) || !slices.Equal(saves, want) {
		t.Errorf("evaluations at steps %v and checkpoints at %v, want one of each at every epoch's end %v", evals, saves, want)
	}
	ck, err := readCheckpoint(filepath.Join(cfg.Output, "checkpoint-6"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.State.Epoch != 1 {
		t.Errorf("after the first epoch the trainer state says epoch %d, want 1", ck.State.Epoch)
	}
}
