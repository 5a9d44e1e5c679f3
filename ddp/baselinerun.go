package ddp

import (
	"fmt"
	"math"
	"os"
	"time"

	"github.com/ddprun/ddprun/ddp/baseline"
	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/shard"
)

// BaselineResult is the bag-of-words baseline fitted beside every run, so
// that a user sees at once whether the transformer earns its cost.
type BaselineResult struct {
	Model string           `json:"model"`
	Fit   time.Duration    `json:"fit_ns"`
	Val   *metrics.Summary `json:"val,omitempty"`
	Test  *metrics.Summary `json:"test,omitempty"`
}

// maxLogLoss caps a row's log loss: -log(1e-300).
const maxLogLoss = 690.8

// baselineName describes --baseline nb.
const baselineName = "multinomial naive Bayes over lower-cased word counts (alpha 1)"

// runBaseline fits the baseline on the training split and evaluates it on
// the validation and test splits (rank 0; a few seconds at most). A text
// pair is one text to the baseline. Rows are read as train reads them, so
// the baseline sees the same rows and labels as the model.
func runBaseline(c *Config, labels *shard.LabelMap) (*BaselineResult, error) {
	start := time.Now()
	texts, ids, err := readLabelled(c, c.Train, labels)
	if err != nil {
		return nil, err
	}
	nb, err := baseline.Fit(texts, ids, labels.Len(), baseline.Options{})
	if err != nil {
		return nil, fmt.Errorf("ddp: baseline on %s: %w", c.Train, err)
	}
	res := &BaselineResult{Model: baselineName}
	for _, split := range []struct {
		path string
		out  **metrics.Summary
	}{{c.Val, &res.Val}, {c.Test, &res.Test}} {
		if split.path == "" {
			continue
		}
		texts, ids, err := readLabelled(c, split.path, labels)
		if err != nil {
			return nil, err
		}
		counts := metrics.NewCounts(labels.Len())
		preds := nb.Predict(texts)
		for i, lp := range nb.LogProba(texts) {
			// A class the training split lacks has probability 0: its log
			// loss is capped at -log(1e-300) to keep the mean finite.
			counts.Add(preds[i], ids[i], math.Min(-lp[ids[i]], maxLogLoss))
		}
		s := counts.Summary(labels.Names())
		*split.out = &s
	}
	res.Fit = time.Since(start)
	return res, nil
}

// readLabelled reads a split's texts and label ids with the run's columns
// and policies.
func readLabelled(c *Config, path string, labels *shard.LabelMap) ([]string, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("ddp: baseline: %w", err)
	}
	defer f.Close()
	var texts []string
	var ids []int
	_, err = shard.Scan(f, path, c.shardConfig(nil, nil).Read, func(r shard.Record) error {
		id, ok := labels.ID(r.Label)
		if !ok {
			return fmt.Errorf("ddp: baseline: %s:%d: label %q is not one of the training labels", path, r.Line, r.Label)
		}
		text := r.Text
		if r.Pair != "" {
			text += "\n" + r.Pair
		}
		texts, ids = append(texts, text), append(ids, id)
		return nil
	})
	return texts, ids, err
}
