package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/ddprun/ddprun/ddp"
)

func inferFlags(name, usage string, c *ddp.InferConfig) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	c.Register(fs)
	setUsage(fs, usage+"\n\nFlags:\n")
	return fs
}

// trainedDefaults gives --max-length and --precision, where the command
// line leaves them out, the values the model was trained with (its
// training_args.json), so that a model is applied as it was trained.
func trainedDefaults(fs *flag.FlagSet, model string, stderr io.Writer) error {
	b, err := os.ReadFile(filepath.Join(model, trainingArgsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil // not trained by ddprun, or before training_args.json existed
	}
	if err != nil {
		return err
	}
	var ta trainingArgs
	if err := json.Unmarshal(b, &ta); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(model, trainingArgsFile), err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var used []string
	for _, name := range []string{"max-length", "precision"} {
		v, ok := ta.Args[name]
		if given[name] || !ok {
			continue
		}
		if err := fs.Set(name, fmt.Sprint(v)); err != nil {
			return fmt.Errorf("%s: %s: %w", filepath.Join(model, trainingArgsFile), name, err)
		}
		used = append(used, fmt.Sprintf("--%s %v", name, v))
	}
	if len(used) > 0 {
		fmt.Fprintf(stderr, "%s: as the model was trained: %s\n", fs.Name(), strings.Join(used, ", "))
	}
	return nil
}

func runPredict(ctx context.Context, o IO, args []string) error {
	stdout, stderr := o.Stdout, o.Stderr
	var c ddp.InferConfig
	fs := inferFlags("predict", "Usage: ddprun predict --model DIR --data FILE [--output preds.csv|preds.jsonl]\n\n"+
		"Write each row's predicted label and every label's probability (CSV, or JSONL with --json or a .jsonl output).", &c)
	fs.StringVar(&c.Output, "output", "", "predictions `FILE` (.csv or .jsonl; default: stdout)")
	fs.StringVar(&c.IDColumn, "id-column", "", "copy this column into each prediction (first CSV column, or \"id\" in JSONL)")
	if done, err := parseFlags(fs, args, o); done {
		return err
	}
	if err := trainedDefaults(fs, c.Model, stderr); err != nil {
		return err
	}
	n, err := ddp.Predict(ctx, c, stdout, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	if c.Output != "" {
		fmt.Fprintf(stderr, "wrote %d predictions to %s\n", n, c.Output)
	}
	return nil
}

func runEval(ctx context.Context, o IO, args []string) error {
	stdout, stderr := o.Stdout, o.Stderr
	var c ddp.InferConfig
	fs := inferFlags("eval", "Usage: ddprun eval --model DIR --data FILE [--json]\n\n"+
		"Print loss, accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix on labelled data.", &c)
	fs.StringVar(&c.LabelColumn, "label-column", "label", "column holding the label")
	if done, err := parseFlags(fs, args, o); done {
		return err
	}
	if err := trainedDefaults(fs, c.Model, stderr); err != nil {
		return err
	}
	sum, err := ddp.Evaluate(ctx, c, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	fmt.Fprintf(stdout, "%s: accuracy %.4f, macro-F1 %.4f, loss %.4f on %d examples\n%s", c.Data, sum.Accuracy, sum.MacroF1, sum.Loss, sum.N, sum.Table())
	return nil
}
