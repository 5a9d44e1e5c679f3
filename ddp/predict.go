package ddp

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/internal/flagtypes"
	"github.com/ddprun/ddprun/internal/rankenv"
	"github.com/ddprun/ddprun/internal/torchrt"
	"github.com/ddprun/ddprun/shard"
	"github.com/ddprun/ddprun/shard/truncation"
)

// InferConfig configures `ddprun predict` and `ddprun eval`: a trained HF
// model folder applied to a data file.
type InferConfig struct {
	Model       string
	Data        string
	Output      string // predict: predictions file (.csv or .jsonl); "" = stdout as CSV
	TextColumn  string
	PairColumn  string
	LabelColumn string // eval: the labels (predict has none)
	IDColumn    string // predict: a column copied into each prediction
	MaxLength   int
	Truncation  string // head|tail|head+tail[:H]; "" = as the model folder records, else head
	BatchSize   int
	Threads     int
	Precision   string
	Device      string // auto|cpu|cuda|cuda:N
	SkipEmpty   bool
	JSON        bool
}

// Register binds the flags shared by predict and eval.
func (c *InferConfig) Register(fs interface {
	flagtypes.Definer
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&c.Model, "model", c.Model, "trained HF model `DIR` (config.json, model.safetensors, vocab.txt)")
	fs.StringVar(&c.Data, "data", c.Data, "data `FILE` (.csv, .tsv or .jsonl)")
	fs.StringVar(&c.TextColumn, "text-column", "text", "column holding the text")
	fs.StringVar(&c.PairColumn, "text-pair-column", "", "optional column holding a second text")
	fs.IntVar(&c.MaxLength, "max-length", 128, "truncate texts to this many tokens (default: what the model was trained with, recorded in its training_args.json, else 128)")
	fs.StringVar(&c.Truncation, "truncation", "", "which tokens a longer text keeps: head|tail|head+tail[:H] (default: what the model folder's tokenizer_config.json records, as training wrote it, else head)")
	fs.IntVar(&c.BatchSize, "batch-size", 64, "rows per batch")
	flagtypes.ThreadsVar(fs, &c.Threads)
	flagtypes.PrecisionVar(fs, &c.Precision)
	flagtypes.DeviceVar(fs, &c.Device)
	fs.BoolVar(&c.SkipEmpty, "skip-empty", false, "skip rows with an empty text instead of failing")
	fs.BoolVar(&c.JSON, "json", false, "machine-readable output")
}

func (c *InferConfig) validate() error {
	switch {
	case c.Model == "" || c.Data == "":
		return fmt.Errorf("ddp: --model and --data are required")
	case c.BatchSize < 1 || c.MaxLength < 2:
		return fmt.Errorf("ddp: --batch-size must be >= 1 and --max-length >= 2")
	case c.Precision != "fp32" && c.Precision != "bf16":
		return fmt.Errorf("ddp: --precision %q: fp32 or bf16", c.Precision)
	}
	_, err := c.truncation(truncation.Mode{})
	return err
}

// truncation resolves --truncation: the flag, else recorded, the
// truncation the model folder records.
func (c *InferConfig) truncation(recorded truncation.Mode) (truncation.Mode, error) {
	if c.Truncation == "" {
		return recorded, nil
	}
	m, err := truncation.Parse(c.Truncation, c.MaxLength)
	if err != nil {
		return m, fmt.Errorf("ddp: --truncation: %w", err)
	}
	return m, nil
}

// Prediction is one row's result.
type Prediction struct {
	ID   string `json:"id,omitempty"` // the --id-column's value
	Row  int    `json:"row"`          // the data row, 0-based (rows skipped as empty not counted)
	Line int    `json:"line"`         // the file line where the row starts

	Label string             `json:"label"`
	Score float64            `json:"score"`
	Probs map[string]float64 `json:"probs"`
}

// inference loads the model and the data and runs fn over every batch's
// probabilities on a compute thread.
func inference(ctx context.Context, c InferConfig, withLabels bool, log *slog.Logger, fn func(labels []string, ds *shard.Dataset, b *shard.Batch, probs [][]float64, counts *metrics.Counts) error) error {
	if err := c.validate(); err != nil {
		return err
	}
	tok, err := loadTokenizer(c.Model)
	if err != nil {
		return err
	}
	trunc, err := c.truncation(tok.Truncation())
	if err != nil {
		return err
	}
	cfg, err := bert.LoadConfig(c.Model + "/" + bert.ConfigFile)
	if err != nil {
		return err
	}
	sc := shard.Config{Logger: log}
	sc.Read = shard.ReadConfig{Text: c.TextColumn, Pair: c.PairColumn, Label: c.LabelColumn, NoLabel: !withLabels}
	if sc.Read.Label == "" {
		sc.Read.Label = "label"
	}
	if c.SkipEmpty {
		sc.Read.EmptyText = shard.PolicySkip
	}
	sc.TokenizeConfig = shard.TokenizeConfig{Tokenizer: tok, MaxLen: c.MaxLength, Truncation: trunc}
	ds, err := shard.Load(ctx, c.Data, sc)
	if err != nil {
		return err
	}
	if withLabels {
		lm, err := shard.NewLabelMap(cfg.Labels)
		if err != nil {
			return err
		}
		if err := ds.ApplyLabels(lm); err != nil {
			return err
		}
	}
	return torchrt.Run(torchrt.Config{Threads: c.Threads}, func(*torchrt.Thread) error {
		dev, err := ResolveDevice(c.Device, rankenv.Single(), torchrt.CUDADevices())
		if err == nil {
			err = useDevice(dev)
		}
		if err != nil {
			return err
		}
		m, rep, err := bert.LoadPretrained(c.Model, dev, nil, bert.LoadOptions{})
		if err != nil {
			return err
		}
		defer m.Drop()
		if len(rep.Initialised) > 0 { // a base or pretrained (masked-LM) folder: its classifier would be random
			return fmt.Errorf("ddp: %s has no trained classifier (%s would be random): fine-tune it first with ddprun train --model %s",
				c.Model, strings.Join(rep.Initialised, ", "), c.Model)
		}
		lc := shard.DefaultLoaderConfig()
		lc.BatchSize, lc.Shuffle, lc.PadID = c.BatchSize, false, int64(tok.PAD())
		ld, err := shard.NewLoader(ds, lc)
		if err != nil {
			return err
		}
		defer ld.Close()
		e := &engine{m: m, bf16: c.Precision == "bf16"}
		var counts *metrics.Counts
		if withLabels {
			counts = metrics.NewCounts(len(cfg.Labels))
		}
		var ferr error
		err = e.evaluate(ctx, ld, counts, func(b *shard.Batch, probs [][]float64) {
			if ferr == nil {
				ferr = fn(cfg.Labels, ds, b, probs, counts)
			}
		})
		if err != nil {
			return err
		}
		if ferr != nil {
			return ferr
		}
		return fn(cfg.Labels, ds, nil, nil, counts)
	})
}

// Predict writes one prediction per row of c.Data: the line, the predicted
// label, its probability and every label's probability, as CSV (default)
// or JSONL (an output file ending in .jsonl, or --json).
func Predict(ctx context.Context, c InferConfig, stdout io.Writer, log *slog.Logger) (n int, err error) {
	w := stdout
	if c.Output != "" {
		f, err := os.Create(c.Output)
		if err != nil {
			return 0, fmt.Errorf("ddp: %w", err)
		}
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
		w = f
	}
	bw := bufio.NewWriter(w)
	jsonl := c.JSON || strings.HasSuffix(c.Output, ".jsonl")
	ids, err := readIDs(c)
	if err != nil {
		return 0, err
	}
	var cw *csv.Writer
	err = inference(ctx, c, false, log, func(labels []string, ds *shard.Dataset, b *shard.Batch, probs [][]float64, _ *metrics.Counts) error {
		if b == nil {
			return nil
		}
		if cw == nil && !jsonl {
			cw = csv.NewWriter(bw)
			head := []string{"row", "line", "label", "score"}
			if ids != nil {
				head = append([]string{c.IDColumn}, head...)
			}
			cw.Write(append(head, prefixed("p_", labels)...))
		}
		for i := range b.B {
			p := toPrediction(labels, ds.Line(b.Index[i]), probs[i])
			p.Row = b.Index[i]
			if ids != nil {
				p.ID = ids[p.Row]
			}
			n++
			if jsonl {
				if err := json.NewEncoder(bw).Encode(p); err != nil {
					return err
				}
				continue
			}
			row := []string{strconv.Itoa(p.Row), strconv.Itoa(p.Line), p.Label, fmtProb(p.Score)}
			if ids != nil {
				row = append([]string{p.ID}, row...)
			}
			for _, pr := range probs[i] {
				row = append(row, fmtProb(pr))
			}
			cw.Write(row)
		}
		return nil
	})
	if cw != nil {
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return n, err
}

// readIDs reads the --id-column of every row that inference reads (the
// same columns and empty-text policy, so the i-th id is data row i's).
func readIDs(c InferConfig) ([]string, error) {
	if c.IDColumn == "" {
		return nil, nil
	}
	f, err := os.Open(c.Data)
	if err != nil {
		return nil, fmt.Errorf("ddp: %w", err)
	}
	defer f.Close()
	rc := shard.ReadConfig{Text: c.TextColumn, Pair: c.PairColumn, ID: c.IDColumn, NoLabel: true}
	if c.SkipEmpty {
		rc.EmptyText = shard.PolicySkip
	}
	ids := []string{}
	_, err = shard.Scan(f, c.Data, rc, func(r shard.Record) error {
		ids = append(ids, r.ID)
		return nil
	})
	return ids, err
}

func toPrediction(labels []string, line int, probs []float64) Prediction {
	p := Prediction{Line: line, Probs: map[string]float64{}}
	for k, v := range probs {
		p.Probs[labels[k]] = v
		if v > p.Score || p.Label == "" {
			p.Label, p.Score = labels[k], v
		}
	}
	return p
}

func prefixed(pre string, s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = pre + x
	}
	return out
}

func fmtProb(p float64) string { return strconv.FormatFloat(p, 'f', 6, 64) }

// Evaluate computes the model's metrics on a labelled data file.
func Evaluate(ctx context.Context, c InferConfig, log *slog.Logger) (metrics.Summary, error) {
	var sum metrics.Summary
	err := inference(ctx, c, true, log, func(labels []string, _ *shard.Dataset, b *shard.Batch, _ [][]float64, counts *metrics.Counts) error {
		if b == nil {
			sum = counts.Summary(labels)
		}
		return nil
	})
	return sum, err
}
