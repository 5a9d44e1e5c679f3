package ddp

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/bert/wordpiece"
	"github.com/ddprun/ddprun/ddp/runlog"
	"github.com/ddprun/ddprun/internal/torchrt"
)

// testWords make up the tiny model's vocabulary and the synthetic texts.
var testWords = []string{"alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
	"nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"}

// tinyModelDir writes an HF model folder with a 2-layer, 32-wide BERT and a
// vocabulary of the test words.
func tinyModelDir(t *testing.T, dropout float64) string {
	t.Helper()
	dir := t.TempDir()
	vocab := append([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}, testWords...)
	tok, err := wordpiece.New(vocab, wordpiece.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	c := bert.DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumLayers, c.NumHeads, c.IntermediateSize, c.MaxPositions = len(vocab), 32, 2, 4, 64, 64
	c.HiddenDropout, c.AttentionDropout, c.ClassifierDropout = dropout, dropout, dropout
	c.Labels = []string{"LABEL_0", "LABEL_1", "LABEL_2"}
	err = torchrt.Run(torchrt.Config{Threads: 1, Seed: 3}, func(*torchrt.Thread) error {
		m, err := bert.New(c, gotch.CPU)
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

// writeData writes a CSV whose label is decided by which words a text
// holds, so that a model can learn it.
func writeData(t *testing.T, dir, name string, n, seed int) string {
	t.Helper()
	return writeRows(t, dir, name, n, seed, nil)
}

// writeRows writes n rows of writeData's kind, each text after the words
// prefix(i) gives (nil: none).
func writeRows(t *testing.T, dir, name string, n, seed int, prefix func(i int) []string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("text,label\n")
	for i := range n {
		k := (i*7 + seed) % 3
		var words []string
		if prefix != nil {
			words = prefix(i)
		}
		for j := range 3 + (i*5+seed)%6 {
			words = append(words, testWords[(k*8+(i*3+j*5+seed)%8)%len(testWords)])
		}
		fmt.Fprintf(&b, "%q,%s\n", strings.Join(words, " "), []string{"neg", "neu", "pos"}[k])
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func testTrainConfig(t *testing.T, model, data, out string) Config {
	c := DefaultConfig()
	c.Train = writeData(t, data, "train.csv", 48, 1)
	c.Val = writeData(t, data, "val.csv", 15, 2)
	c.Test = writeData(t, data, "test.csv", 15, 3)
	c.Model, c.Output = model, out
	c.Epochs, c.BatchSize, c.LR, c.WarmupSteps, c.MaxLength = 2, 8, 3e-3, 2, 32
	c.EvalStrategy, c.EvalSteps, c.SaveSteps, c.LogEvery, c.Threads = "steps", 4, 4, 2, 1
	c.WeightDecay = 0.01
	// Best-model tracking as the tutorial's Trainer set-up had it (HF's and
	// ddprun's defaults are off, by loss, unlimited).
	c.LoadBestAtEnd, c.MetricForBest, c.SaveTotalLimit = true, "accuracy", 2
	return c
}

func TestTrainSingleRank(t *testing.T) {
	model, data, out := tinyModelDir(t, 0.1), t.TempDir(), t.TempDir()
	cfg := testTrainConfig(t, model, data, out)
	res, err := Train(t.Context(), cfg, Env{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 12 || res.Stop != "completed" || res.Test == nil || res.Test.N != 15 || res.Val == nil {
		t.Fatalf("result %+v", res)
	}
	if res.BestCheckpoint == "" || !strings.HasPrefix(res.BestCheckpoint, out) {
		t.Errorf("best checkpoint %q", res.BestCheckpoint)
	}
	cks, _ := listCheckpoints(out)
	if len(cks) < 2 || len(cks) > 3 { // save-total-limit 2, plus the best
		t.Errorf("checkpoints left: %v", cks)
	}
	// The output folder is an HF model folder with the data's labels.
	err = torchrt.Run(torchrt.Config{Threads: 1}, func(*torchrt.Thread) error {
		m, rep, err := bert.LoadPretrained(out, gotch.CPU, nil, bert.LoadOptions{})
		if err != nil {
			return err
		}
		defer m.Drop()
		if !slices.Equal(m.Config.Labels, []string{"neg", "neu", "pos"}) || len(rep.Initialised) != 0 {
			t.Errorf("final model labels %v, report %+v", m.Config.Labels, rep)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := runlog.Read(filepath.Join(out, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[runlog.Kind]int{}
	var saved []int64
	for _, e := range entries {
		kinds[e.Kind]++
		if e.Kind == runlog.Event && e.Fields[runlog.FieldMsg] == "checkpoint" {
			saved = append(saved, e.Step)
		}
	}
	if kinds[runlog.Train] != 6 || kinds[runlog.Eval] != 3 || kinds[runlog.Test] != 1 {
		t.Errorf("metrics log kinds %v", kinds)
	}
	if !slices.Equal(saved, []int64{4, 8, 12}) {
		t.Errorf("checkpoint events at steps %v, want [4 8 12]", saved)
	}
	// train_results.json is the result --json prints, written last.
	var written Result
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(out, resultsFile))), &written); err != nil {
		t.Fatal(err)
	}
	if written.SamplesPerSec <= 0 || written.Wall <= 0 || written.Report != filepath.Join(out, reportFile) || !fileExists(written.Report) {
		t.Errorf("train_results.json: samples/s %v, wall %v, report %q", written.SamplesPerSec, written.Wall, written.Report)
	}
	// The baseline (--baseline nb, the default) on the same splits: the
	// test data's label is a function of its words, which naive Bayes learns.
	if b := written.Baseline; b == nil || b.Test == nil || b.Val == nil || b.Test.N != 15 || b.Test.Accuracy < 0.8 {
		t.Errorf("train_results.json baseline: %+v", b)
	}
	if !strings.Contains(readFile(t, written.Report), "Against a baseline") {
		t.Error("the report has no baseline section")
	}
}

// An interrupted and resumed run ends with exactly the weights and the
// optimizer state of an uninterrupted one (fp32, same world size), dropout
// included. The final checkpoints are compared, not the output folders:
// with --load-best-at-end those hold the best checkpoint's weights, which
// may have been written before the stop and would prove nothing.
func TestResumeIsExact(t *testing.T) {
	model, data := tinyModelDir(t, 0.1), t.TempDir()
	full := testTrainConfig(t, model, data, t.TempDir())
	if _, err := Train(t.Context(), full, Env{}); err != nil {
		t.Fatal(err)
	}
	// Between checkpoints, on one, at the epoch boundary (6 steps an epoch),
	// after it, and late in the second epoch.
	for _, at := range []int{3, 4, 6, 7, 10} {
		t.Run(fmt.Sprint("stop=", at), func(t *testing.T) {
			part := full
			part.Output = t.TempDir()
			stop := make(chan struct{})
			res, err := Train(t.Context(), part, Env{Stop: stop, OnStep: func(s int) {
				if s == at {
					close(stop)
				}
			}})
			if !errors.Is(err, ErrStopped) || res == nil || res.Stop != "interrupted" || res.Steps != at {
				t.Fatalf("interrupted run: %+v, %v", res, err)
			}
			res, err = Train(t.Context(), part, Env{})
			if err != nil {
				t.Fatal(err)
			}
			if res.ResumedFrom != filepath.Join(part.Output, fmt.Sprintf("checkpoint-%d", at)) || res.Steps != 12 {
				t.Fatalf("resumed run: %+v", res)
			}
			if !hasEvent(t, part.Output, "resume", at) || !hasEvent(t, part.Output, "stop", at) {
				t.Errorf("metrics.jsonl lacks the stop and resume events at step %d", at)
			}
			compareFolders(t, filepath.Join(full.Output, "checkpoint-12"), filepath.Join(part.Output, "checkpoint-12"))
			compareFolders(t, full.Output, part.Output)
			if *res.BestMetric != readBest(t, full.Output) {
				t.Errorf("best metric after resume %v, uninterrupted %v", *res.BestMetric, readBest(t, full.Output))
			}
		})
	}
}

// compareFolders checks that two model folders (or checkpoints) hold
// bit-identical weights and, where there is one, optimizer state.
func compareFolders(t *testing.T, a, b string) {
	t.Helper()
	compareWeightFiles(t, filepath.Join(a, bert.SafetensorsFile), filepath.Join(b, bert.SafetensorsFile))
	if pa, pb := filepath.Join(a, optimizerFile), filepath.Join(b, optimizerFile); fileExists(pa) || fileExists(pb) {
		compareWeightFiles(t, pa, pb)
	}
}

// compareWeightFiles checks that two safetensors files hold the same
// tensors, bit for bit.
func compareWeightFiles(t *testing.T, pa, pb string) {
	t.Helper()
	wa, _, err := bert.ReadWeights(pa)
	if err != nil {
		t.Fatal(err)
	}
	wb, _, err := bert.ReadWeights(pb)
	if err != nil {
		t.Fatal(err)
	}
	if len(wa) != len(wb) {
		t.Fatalf("%s holds %d tensors, %s %d", pa, len(wa), pb, len(wb))
	}
	for name, x := range wa {
		if !slices.Equal(x.Data, wb[name].Data) {
			t.Fatalf("%s differs between %s and %s", name, pa, pb)
		}
	}
}

func readBest(t *testing.T, out string) float64 {
	b, err := os.ReadFile(filepath.Join(out, "train_results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return *r.BestMetric
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func atoi(t *testing.T, s string) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Two runs of the same command train the same model, from scratch too:
// the initial weights come from --seed.
func TestDeterministicFromScratch(t *testing.T) {
	data := t.TempDir()
	var weights []string
	for range 2 {
		cfg := testTrainConfig(t, "", data, t.TempDir())
		cfg.Model, cfg.Preset, cfg.MaxSteps, cfg.EvalStrategy, cfg.SaveStrategy, cfg.Test, cfg.NoReport, cfg.LoadBestAtEnd = "", "micro", 3, "no", "no", "", true, false
		if _, err := Train(t.Context(), cfg, Env{}); err != nil {
			t.Fatal(err)
		}
		weights = append(weights, cfg.Output)
	}
	compareFolders(t, weights[0], weights[1])
}

// A damaged newest checkpoint (a torn write, a flipped byte) is never
// loaded: auto-resume verifies the checksums and falls back to the one
// before, and the run still ends with the uninterrupted run's weights.
func TestResumeSkipsDamagedCheckpoint(t *testing.T) {
	model, data := tinyModelDir(t, 0.1), t.TempDir()
	full := testTrainConfig(t, model, data, t.TempDir())
	if _, err := Train(t.Context(), full, Env{}); err != nil {
		t.Fatal(err)
	}
	part := full
	part.Output = t.TempDir()
	stop := make(chan struct{})
	_, err := Train(t.Context(), part, Env{Stop: stop, OnStep: func(s int) {
		if s == 8 {
			close(stop)
		}
	}})
	if !errors.Is(err, ErrStopped) {
		t.Fatal(err)
	}
	// Damage the newest checkpoint's weights; the one at step 4 is intact.
	f := filepath.Join(part.Output, "checkpoint-8", "model.safetensors")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Train(t.Context(), part, Env{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom != filepath.Join(part.Output, "checkpoint-4") {
		t.Fatalf("resumed from %q, want checkpoint-4 (checkpoint-8 is damaged)", res.ResumedFrom)
	}
	compareFolders(t, filepath.Join(full.Output, "checkpoint-12"), filepath.Join(part.Output, "checkpoint-12"))
	if err := verifyCheckpoint(filepath.Join(part.Output, "checkpoint-12")); err != nil {
		t.Errorf("the final checkpoint does not verify: %v", err)
	}
}

// --lazy-embeddings: embedding rows of tokens that never occur keep their
// initial values (exact AdamW with weight decay shrinks them), and the
// others train.
func TestLazyEmbeddings(t *testing.T) {
	model, data, out := tinyModelDir(t, 0), t.TempDir(), t.TempDir()
	cfg := testTrainConfig(t, model, data, out)
	cfg.LazyEmbeddings, cfg.MaxSteps, cfg.EvalStrategy, cfg.SaveStrategy, cfg.Test, cfg.NoReport, cfg.LoadBestAtEnd = true, 4, "no", "no", "", true, false
	if _, err := Train(t.Context(), cfg, Env{}); err != nil {
		t.Fatal(err)
	}
	before, _, err := bert.ReadWeights(model)
	if err != nil {
		t.Fatal(err)
	}
	after, _, err := bert.ReadWeights(out)
	if err != nil {
		t.Fatal(err)
	}
	name := "bert.embeddings.word_embeddings.weight"
	h := int(before[name].Shape[1])
	row := func(w map[string]bert.HostTensor, id int) []float32 { return w[name].Data[id*h : (id+1)*h] }
	// Ids 1 ([UNK]) and 4 ([MASK]) never occur in the test data; 2 ([CLS]) always does.
	for _, id := range []int{1, 4} {
		if !slices.Equal(row(before, id), row(after, id)) {
			t.Errorf("row %d (never used) changed under --lazy-embeddings", id)
		}
	}
	if slices.Equal(row(before, 2), row(after, 2)) {
		t.Error("row 2 ([CLS], in every batch) did not train")
	}
}

// A run checkpointed by one optimizer implementation resumes under the
// other (a CPU run continued on a GPU takes the flat one): the state is
// keyed by parameter name either way. The result matches the uninterrupted
// run to float rounding (measured 2e-7: the implementations round alike
// but not identically); a resume that lost the moments is 1.5e-2 off.
func TestResumeAcrossOptimizerImplementations(t *testing.T) {
	model, data := tinyModelDir(t, 0), t.TempDir()
	full := testTrainConfig(t, model, data, t.TempDir())
	full.OptimizerImpl = "host"
	full.LoadBestAtEnd = false // compare the last weights, not the best checkpoint's
	if _, err := Train(t.Context(), full, Env{}); err != nil {
		t.Fatal(err)
	}
	want, _, err := bert.ReadWeights(full.Output)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ first, then string }{{"host", "flat"}, {"flat", "host"}} {
		t.Run(tc.first+"-then-"+tc.then, func(t *testing.T) {
			part := full
			part.Output, part.OptimizerImpl = t.TempDir(), tc.first
			stop := make(chan struct{})
			_, err := Train(t.Context(), part, Env{Stop: stop, OnStep: func(s int) {
				if s == 4 {
					close(stop)
				}
			}})
			if !errors.Is(err, ErrStopped) {
				t.Fatalf("interrupted run: %v", err)
			}
			part.OptimizerImpl = tc.then
			if res, err := Train(t.Context(), part, Env{}); err != nil || res.ResumedFrom == "" {
				t.Fatalf("resumed run: %+v, %v", res, err)
			}
			got, _, err := bert.ReadWeights(part.Output)
			if err != nil {
				t.Fatal(err)
			}
			d, where := maxDiff(got, want)
			t.Logf("max difference %g (%s)", d, where)
			if d > 1e-4 {
				t.Errorf("%s differs from the uninterrupted run by %g", where, d)
			}
		})
	}
}

// hasEvent reports whether out's metrics log has an event msg at step.
func hasEvent(t *testing.T, out, msg string, step int) bool {
	t.Helper()
	entries, err := runlog.Read(filepath.Join(out, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Kind == runlog.Event && e.Fields[runlog.FieldMsg] == msg && e.Step == int64(step) {
			return true
		}
	}
	return false
}
