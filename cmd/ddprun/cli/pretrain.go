package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/ddprun/ddprun/ddp"
)

func init() {
	Register(Command{Name: "pretrain", Summary: "masked-language-model pretraining of a BERT/DistilBERT encoder on unlabeled text", Run: runPretrain,
		Check: func(o IO, args []string) (bool, error) {
			_, done, err := parsePretrain(o, args, pretrainDefaults())
			return done, err
		}})
}

// classifierOnly are train's flags that pretraining has no use for.
var classifierOnly = []string{
	"test", "label-column", "labels", "pooling", "freeze-base", "train-only", "ignore-mismatched-sizes",
	"class-weights", "label-smoothing", "baseline", "lazy-embeddings", "dense-embeddings",
}

// pretrainUsage are the help texts that differ from train's.
var pretrainUsage = map[string]string{
	"train":           "unlabeled training text `FILE` (.csv, .tsv or .jsonl): only --text-column is read (give the train split, never val/test)",
	"val":             "validation text `FILE`: masked-LM loss (perplexity = exp(loss)) and masked-token accuracy during training",
	"model":           "HF model `DIR` to continue pretraining (BERT or DistilBERT; a classifier's head is dropped and a masked-LM head initialised)",
	"preset":          "pretrain from scratch: micro|tiny|mini|small|base (bert-base-uncased vocabulary)",
	"metric-for-best": "validation metric that picks the best checkpoint and drives early stopping: loss|accuracy (of the masked tokens)",
	"output":          "output `DIR`: checkpoints, the final BertForMaskedLM folder (fine-tune it with ddprun train --model DIR), logs, report",
}

// pretrainDefaults is ddp's configuration for pretraining.
func pretrainDefaults() *ddp.Config {
	cfg := ddp.DefaultConfig()
	cfg.Objective, cfg.MLMProbability = ddp.ObjectiveMaskedLM, 0.15
	cfg.Baseline, cfg.Output = "none", "runs/ddprun-pretrain"
	return &cfg
}

// pretrainFlags binds cfg to pretrain's flags: train's, less the
// classifier's, plus --mlm-probability.
func pretrainFlags(cfg *ddp.Config) *flag.FlagSet {
	all := flag.NewFlagSet("train", flag.ContinueOnError)
	cfg.Register(all)
	fs := flag.NewFlagSet("pretrain", flag.ContinueOnError)
	all.VisitAll(func(f *flag.Flag) {
		if slices.Contains(classifierOnly, f.Name) {
			return
		}
		usage := f.Usage
		if u, ok := pretrainUsage[f.Name]; ok {
			usage = u
		}
		fs.Var(f.Value, f.Name, usage)
	})
	fs.Float64Var(&cfg.MLMProbability, "mlm-probability", cfg.MLMProbability,
		"share of the tokens (special tokens and padding aside) to mask; of those 80% become [MASK], 10% a random token, 10% stay (HF mlm_probability)")
	for _, a := range trainAliases {
		if fs.Lookup(a[1]) != nil {
			alias(fs, a[0], a[1])
		}
	}
	setUsage(fs, "Usage: ddprun [launch flags] pretrain --train FILE (--model DIR | --preset NAME) [flags]\n\n"+
		"Masked-language-model pretraining (BERT's MLM objective, HF's run_mlm.py) on the text of --train, from a preset\n"+
		"or from a model folder; the output is an HF BertForMaskedLM (DistilBertForMaskedLM) folder that\n"+
		"`ddprun train --model DIR` fine-tunes. Distributed, checkpointed and resumed like train.\n\nFlags:\n")
	return fs
}

// parsePretrain parses and validates args into cfg, as parseTrain does.
func parsePretrain(o IO, args []string, cfg *ddp.Config) (fs *flag.FlagSet, done bool, err error) {
	fs = pretrainFlags(cfg)
	if done, err := parseFlags(fs, args, o); done {
		return fs, true, err
	}
	if err := cfg.Validate(); err != nil {
		return fs, true, &usageError{msg: "pretrain: " + strings.TrimPrefix(err.Error(), "ddp: ") + " (see ddprun pretrain --help)", cause: err}
	}
	return fs, false, nil
}

func runPretrain(ctx context.Context, o IO, args []string) error {
	cfg := pretrainDefaults()
	fs, done, err := parsePretrain(o, args, cfg)
	if done {
		return err
	}
	return runRank(ctx, o, *cfg, fs, printPretrainResult)
}

func printPretrainResult(w io.Writer, res *ddp.Result, asJSON bool) {
	if asJSON {
		printResult(w, res, true)
		return
	}
	fmt.Fprintf(w, "pretrained %d steps (%.2f epochs) on %d rank(s) in %v, %.1f samples/s; stopped: %s\n",
		res.Steps, res.Epochs, res.WorldSize, res.Wall.Round(1e9), res.SamplesPerSec, res.Stop)
	if res.Val != nil {
		fmt.Fprintf(w, "last validation: masked-LM loss %.4f, perplexity %.2f, masked-token accuracy %.4f on %d masked tokens\n",
			res.Val.Loss, math.Exp(res.Val.Loss), res.Val.Accuracy, res.Val.N)
	}
	if res.BestCheckpoint != "" && res.BestMetric != nil {
		fmt.Fprintf(w, "best checkpoint: %s (%.4f)\n", res.BestCheckpoint, *res.BestMetric)
	}
	fmt.Fprintf(w, "model: %s (a masked LM; fine-tune it with: ddprun train --model %s ...)\n", res.FinalModel, res.FinalModel)
	if res.Report != "" {
		fmt.Fprintf(w, "report: %s\n", res.Report)
	}
}
