package ddp

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/ddp/runlog"
	"github.com/ddprun/ddprun/internal/rankenv"
)

// An output folder the recorder cannot write into (here metrics.jsonl is
// a folder) is a clear error naming the file on every rank, not a panic
// in the deferred clean-up (a nil *fileRecorder once hid the cause).
func TestUnwritableOutputIsAClearError(t *testing.T) {
	model, data := tinyModelDir(t, 0), t.TempDir()
	cfg := testTrainConfig(t, model, data, "")
	cfg.Test, cfg.NoReport = "", true
	blocked := func(t *testing.T) string {
		out := t.TempDir()
		if err := os.Mkdir(filepath.Join(out, metricsFile), 0o755); err != nil {
			t.Fatal(err)
		}
		return out
	}
	check := func(t *testing.T, who string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), metricsFile) || strings.Contains(err.Error(), "panic") {
			t.Errorf("%s: got %v, want an error naming %s", who, err, metricsFile)
		}
	}
	t.Run("ranks=1", func(t *testing.T) {
		c := cfg
		c.Output = blocked(t)
		_, err := Train(t.Context(), c, Env{})
		check(t, "rank 0", err)
	})
	t.Run("ranks=2", func(t *testing.T) {
		_, errs := trainRanks(t, cfg, []string{blocked(t), t.TempDir()}, 0, fp32Ring)
		for r, err := range errs {
			check(t, fmt.Sprint("rank ", r), err)
		}
	})
}

// Pruning counts and deletes only the current run's checkpoints: another
// run's (even with higher steps) and unreadable ones are left alone and
// never outrank the run's own newest. See Note [Runs and pruning].
func TestPruneKeepsOwnNewest(t *testing.T) {
	out := t.TempDir()
	mk := func(step int, run string) string {
		d := filepath.Join(out, fmt.Sprint(checkpointPrefix, step))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		state := fmt.Sprintf(`{"run_id": %q, "global_step": %d}`, run, step)
		if run == "" {
			state = "{torn" // a damaged state: whose run is unknown
		}
		if err := os.WriteFile(filepath.Join(d, trainerStateFile), []byte(state), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	other350, other400, torn500 := mk(350, "other"), mk(400, "other"), mk(500, "")
	best, own100, own120, own140 := mk(20, "me"), mk(100, "me"), mk(120, "me"), mk(140, "me")
	mk(40, "me")
	if err := pruneCheckpoints(out, 2, "me", best); err != nil {
		t.Fatal(err)
	}
	left, err := listCheckpoints(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{torn500, other400, other350, own140, own120, best}
	if !slices.Equal(left, want) {
		t.Errorf("left after pruning:\n got %v\nwant %v (checkpoint-40 and %s go)", left, want, filepath.Base(own100))
	}
}

// A fresh run refuses an output holding another run's outputs (it would
// mix logs and checkpoints), says why, and starts clean with
// --overwrite-output; stale temporary checkpoint folders are removed.
func TestFreshRunIntoUsedOutput(t *testing.T) {
	model, data := tinyModelDir(t, 0), t.TempDir()
	cfg := testTrainConfig(t, model, data, t.TempDir())
	cfg.Test, cfg.NoReport, cfg.MaxSteps = "", true, 4
	if _, err := Train(t.Context(), cfg, Env{}); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(cfg.Output, tmpCheckpointPrefix+"123")
	if err := os.Mkdir(stale, 0o755); err != nil {
		t.Fatal(err)
	}

	again := cfg
	again.Resume = "no"
	_, err := Train(t.Context(), again, Env{})
	if !errors.Is(err, ErrOutputInUse) || !strings.Contains(err.Error(), "--overwrite-output") || !strings.Contains(err.Error(), "checkpoint-4") {
		t.Fatalf("fresh run into a used output: %v", err)
	}
	if fileExists(stale) {
		t.Error("the stale temporary checkpoint folder is still there")
	}

	// Every checkpoint damaged: nothing to resume, so the same refusal, naming them.
	cks, _ := listCheckpoints(cfg.Output)
	for _, d := range cks {
		if err := os.WriteFile(filepath.Join(d, bert.SafetensorsFile), []byte("torn"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = Train(t.Context(), cfg, Env{})
	if !errors.Is(err, ErrOutputInUse) || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("auto-resume with every checkpoint damaged: %v", err)
	}

	again.Overwrite = true
	res, err := Train(t.Context(), again, Env{})
	if err != nil || res.ResumedFrom != "" || res.Steps != 4 {
		t.Fatalf("--overwrite-output: %+v, %v", res, err)
	}
	entries, err := runlog.Read(filepath.Join(cfg.Output, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	last := int64(0)
	for _, e := range entries {
		if e.Kind == runlog.Train {
			if e.Step <= last {
				t.Fatalf("metrics.jsonl mixes runs: step %d after %d", e.Step, last)
			}
			last = e.Step
		}
	}
	if err := verifyCheckpoint(filepath.Join(cfg.Output, "checkpoint-4")); err != nil {
		t.Errorf("the new run's checkpoint: %v", err)
	}
}

// A launcher restart (DDPRUN_RESTART > 0) after a crash before the first
// checkpoint starts over on its own first generation's logs instead of
// refusing them; a first start refuses them.
func TestRestartWithoutCheckpointStartsOver(t *testing.T) {
	model, data := tinyModelDir(t, 0), t.TempDir()
	cfg := testTrainConfig(t, model, data, t.TempDir())
	cfg.Test, cfg.NoReport, cfg.MaxSteps, cfg.SaveStrategy, cfg.LoadBestAtEnd = "", true, 2, "no", false
	if _, err := Train(t.Context(), cfg, Env{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Train(t.Context(), cfg, Env{}); !errors.Is(err, ErrOutputInUse) {
		t.Fatalf("first start into the same output: %v", err)
	}
	res, err := Train(t.Context(), cfg, Env{ID: rankenv.Identity{WorldSize: 1, LocalWorldSize: 1, Restart: 1}})
	if err != nil || res.Steps != 2 {
		t.Fatalf("restart: %+v, %v", res, err)
	}
}

// Ranks on machines without a shared --output, default evaluation and
// saving: only rank 0's folder has the best checkpoint, yet every rank
// loads its weights at the end (rank 0 decides and broadcasts), and the
// final model is the best checkpoint's.
func TestLoadBestWithSeparateOutputs(t *testing.T) {
	model, data := tinyModelDir(t, 0), t.TempDir()
	cfg := testTrainConfig(t, model, data, "")
	cfg.Test, cfg.NoReport, cfg.Wire = "", true, "fp32"
	outs := []string{t.TempDir(), t.TempDir()}
	res, errs := trainRanks(t, cfg, outs, 0, fp32Ring)
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	best := res[0].BestCheckpoint
	if best == "" || res[1].BestCheckpoint != filepath.Join(outs[1], filepath.Base(best)) {
		t.Fatalf("best checkpoint: rank 0 %q, rank 1 %q", best, res[1].BestCheckpoint)
	}
	if fileExists(res[1].BestCheckpoint) {
		t.Fatalf("rank 1 wrote %s: the test needs it absent", res[1].BestCheckpoint)
	}
	if filepath.Base(best) == "checkpoint-12" {
		t.Fatal("the best checkpoint is the last one: the test cannot tell the best weights from the last")
	}
	compareWeightFiles(t, filepath.Join(best, bert.SafetensorsFile), filepath.Join(outs[0], bert.SafetensorsFile))
}

// Only rank 0 reports what every rank does alike (tokenizing the same
// files); warnings still come from every rank.
func TestQuieterDropsInfo(t *testing.T) {
	var b strings.Builder
	log := quieter(slog.New(slog.NewTextHandler(&b, nil)).With("rank", 1), slog.LevelWarn)
	log.Info("shard: tokenized")
	log.Warn("a damaged row")
	if strings.Contains(b.String(), "tokenized") || !strings.Contains(b.String(), "a damaged row") || !strings.Contains(b.String(), "rank=1") {
		t.Errorf("log: %s", b.String())
	}
}

// The count of trainable parameters (--freeze-base, --train-only) is what
// the log and the report say.
func TestParamSummary(t *testing.T) {
	ps := []bert.Param{{Shape: []int64{1000, 1000}, Trainable: false}, {Shape: []int64{3, 100}, Trainable: true}, {Shape: []int64{3}, Trainable: true}}
	if got := paramSummary(ps); got != "1.00M, 303 trainable" {
		t.Errorf("paramSummary = %q", got)
	}
	ps[0].Trainable = true
	if got := paramSummary(ps); got != "1.00M, all trainable" {
		t.Errorf("paramSummary = %q", got)
	}
}
