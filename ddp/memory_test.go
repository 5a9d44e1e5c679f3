package ddp

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/internal/torchrt"
)

// rssMB reads the resident set size from /proc/self/statm.
func rssMB(t *testing.T) float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm")
	}
	pages, _ := strconv.Atoi(strings.Fields(string(b))[1])
	return float64(pages*os.Getpagesize()) / (1 << 20)
}

// The live-tensor count and the RSS stay flat over 1,000 training steps:
// no tensor of a step outlives it, and nothing grows per step beyond
// gotch's own malloc(0) per op (about 32 bytes; see the issue notes).
func TestMemoryFlatOver1000Steps(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 steps")
	}
	model, data, out := tinyModelDir(t, 0.1), t.TempDir(), t.TempDir()
	cfg := testTrainConfig(t, model, data, out)
	cfg.MaxSteps, cfg.EvalStrategy, cfg.SaveStrategy, cfg.Test, cfg.NoReport, cfg.LogEvery, cfg.LoadBestAtEnd = 1000, "no", "no", "", true, 100, false
	var live []int
	var rss []float64
	_, err := Train(t.Context(), cfg, Env{OnStep: func(s int) {
		if s%100 == 0 {
			live = append(live, torchrt.LiveTensors())
			rss = append(rss, rssMB(t))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(live); i++ {
		if live[i] != live[0] {
			t.Fatalf("live tensors every 100 steps: %v", live)
		}
	}
	// From step 200 (warm allocator) to step 1000. What remains is gotch's
	// own leak: every generated op wrapper writes its result into
	// C.malloc(0) and never frees it (about 32 bytes per op, some 200 ops
	// per step of this model: ~7 KB/step, measured 7.5). Anything of ours
	// that leaked a tensor per step would show as megabytes here.
	if grow := (rss[len(rss)-1] - rss[1]) * 1024 / 800; grow > 12 {
		t.Errorf("RSS grew %.1f KB per step over 800 steps: %v", grow, rss)
	}
	t.Logf("live tensors %v; RSS MB %v", live, rss)
}

func TestEarlyStopping(t *testing.T) {
	model, data, out := tinyModelDir(t, 0), t.TempDir(), t.TempDir()
	cfg := testTrainConfig(t, model, data, out)
	// A learning rate of 0 never improves: stop after 2 evaluations without improvement.
	cfg.LR, cfg.Patience, cfg.MaxSteps, cfg.EvalSteps, cfg.SaveSteps = 0, 2, 40, 2, 2
	res, err := Train(t.Context(), cfg, Env{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != "early-stopping" || res.Steps != 6 {
		t.Errorf("stopped %q at step %d, want early stopping at step 6 (best at 2, no gain at 4 and 6)", res.Stop, res.Steps)
	}
	// Every evaluation ties: the best is the latest (Note [Evaluation and saving]).
	if res.BestCheckpoint == "" || !strings.HasSuffix(res.BestCheckpoint, "checkpoint-6") {
		t.Errorf("best checkpoint %q, want checkpoint-6 (ties keep the later step)", res.BestCheckpoint)
	}
}
