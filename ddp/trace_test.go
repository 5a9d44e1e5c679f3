package ddp

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/ddp/runlog"
)

// traceFixture is testdata/trace/trace.json, written by gen_trace.py with
// PyTorch 1.13 and HF Trainer's rules (decay groups, schedules, clipping)
// written out; nothing in it comes from ddprun.
type traceFixture struct {
	Config struct {
		Seed        int64   `json:"seed"`
		Batch       int     `json:"batch"`
		Epochs      float64 `json:"epochs"`
		Warmup      int     `json:"warmup_steps"`
		LR          float64 `json:"lr"`
		WeightDecay float64 `json:"weight_decay"`
		MaxGradNorm float64 `json:"max_grad_norm"`
		MaxLength   int     `json:"max_length"`
	} `json:"config"`
	Runs map[string]struct {
		Schedule       string  `json:"schedule"`
		ClassWeights   string  `json:"class_weights"`
		LabelSmoothing float64 `json:"label_smoothing"`
		Steps          []struct {
			Step     int     `json:"step"`
			LR       float64 `json:"lr"`
			Loss     float64 `json:"loss"`
			GradNorm float64 `json:"grad_norm"`
		} `json:"steps"`
		Final map[string]struct {
			Norm float64 `json:"norm"`
			Sum  float64 `json:"sum"`
		} `json:"final"`
	} `json:"runs"`
}

// Tolerances of the trace, set from what `go test -v -run TestTrainingTrace`
// logs: ddprun's model and PyTorch's run the same libtorch kernels in a
// different op order, and 15 Adam steps carry the rounding along. Observed
// worst cases over the four runs are in the comments; every bug this test
// guards against moves its quantity by orders of magnitude more.
const (
	traceLRAbs    = 1e-12 // the schedule is exact arithmetic; observed 0
	traceLossRel  = 2e-5  // observed 8.3e-7
	traceNormRel  = 2e-5  // observed 1.9e-6
	traceFinalRel = 2e-6  // per-tensor L2 norm; observed 1.2e-7
	traceSumAbs   = 5e-5  // per-tensor sum; observed 2.6e-6
)

func loadTrace(t *testing.T) traceFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "trace", "trace.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f traceFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestTrainingTrace trains the fixture's tiny BERT with `ddprun train`'s
// whole path (CSV, tokenizer, sampler, loader, engine, optimizer, schedule,
// metrics log) and checks every step against PyTorch: the learning rate
// (HF's schedules, step 0 included), the loss (the data order of each
// epoch, the model, the weights after every earlier step; class weights,
// balanced as scikit-learn computes them, and label smoothing) and the
// gradient norm before clipping; at the end every tensor's norm and sum
// (weight decay groups: LayerNorm weights and biases are not decayed).
// Unlike TestEquivalence, which compares ddprun with itself, a bug shared
// by every path of ddprun shows here. The 2-rank case checks DDP against
// single-process PyTorch on the same global batch.
func TestTrainingTrace(t *testing.T) {
	fix := loadTrace(t)
	cases := []struct {
		run   string
		ranks int
	}{{"linear", 1}, {"cosine", 1}, {"constant", 1}, {"linear", 2}, {"weighted", 1}, {"balanced-smoothed", 2}}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("run=%s/ranks=%d", tc.run, tc.ranks), func(t *testing.T) {
			want, ok := fix.Runs[tc.run]
			if !ok {
				t.Fatalf("no %s trace in the fixture", tc.run)
			}
			c := traceConfig(fix)
			c.Scheduler, c.ClassWeights, c.LabelSmoothing = want.Schedule, want.ClassWeights, want.LabelSmoothing
			out := traceRun(t, c, tc.ranks)
			worst := maxDiffs{}
			defer func() { t.Logf("largest differences from PyTorch: %v", worst) }()
			checkTrace(t, out, len(want.Steps), func(step int, e runlog.Entry) {
				w := want.Steps[step-1]
				lr, _ := e.Float(runlog.FieldLR)
				loss, _ := e.Float(runlog.FieldLoss)
				norm, _ := e.Float(runlog.FieldGradNorm)
				worst.note("lr", math.Abs(lr-w.LR))
				worst.note("loss", relDiff(loss, w.Loss))
				worst.note("grad norm", relDiff(norm, w.GradNorm))
				if math.Abs(lr-w.LR) > traceLRAbs {
					t.Errorf("step %d: lr %.10g, PyTorch %.10g", step, lr, w.LR)
				}
				if relDiff(loss, w.Loss) > traceLossRel {
					t.Errorf("step %d: loss %.7g, PyTorch %.7g (rel %.2g)", step, loss, w.Loss, relDiff(loss, w.Loss))
				}
				if relDiff(norm, w.GradNorm) > traceNormRel {
					t.Errorf("step %d: grad norm %.7g, PyTorch %.7g (rel %.2g)", step, norm, w.GradNorm, relDiff(norm, w.GradNorm))
				}
			})
			weights, _, err := bert.ReadWeights(out)
			if err != nil {
				t.Fatal(err)
			}
			for name, w := range want.Final {
				if roundingNoise(name) {
					continue
				}
				got, ok := weights[name]
				if !ok {
					t.Errorf("%s missing from the final model", name)
					continue
				}
				norm, sum := 0.0, 0.0
				for _, v := range got.Data {
					norm += float64(v) * float64(v)
					sum += float64(v)
				}
				norm = math.Sqrt(norm)
				worst.note("final norm", relDiff(norm, w.Norm))
				worst.note("final sum", math.Abs(sum-w.Sum))
				if relDiff(norm, w.Norm) > traceFinalRel || math.Abs(sum-w.Sum) > traceSumAbs {
					t.Errorf("final %s: norm %.7g sum %.7g, PyTorch norm %.7g sum %.7g", name, norm, sum, w.Norm, w.Sum)
				}
			}
		})
	}
}

// traceConfig is `ddprun train` with the fixture's settings.
func traceConfig(fix traceFixture) Config {
	c := DefaultConfig()
	c.Train, c.Model = filepath.Join("testdata", "trace", "train.csv"), filepath.Join("testdata", "trace", "model")
	c.Epochs, c.BatchSize, c.MaxLength = fix.Config.Epochs, fix.Config.Batch, fix.Config.MaxLength
	c.LR, c.WarmupSteps, c.WeightDecay, c.MaxGradNorm = fix.Config.LR, fix.Config.Warmup, fix.Config.WeightDecay, fix.Config.MaxGradNorm
	c.Seed, c.Wire, c.Threads = fix.Config.Seed, "fp32", 1
	c.EvalStrategy, c.SaveStrategy, c.LoadBestAtEnd, c.NoReport, c.LogEvery = "no", "no", false, true, 1
	return c
}

// traceRun trains c on ranks in-process ranks, the global batch fixed
// (c.BatchSize split between them), and returns rank 0's output.
func traceRun(t *testing.T, c Config, ranks int) string {
	t.Helper()
	c.BatchSize /= ranks
	outs := make([]string, ranks)
	for r := range outs {
		outs[r] = t.TempDir()
	}
	if ranks == 1 {
		c.Output = outs[0]
		if _, err := Train(t.Context(), c, Env{}); err != nil {
			t.Fatal(err)
		}
		return outs[0]
	}
	_, errs := trainRanks(t, c, outs, 0, fp32Ring)
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	return outs[0]
}

// checkTrace calls check for each train entry of out's metrics log and
// checks that there is one per step, 1..steps.
func checkTrace(t *testing.T, out string, steps int, check func(step int, e runlog.Entry)) {
	t.Helper()
	entries, err := runlog.Read(filepath.Join(out, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Kind != runlog.Train {
			continue
		}
		n++
		if int(e.Step) != n {
			t.Fatalf("train entry %d is for step %d", n, e.Step)
		}
		check(n, e)
	}
	if n != steps {
		t.Fatalf("%d train entries, want %d", n, steps)
	}
}

func relDiff(a, b float64) float64 {
	return math.Abs(a-b) / math.Max(math.Abs(b), 1e-12)
}

// maxDiffs records the largest difference seen per quantity, for the log
// (the tolerances above were set from these).
type maxDiffs map[string]float64

func (m maxDiffs) note(what string, d float64) { m[what] = max(m[what], d) }

// roundingNoise reports parameters whose gradient is zero in exact
// arithmetic, so that two correct computations that round differently
// train them differently: softmax over keys ignores a shift shared by every
// key, so the key bias only ever gets rounding noise, which Adam scales to
// steps of about lr in a random direction. Nothing to compare there.
func roundingNoise(name string) bool { return strings.HasSuffix(name, "attention.self.key.bias") }
