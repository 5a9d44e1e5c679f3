package ddp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sugarme/gotch"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/ddp/optim"
	"github.com/ddprun/ddprun/ddp/runlog"
	"github.com/ddprun/ddprun/internal/torchrt"
	"github.com/ddprun/ddprun/shard"
)

// maskedGlobalBatch is globalBatch's rows masked by shard's rule (30% of
// the non-padding tokens, so that the ranks' shares of a step differ in
// their counts of masked tokens, which is what Note [Masked-token
// normalisation] is about).
func maskedGlobalBatch(g, width, step int) []*shard.Batch {
	mc := &shard.MaskConfig{Prob: 0.3, MaskID: 4, VocabSize: 99, Special: []int64{0}, Seed: 9}
	rows := globalBatch(g, width)
	for i, b := range rows {
		n := countTokens(b.Mask)
		b.Targets = slices.Repeat([]int64{shard.IgnoreIndex}, b.T)
		mc.Row(b.IDs[:n], b.Targets[:n], i, uint64(step))
	}
	return rows
}

// concatMasked joins rows into one batch, targets included.
func concatMasked(rows []*shard.Batch) *shard.Batch {
	out := concat(rows)
	for _, r := range rows {
		out.Targets = append(out.Targets, r.Targets...)
	}
	return out
}

func splitMasked(global []*shard.Batch, r, n, accum int) []*shard.Batch {
	per := len(global) / n
	mine := global[r*per : (r+1)*per]
	var micro []*shard.Batch
	m := per / accum
	for i := range accum {
		micro = append(micro, concatMasked(mine[i*m:(i+1)*m]))
	}
	return micro
}

func tinyMaskedLM(t *testing.T) bert.Config {
	c := tinyConfig(t, bert.PoolCLS)
	c.Task, c.Labels = bert.TaskMaskedLM, nil
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMaskedLMEquivalence is TestEquivalence for pretraining: N ranks over
// the loopback ring, each on its share of every global batch (cut into
// micro-batches with accumulation), end every step with the parameters of
// one process on the whole batch, although the ranks' shares hold
// different numbers of masked tokens. Measured largest difference 1.7e-7
// (tolerance 1e-5, as TestEquivalence's); each rank normalising by its own
// count, as HF's Trainer under PyTorch DDP does, ends 1e-2 off after three
// steps.
func TestMaskedLMEquivalence(t *testing.T) {
	const g, steps, tol = 6, 3, 1e-5
	for _, tc := range []struct {
		ranks, accum int
		flat         bool
	}{{2, 1, false}, {3, 2, false}, {2, 3, true}} {
		t.Run(fmt.Sprintf("ranks=%d/accum=%d/flat=%v", tc.ranks, tc.accum, tc.flat), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cfg := tinyMaskedLM(t)
			init := initialWeights(t, cfg)
			var global, single [][]*shard.Batch
			for s := range steps {
				gb := maskedGlobalBatch(g, 10+s, s)
				global = append(global, gb)
				single = append(single, []*shard.Batch{concatMasked(gb)})
			}
			counts := map[int]bool{}
			for r := range tc.ranks {
				counts[maskedCount(splitMasked(global[0], r, tc.ranks, 1)[0])] = true
			}
			if len(counts) < 2 {
				t.Fatalf("the ranks' shares of step 0 hold equal masked counts %v: the test would not tell the normalisations apart", counts)
			}
			ref := testOptions()
			ref.Objective, ref.DenseEmbeddings = maskedLM{}, true
			want, err := trainReplica(ctx, cfg, init, nil, ref, single)
			if err != nil {
				t.Fatal(err)
			}
			comms := loopbackRing(t, ctx, tc.ranks, collective.Float32)
			got := make([][]map[string]bert.HostTensor, tc.ranks)
			errs := make([]error, tc.ranks)
			var wg sync.WaitGroup
			for r := range tc.ranks {
				wg.Go(func() {
					var mine [][]*shard.Batch
					for _, gb := range global {
						mine = append(mine, splitMasked(gb, r, tc.ranks, tc.accum))
					}
					o := testOptions()
					o.Objective, o.Flat = maskedLM{}, tc.flat
					got[r], errs[r] = trainReplica(ctx, cfg, init, comms[r], o, mine)
				})
			}
			wg.Wait()
			for r, err := range errs {
				if err != nil {
					t.Fatalf("rank %d: %v", r, err)
				}
			}
			for s := range steps {
				for r := range tc.ranks {
					d, where := maxDiff(got[r][s], want[s])
					if s == steps-1 {
						update, _ := maxDiff(want[s], init)
						t.Logf("rank %d: largest difference %g (%s), largest update %g", r, d, where, update)
					}
					if d > tol {
						t.Errorf("step %d rank %d: %s differs from single-process training by %g (tolerance %g)", s, r, where, d, tol)
					}
					if d, where := maxDiff(got[r][s], got[0][s]); d != 0 {
						t.Errorf("step %d: rank %d's %s differs from rank 0's by %g", s, r, where, d)
					}
				}
			}
		})
	}
}

// The masked LM's weight-decay groups follow HF Trainer's rule (no decay
// for names with "bias" and for LayerNorm weights), its new head included:
// cls.predictions.bias and vocab_projector.bias are biases. Checked by
// behaviour, so that it holds whichever code assigns the groups: after one
// AdamW step from the same (perturbed) weights, a parameter is bit-identical
// between weight decay 0 and 0.5 exactly when it is not decayed.
func TestMaskedLMDecayGroups(t *testing.T) {
	for _, typ := range []string{bert.TypeBERT, bert.TypeDistilBERT} {
		t.Run(typ, func(t *testing.T) {
			cfg := tinyMaskedLM(t)
			cfg.ModelType = typ
			init := initialWeights(t, cfg)
			for name, x := range init { // no zero tensors: decaying zero changes nothing
				x.Data = slices.Clone(x.Data)
				for i := range x.Data {
					x.Data[i] += 0.01 * float32(1+i%7)
				}
				init[name] = x
			}
			after := func(wd float64) map[string]bert.HostTensor {
				o := testOptions()
				o.Objective, o.Optim.WeightDecay = maskedLM{}, wd
				o.Sched = optim.Schedule{Kind: optim.Constant, Total: 1}
				got, err := trainReplica(t.Context(), cfg, init, nil, o, [][]*shard.Batch{{concatMasked(maskedGlobalBatch(4, 10, 0))}})
				if err != nil {
					t.Fatal(err)
				}
				return got[0]
			}
			plain, decayed := after(0), after(0.5)
			for name := range init {
				hfNoDecay := strings.Contains(name, "bias") || strings.Contains(name, "LayerNorm") || strings.Contains(name, "layer_norm")
				if same := slices.Equal(plain[name].Data, decayed[name].Data); same != hfNoDecay {
					t.Errorf("%s: decayed %v, HF's rule says %v", name, !same, !hfNoDecay)
				}
			}
		})
	}
}

// A step whose micro-batch holds no masked token backpropagates a zero
// loss (not HF's NaN mean) and still completes, on one rank and on two
// (the overlap of Note [Overlap] waits for every bucket's gradient).
func TestMaskedLMStepWithoutMaskedTokens(t *testing.T) {
	cfg := tinyMaskedLM(t)
	init := initialWeights(t, cfg)
	rows := maskedGlobalBatch(4, 10, 0)
	for _, b := range rows[2:] {
		b.Targets = slices.Repeat([]int64{shard.IgnoreIndex}, b.T)
	}
	ctx := t.Context()
	comms := loopbackRing(t, ctx, 2, collective.Float32)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Go(func() {
			o := testOptions()
			o.Objective, o.NoOverlap = maskedLM{}, false
			_, errs[r] = trainReplica(ctx, cfg, init, comms[r], o, [][]*shard.Batch{{concatMasked(rows[2*r : 2*r+2])}})
		})
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
}

// writeTexts writes a text-only CSV (no label column) of n rows made of
// the test words.
func writeTexts(t *testing.T, dir, name string, n, seed int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("text\n")
	for i := range n {
		var words []string
		for j := range 4 + (i*5+seed)%9 {
			words = append(words, testWords[(i*7+j*j*3+seed)%len(testWords)])
		}
		fmt.Fprintf(&b, "%q\n", strings.Join(words, " "))
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// testPretrainConfig is `ddprun pretrain` from model (a folder, or "" for
// the micro preset) on a text-only CSV of 48 rows, with validation.
func testPretrainConfig(t *testing.T, model, data, out string) Config {
	c := DefaultConfig()
	c.Objective, c.MLMProbability = ObjectiveMaskedLM, 0.15
	c.Baseline, c.MetricForBest = "none", "loss"
	c.Train = writeTexts(t, data, "train.csv", 48, 1)
	c.Val = writeTexts(t, data, "val.csv", 15, 2)
	c.Model, c.Output = model, out
	if model == "" {
		c.Preset = "micro"
	}
	c.Epochs, c.BatchSize, c.LR, c.WarmupSteps, c.MaxLength = 2, 8, 3e-3, 2, 32
	c.EvalStrategy, c.EvalSteps, c.SaveSteps, c.LogEvery, c.Threads = "steps", 4, 4, 2, 1
	c.WeightDecay = 0.01
	c.LoadBestAtEnd, c.SaveTotalLimit = true, 2
	return c
}

// A pretraining run from a classifier's folder: the classifier and pooler
// are ignored, the masked-LM head initialised; evaluation logs the masked
// tokens' loss, perplexity and accuracy; the output is an HF
// BertForMaskedLM folder (HF's names, no tied aliases, tokenizer files),
// and the best checkpoint by validation loss is what it holds.
func TestPretrain(t *testing.T) {
	model, data, out := tinyModelDir(t, 0.1), t.TempDir(), t.TempDir()
	cfg := testPretrainConfig(t, model, data, out)
	var logs bytes.Buffer
	res, err := Train(t.Context(), cfg, Env{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 12 || res.Val == nil || res.Val.N == 0 || res.BestCheckpoint == "" || res.Test != nil {
		t.Fatalf("result %+v", res)
	}
	for _, want := range []string{"cls.predictions.transform.dense.weight", "classifier.weight", "bert.pooler.dense.weight"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not name %s as initialised or ignored:\n%s", want, logs.String())
		}
	}
	var evals []runlog.Entry
	entries, err := runlog.Read(filepath.Join(out, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Kind == runlog.Eval {
			evals = append(evals, e)
		}
	}
	if len(evals) != 3 {
		t.Fatalf("%d evaluations logged, want 3", len(evals))
	}
	for _, e := range evals {
		loss, _ := e.Float(runlog.FieldLoss)
		ppl, ok := e.Float("perplexity")
		if acc, _ := e.Float(runlog.FieldAccuracy); !ok || math.Abs(ppl-math.Exp(loss)) > 1e-9*ppl || acc < 0 || acc > 1 {
			t.Errorf("evaluation at step %d: loss %v, perplexity %v, accuracy %v", e.Step, loss, ppl, acc)
		}
	}
	var cfgJSON map[string]any
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(out, bert.ConfigFile))), &cfgJSON); err != nil {
		t.Fatal(err)
	}
	if a, _ := cfgJSON["architectures"].([]any); len(a) != 1 || a[0] != "BertForMaskedLM" {
		t.Errorf("config.json architectures %v", cfgJSON["architectures"])
	}
	w, _, err := bert.ReadWeights(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cls.predictions.bias", "cls.predictions.transform.LayerNorm.weight", "bert.embeddings.word_embeddings.weight"} {
		if _, ok := w[name]; !ok {
			t.Errorf("the model folder lacks %s", name)
		}
	}
	for name := range w {
		if strings.HasPrefix(name, "classifier.") || strings.Contains(name, "pooler") || strings.Contains(name, "decoder") {
			t.Errorf("the model folder holds %s", name)
		}
	}
	if !fileExists(filepath.Join(out, "vocab.txt")) || !fileExists(filepath.Join(out, "tokenizer_config.json")) {
		t.Error("the model folder has no tokenizer files")
	}
	compareWeightFiles(t, filepath.Join(res.BestCheckpoint, bert.SafetensorsFile), filepath.Join(out, bert.SafetensorsFile))
}

// `ddprun train --model <pretrain output>`: the encoder loads, the
// masked-LM head is ignored and the pooler and classifier are initialised,
// each listed in the log, as HF's from_pretrained reports them; and the
// classifier trains. predict refuses the pretrained folder itself.
func TestTrainFromPretrained(t *testing.T) {
	data := t.TempDir()
	pre := testPretrainConfig(t, "", data, t.TempDir())
	pre.MaxSteps, pre.EvalStrategy, pre.LoadBestAtEnd, pre.NoReport = 3, "no", false, true
	if _, err := Train(t.Context(), pre, Env{}); err != nil {
		t.Fatal(err)
	}
	cfg := testTrainConfig(t, pre.Output, data, t.TempDir())
	cfg.Test, cfg.NoReport, cfg.MaxLength = "", true, 32
	// The micro preset's vocabulary is bert-base-uncased's; the test words are in it.
	var logs bytes.Buffer
	res, err := Train(t.Context(), cfg, Env{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if res.Val == nil || res.Steps != 12 {
		t.Fatalf("result %+v", res)
	}
	var initialised, ignored string
	for _, line := range strings.Split(logs.String(), "\n") {
		switch {
		case strings.Contains(line, "newly initialised"):
			initialised = line
		case strings.Contains(line, "not used by this model"):
			ignored = line
		}
	}
	for _, name := range []string{"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"} {
		if !strings.Contains(initialised, name) {
			t.Errorf("the initialised tensors logged (%q) lack %s", initialised, name)
		}
	}
	for _, name := range []string{"cls.predictions.bias", "cls.predictions.transform.dense.weight", "cls.predictions.transform.LayerNorm.bias"} {
		if !strings.Contains(ignored, name) {
			t.Errorf("the ignored tensors logged (%q) lack %s", ignored, name)
		}
	}
	// predict refuses the pretrained folder: its classifier would be random.
	ic := InferConfig{Model: pre.Output, Data: cfg.Val, TextColumn: "text", MaxLength: 32, BatchSize: 4, Threads: 1, Precision: "fp32"}
	if _, err := Predict(t.Context(), ic, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "no trained classifier") {
		t.Errorf("predict with a masked LM's folder: %v", err)
	}
	// The encoder is the pretrained one.
	pw, _, err := bert.ReadWeights(pre.Output)
	if err != nil {
		t.Fatal(err)
	}
	err = torchrt.Run(torchrt.Config{Threads: 1}, func(*torchrt.Thread) error {
		m, rep, err := bert.LoadPretrained(pre.Output, gotch.CPU, func(c *bert.Config) { c.Labels = []string{"a", "b", "c"} }, bert.LoadOptions{})
		if err != nil {
			return err
		}
		defer m.Drop()
		if rep.Loaded != len(pw)-5 || len(rep.Initialised) != 4 || len(rep.Ignored) != 5 {
			t.Errorf("load report %+v", rep)
		}
		st, err := m.State()
		if err != nil {
			return err
		}
		if name := "bert.encoder.layer.1.output.dense.weight"; !slices.Equal(st[name].Data, pw[name].Data) {
			t.Errorf("%s did not load from the pretrained model", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An interrupted and resumed pretraining run ends with exactly the weights
// and optimizer state of an uninterrupted one, dropout and masks included
// (the masks of a resumed epoch are drawn from (seed, epoch, row): shard's
// Note [Masking]). Stops between checkpoints, on one, and at the epoch
// boundary (6 steps an epoch).
func TestMaskedLMResumeIsExact(t *testing.T) {
	data := t.TempDir()
	full := testPretrainConfig(t, "", data, t.TempDir())
	full.LoadBestAtEnd = false
	if _, err := Train(t.Context(), full, Env{}); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{3, 4, 6, 9} {
		t.Run(fmt.Sprint("stop=", at), func(t *testing.T) {
			part := full
			part.Output = t.TempDir()
			stop := make(chan struct{})
			res, err := Train(t.Context(), part, Env{Stop: stop, OnStep: func(s int) {
				if s == at {
					close(stop)
				}
			}})
			if !errors.Is(err, ErrStopped) || res.Steps != at {
				t.Fatalf("interrupted run: %+v, %v", res, err)
			}
			if res, err = Train(t.Context(), part, Env{}); err != nil || res.ResumedFrom == "" || res.Steps != 12 {
				t.Fatalf("resumed run: %+v, %v", res, err)
			}
			compareFolders(t, filepath.Join(full.Output, "checkpoint-12"), filepath.Join(part.Output, "checkpoint-12"))
			compareFolders(t, full.Output, part.Output)
		})
	}
}

// tinyMaskedLMDir is tinyModelDir's model as a masked LM (its head drawn
// here, in one process), without dropout.
func tinyMaskedLMDir(t *testing.T) string {
	dir := tinyModelDir(t, 0)
	err := torchrt.Run(torchrt.Config{Threads: 1, Seed: 4}, func(*torchrt.Thread) error {
		m, _, err := bert.LoadPretrained(dir, gotch.CPU, maskedLM{}.configure, bert.LoadOptions{})
		if err != nil {
			return err
		}
		defer m.Drop()
		return m.Save(dir, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Two ranks over the ring, interrupted and resumed, end with the weights of
// the uninterrupted two-rank run. No dropout and nothing initialised at
// start: in-process ranks share libtorch's generator, so their draws
// interleave nondeterministically (rank processes do not;
// TestMaskedLMResumeIsExact covers dropout).
func TestMaskedLMResumeTwoRanks(t *testing.T) {
	data := t.TempDir()
	cfg := testPretrainConfig(t, "", data, "")
	cfg.BatchSize, cfg.EvalStrategy, cfg.LoadBestAtEnd, cfg.NoReport, cfg.Wire = 4, "no", false, true, "fp32"
	cfg.Model, cfg.Preset = tinyMaskedLMDir(t), ""
	full := []string{t.TempDir(), t.TempDir()}
	if _, errs := trainRanks(t, cfg, full, 0, fp32Ring); errs[0] != nil || errs[1] != nil {
		t.Fatalf("uninterrupted: %v", errs)
	}
	part := []string{t.TempDir(), t.TempDir()}
	if _, errs := trainRanks(t, cfg, part, 5, fp32Ring); !errors.Is(errs[0], ErrStopped) {
		t.Fatalf("interrupted: %v", errs)
	}
	if res, errs := trainRanks(t, cfg, part, 0, fp32Ring); errs[0] != nil || errs[1] != nil || res[0].ResumedFrom == "" {
		t.Fatalf("resumed: %v", errs)
	}
	compareFolders(t, full[0], part[0])
}

// DistilBERT pretrains too: from the micro preset with --model-type
// distilbert the output is a DistilBertForMaskedLM folder.
func TestPretrainDistilBERT(t *testing.T) {
	cfg := testPretrainConfig(t, "", t.TempDir(), t.TempDir())
	cfg.ModelType, cfg.MaxSteps, cfg.EvalStrategy, cfg.LoadBestAtEnd, cfg.NoReport = bert.TypeDistilBERT, 3, "no", false, true
	if _, err := Train(t.Context(), cfg, Env{}); err != nil {
		t.Fatal(err)
	}
	var c struct {
		Architectures []string `json:"architectures"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(cfg.Output, bert.ConfigFile))), &c); err != nil || !slices.Equal(c.Architectures, []string{"DistilBertForMaskedLM"}) {
		t.Errorf("config.json architectures %v (%v)", c.Architectures, err)
	}
	w, _, err := bert.ReadWeights(cfg.Output)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w["vocab_projector.bias"]; !ok || w["vocab_projector.weight"].Data != nil {
		t.Errorf("DistilBERT's head: vocab_projector.bias saved %v, tied vocab_projector.weight left out %v", ok, w["vocab_projector.weight"].Data == nil)
	}
}

// Settings that make no sense for pretraining are refused up front.
func TestPretrainConfigErrors(t *testing.T) {
	base := testPretrainConfig(t, "", t.TempDir(), t.TempDir())
	for name, change := range map[string]func(c *Config){
		"probability": func(c *Config) { c.MLMProbability = 0 },
		"test split":  func(c *Config) { c.Test = c.Val },
		"lazy":        func(c *Config) { c.LazyEmbeddings = true },
		"baseline":    func(c *Config) { c.Baseline = "nb" },
		"metric":      func(c *Config) { c.MetricForBest = "macro_f1" },
		"objective":   func(c *Config) { c.Objective = "clm" },
	} {
		c := base
		change(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	other := base
	other.MLMProbability = 0.2
	if base.hash() == other.hash() {
		t.Error("the resume hash ignores --mlm-probability")
	}
	cls := base
	cls.Objective = ObjectiveClassify
	if cls.hash() == base.hash() {
		t.Error("the resume hash ignores the objective")
	}
}
