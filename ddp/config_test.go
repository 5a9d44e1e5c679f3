package ddp

import (
	"slices"
	"strings"
	"testing"
)

// TestEvaluationAndSaving resolves the evaluation and saving flags as Note
// [Evaluation and saving] says (HF's semantics), for the combinations a
// first-time user tries.
func TestEvaluationAndSaving(t *testing.T) {
	for _, tc := range []struct {
		name      string
		set       func(c *Config)
		eval      string
		evalSteps int
		save      string
		saveSteps int
		err       string
	}{
		{"no val: no evaluation, checkpoints every 500", func(c *Config) {}, "no", 500, "steps", 500, ""},
		{"val: every epoch", func(c *Config) { c.Val = "v.csv" }, "epoch", 500, "steps", 500, ""},
		{"eval-steps alone", func(c *Config) { c.Val, c.EvalSteps = "v.csv", 30 }, "steps", 30, "steps", 500, ""},
		{"eval no still saves", func(c *Config) { c.Val, c.EvalStrategy = "v.csv", "no" }, "no", 500, "steps", 500, ""},
		{"save-steps", func(c *Config) { c.SaveSteps = 40 }, "no", 500, "steps", 40, ""},
		{"load best by epoch", func(c *Config) { c.Val, c.LoadBestAtEnd = "v.csv", true }, "epoch", 500, "epoch", 500, ""},
		{"load best by steps", func(c *Config) { c.Val, c.LoadBestAtEnd, c.EvalSteps = "v.csv", true, 30 }, "steps", 30, "steps", 30, ""},
		{"load best, save-steps a multiple", func(c *Config) { c.Val, c.LoadBestAtEnd, c.EvalSteps, c.SaveSteps = "v.csv", true, 30, 60 }, "steps", 30, "steps", 60, ""},
		{"load best, save-steps not a multiple", func(c *Config) { c.Val, c.LoadBestAtEnd, c.EvalSteps, c.SaveSteps = "v.csv", true, 30, 50 }, "steps", 30, "steps", 50, "multiple"},
		{"load best without val", func(c *Config) { c.LoadBestAtEnd = true }, "no", 500, "no", 500, "needs evaluations"},
		{"eval without val", func(c *Config) { c.EvalStrategy = "epoch" }, "epoch", 500, "steps", 500, "needs --val"},
		{"unknown metric", func(c *Config) { c.MetricForBest = "auc" }, "no", 500, "steps", 500, "metric-for-best"},
		{"overwrite and resume from a folder", func(c *Config) { c.Overwrite, c.Resume = true, "runs/x/checkpoint-5" }, "no", 500, "steps", 500, "cannot resume"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Train, c.Preset = "t.csv", "micro"
			tc.set(&c)
			err := c.Validate()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate: %v, want %q", err, tc.err)
			}
			if tc.err != "" {
				return
			}
			if c.evalStrategy() != tc.eval || c.evalSteps() != tc.evalSteps || c.saveStrategy() != tc.save || c.saveSteps() != tc.saveSteps {
				t.Errorf("eval %s/%d save %s/%d, want eval %s/%d save %s/%d", c.evalStrategy(), c.evalSteps(), c.saveStrategy(), c.saveSteps(),
					tc.eval, tc.evalSteps, tc.save, tc.saveSteps)
			}
		})
	}
	// HF's defaults: best by validation loss, not loaded at the end, no limit.
	if c := DefaultConfig(); c.MetricForBest != "loss" || c.LoadBestAtEnd || c.SaveTotalLimit != 0 {
		t.Errorf("defaults: metric %q, load best %v, save total limit %d", c.MetricForBest, c.LoadBestAtEnd, c.SaveTotalLimit)
	}
}

func TestClassWeightsFlag(t *testing.T) {
	for _, tc := range []struct {
		in       string
		balanced bool
		w        []float64
		err      bool
	}{
		{"none", false, nil, false}, {"", false, nil, false}, {"balanced", true, nil, false},
		{"0.5,1,2", false, []float64{0.5, 1, 2}, false}, {" 1 , 3 ", false, []float64{1, 3}, false},
		{"1,-1", false, nil, true}, {"1,x", false, nil, true}, {"1,NaN", false, nil, true}, {"1,,2", false, nil, true},
	} {
		balanced, w, err := parseClassWeights(tc.in)
		if (err != nil) != tc.err || balanced != tc.balanced || !slices.Equal(w, tc.w) {
			t.Errorf("parseClassWeights(%q) = %v %v %v", tc.in, balanced, w, err)
		}
	}
}
