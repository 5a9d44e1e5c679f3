package ddp

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// --compress reaches the engine through Train's plan: two ranks over the
// ring, compression from step 4 (Note [PowerSGD]); the gradient bytes per
// step (metrics.jsonl's wire_mb) fall once it starts. (That replicas stay
// bit-identical: TestEquivalence_PowerSGD.)
func TestTrainCompressWiring(t *testing.T) {
	model, data := tinyModelDir(t, 0), t.TempDir()
	cfg := testTrainConfig(t, model, data, "")
	cfg.Val, cfg.Test, cfg.NoReport, cfg.LoadBestAtEnd, cfg.Baseline = "", "", true, false, "none"
	cfg.EvalStrategy, cfg.MaxSteps, cfg.LogEvery, cfg.Wire = "no", 8, 1, "fp32"
	cfg.Compress = "powersgd:1:4"
	outs := []string{t.TempDir(), t.TempDir()}
	_, errs := trainRanks(t, cfg, outs, 0, fp32Ring)
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	f, err := os.Open(filepath.Join(outs[0], "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wire := map[int]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var row struct {
			Kind string  `json:"kind"`
			Step int     `json:"step"`
			Wire float64 `json:"wire_mb"`
		}
		if json.Unmarshal(sc.Bytes(), &row) == nil && row.Kind == "train" {
			wire[row.Step] = row.Wire
		}
	}
	first, last := wire[1], wire[8]
	t.Logf("gradient MB per step: %v", wire)
	if first == 0 || last == 0 || last > first/2 {
		t.Fatalf("wire MB at step 1 %.4f, at step 8 %.4f: want compression to at least halve it", first, last)
	}
}
