package ddp

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/shard"
)

// splits holds the datasets of a run; Val and Test may be nil.
type splits struct {
	Train, Val, Test *shard.Dataset
	Labels           *shard.LabelMap
}

func (c *Config) shardConfig(tok shard.Tokenizer, log *slog.Logger) shard.Config {
	cache := c.CacheDir
	if cache == "" {
		cache = filepath.Join(c.Output, ".cache", "tokens")
	}
	sc := shard.Config{CacheDir: cache, Logger: log}
	sc.Read = shard.ReadConfig{Text: c.TextColumn, Pair: c.PairColumn, Label: c.LabelColumn}
	if c.SkipEmpty {
		sc.Read.EmptyText = shard.PolicySkip
	}
	trunc, _ := c.truncation() // a bad one is Validate's and loadSplits' to report
	sc.TokenizeConfig = shard.TokenizeConfig{Tokenizer: tok, MaxLen: c.MaxLength, Truncation: trunc, Workers: c.DataWorkers}
	return sc
}

// loadSplits reads and tokenizes every split and maps labels to ids: the
// order given by --labels, else the model's own labels when it was
// fine-tuned on the same set, else the sorted training labels.
//
// It also sets the tokenizer's truncation to --truncation, so that the
// checkpoints and the model folder the run saves record it (in
// tokenizer_config.json), and predict and eval apply the model as it was
// trained.
func loadSplits(ctx context.Context, c *Config, tok Tokenizer, modelLabels []string, log *slog.Logger) (*splits, error) {
	trunc, err := c.truncation()
	if err != nil {
		return nil, fmt.Errorf("ddp: --truncation: %w", err)
	}
	tok.SetTruncation(trunc)
	sc := c.shardConfig(tok, log)
	if c.maskedLM() {
		return loadUnlabelled(ctx, c, sc, log)
	}
	var s splits
	if s.Train, err = shard.Load(ctx, c.Train, sc); err != nil {
		return nil, err
	}
	order := splitList(c.Labels)
	if order == nil && realLabels(modelLabels) && sameSet(modelLabels, s.Train.LabelValues()) {
		order = modelLabels
	}
	if s.Labels, err = shard.BuildLabelMap(s.Train.LabelValues(), order); err != nil {
		return nil, fmt.Errorf("ddp: %s: %w", c.Train, err)
	}
	if err := s.Train.ApplyLabels(s.Labels); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		path string
		ds   **shard.Dataset
	}{{c.Val, &s.Val}, {c.Test, &s.Test}} {
		if f.path == "" {
			continue
		}
		if *f.ds, err = shard.Load(ctx, f.path, sc); err != nil {
			return nil, err
		}
		if err := (*f.ds).ApplyLabels(s.Labels); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// realLabels reports whether a model's labels are names rather than HF's
// LABEL_i placeholders.
func realLabels(labels []string) bool {
	for i, l := range labels {
		if l != fmt.Sprintf("LABEL_%d", i) {
			return true
		}
	}
	return false
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// modelLabels reads the labels of a model folder's config, if any.
func modelLabels(dir string) []string {
	if dir == "" {
		return nil
	}
	cfg, err := bert.LoadConfig(filepath.Join(dir, bert.ConfigFile))
	if err != nil {
		return nil
	}
	return cfg.Labels
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
