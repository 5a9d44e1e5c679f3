package ddp

import (
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"time"

	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/ddp/progress"
	"github.com/ddprun/ddprun/ddp/report"
	"github.com/ddprun/ddprun/ddp/runlog"
	"github.com/ddprun/ddprun/ddp/tblog"
)

// recorder is where rank 0 sends what the run does: the progress bar,
// the JSONL metrics log, TensorBoard, and at the end the HTML report.
type recorder interface {
	train(step int, epoch float64, r stepResult)
	eval(kind string, step int, epoch float64, s metrics.Summary)
	event(step int, msg string, fields map[string]any)
	exclude(d time.Duration) // time the throughput window leaves out (evaluation, checkpoints)
	report(path string, info report.RunInfo, test *metrics.Summary, base *report.Baseline) error
	close() error
}

type nopRecorder struct{}

func (nopRecorder) train(int, float64, stepResult)             {}
func (nopRecorder) eval(string, int, float64, metrics.Summary) {}
func (nopRecorder) event(int, string, map[string]any)          {}
func (nopRecorder) exclude(time.Duration)                      {}
func (nopRecorder) report(string, report.RunInfo, *metrics.Summary, *report.Baseline) error {
	return nil
}
func (nopRecorder) close() error { return nil }

// fileRecorder is rank 0's recorder.
type fileRecorder struct {
	cfg      *Config
	bar      *progress.Bar
	log      *runlog.Writer
	tb       *tblog.Writer
	logPath  string
	pending  stepResult // sums since the last logged step
	world    int        // ranks: a step's samples times world is the global batch
	logged   time.Time  // when the last train entry was logged
	faults   int64      // this process's minor page faults at the last train entry
	nPending int
	err      error // the first failed write to the log, reported by close
}

// Output files, beside the checkpoints.
const (
	metricsFile = "metrics.jsonl"
	tbDir       = "tensorboard"
	resultsFile = "train_results.json"
	reportFile  = "report.html"
)

func newRecorder(cfg *Config, stderr io.Writer, total, done, perEpoch, world int) (*fileRecorder, error) {
	r := &fileRecorder{cfg: cfg, logPath: filepath.Join(cfg.Output, metricsFile), world: world, logged: time.Now(), faults: minorFaults()}
	var err error
	if r.log, err = runlog.Open(r.logPath); err != nil {
		return nil, err
	}
	if r.tb, err = tblog.Open(filepath.Join(cfg.Output, tbDir)); err != nil {
		r.log.Close()
		return nil, err
	}
	r.bar = progress.New(stderr, progress.Config{Desc: "train", Total: int64(total), Unit: "step",
		Epochs: float64(total) / float64(max(perEpoch, 1)), LogEvery: int64(cfg.LogEvery)})
	r.bar.Set(int64(done))
	return r, nil
}

func (r *fileRecorder) train(step int, epoch float64, s stepResult) {
	r.bar.Step(progress.Step{Done: int64(step), Epoch: epoch, Loss: s.Loss, LR: s.LR, Samples: int64(s.Samples * r.world)})
	r.pending.Samples += s.Samples * r.world
	r.pending.Loss += s.Loss
	r.pending.GradNorm += s.GradNorm
	r.pending.Tokens += s.Tokens
	r.nPending++
	if step%r.cfg.LogEvery != 0 {
		return
	}
	n := float64(r.nPending)
	now := time.Now()
	rate := float64(r.pending.Samples) / now.Sub(r.logged).Seconds() // throughput since the last entry
	r.logged = now
	faults := minorFaults()
	perStep := float64(faults-r.faults) / n // rank 0's own: torchrt Note [Allocator]
	r.faults = faults
	fields := map[string]any{
		runlog.FieldLoss: r.pending.Loss / n, runlog.FieldLR: s.LR, runlog.FieldGradNorm: r.pending.GradNorm / n,
		runlog.FieldSamplesPerSec: rate, "forward_s": s.Forward.Seconds(), "backward_s": (s.Compute - s.Forward).Seconds(), "data_wait_s": s.DataWait.Seconds(),
		"compute_s": s.Compute.Seconds(), "allreduce_s": s.AllReduce.Seconds(), "optimizer_s": s.Optimizer.Seconds(),
		"wire_mb": float64(s.WireBytes) / 1e6, "minor_faults_per_step": perStep, "peak_rss_mb": peakRSSMB(),
	}
	r.keep(r.log.Log(runlog.Train, int64(step), epoch, fields))
	for _, k := range []string{runlog.FieldLoss, runlog.FieldLR, runlog.FieldGradNorm, runlog.FieldSamplesPerSec} {
		r.tb.Scalar("train/"+k, int64(step), fields[k].(float64))
	}
	r.pending, r.nPending = stepResult{}, 0
}

func (r *fileRecorder) eval(kind string, step int, epoch float64, s metrics.Summary) {
	k := runlog.Eval
	if kind == "test" {
		k = runlog.Test
	}
	if s.Classes == nil { // a masked LM's evaluation: no classes
		r.evalMaskedLM(k, kind, step, epoch, s)
		return
	}
	r.keep(r.log.Log(k, int64(step), epoch, map[string]any{
		runlog.FieldLoss: s.Loss, runlog.FieldAccuracy: s.Accuracy, runlog.FieldMacroF1: s.MacroF1, "n": s.N,
		"summary": s,
	}))
	for name, v := range map[string]float64{"loss": s.Loss, "accuracy": s.Accuracy, "macro_f1": s.MacroF1} {
		r.tb.Scalar(kind+"/"+name, int64(step), v)
	}
	r.bar.Println(fmt.Sprintf("%s at step %d: loss %.4f, accuracy %.4f, macro-F1 %.4f (%d examples)", kind, step, s.Loss, s.Accuracy, s.MacroF1, s.N))
	r.log.Flush()
	r.tb.Flush()
}

// evalMaskedLM records a masked LM's evaluation: the masked tokens' mean
// loss, its perplexity and their accuracy.
func (r *fileRecorder) evalMaskedLM(k runlog.Kind, kind string, step int, epoch float64, s metrics.Summary) {
	ppl := math.Exp(s.Loss)
	r.keep(r.log.Log(k, int64(step), epoch, map[string]any{
		runlog.FieldLoss: s.Loss, runlog.FieldAccuracy: s.Accuracy, "perplexity": ppl, "masked_tokens": s.N,
	}))
	for name, v := range map[string]float64{"loss": s.Loss, "accuracy": s.Accuracy, "perplexity": ppl} {
		r.tb.Scalar(kind+"/"+name, int64(step), v)
	}
	r.bar.Println(fmt.Sprintf("%s at step %d: masked-LM loss %.4f, perplexity %.2f, masked-token accuracy %.4f (%d masked tokens)", kind, step, s.Loss, ppl, s.Accuracy, s.N))
	r.log.Flush()
	r.tb.Flush()
}

func (r *fileRecorder) event(step int, msg string, fields map[string]any) {
	f := map[string]any{runlog.FieldMsg: msg}
	for k, v := range fields {
		f[k] = v
	}
	r.keep(r.log.Log(runlog.Event, int64(step), 0, f))
	r.keep(r.log.Flush())
}

// exclude moves the throughput window's start by d, so that samples per
// second count training time only.
func (r *fileRecorder) exclude(d time.Duration) { r.logged = r.logged.Add(d) }

// keep remembers the first error writing the log (an event that did not
// encode, a full disk), for close to report.
func (r *fileRecorder) keep(err error) {
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("ddp: writing %s: %w", r.logPath, err)
	}
}

func (r *fileRecorder) close() error {
	r.bar.Finish()
	return errors.Join(r.err, r.log.Close(), r.tb.Close())
}
