package ddp

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/ddp/optim"
	"github.com/ddprun/ddprun/internal/control"
	"github.com/ddprun/ddprun/shard"
)

// findResume picks the checkpoint to resume from. Only rank 0 reads the
// disk (the newest checkpoint that verifies, for --resume auto); the other
// ranks get its trainer state here, the weights through the parameter
// broadcast and the optimizer state in restore, so --output need not be
// shared between machines.
func (t *trainer) findResume(ctx context.Context) (*loadedCheckpoint, error) {
	if t.replacing() {
		return nil, nil // the survivors send the state (Note [Recovery in place])
	}
	var ck *loadedCheckpoint
	var err error
	if t.rank() == 0 {
		ck, err = t.chooseResume()
	}
	if err := t.agree(ctx, err); err != nil {
		return nil, err
	}
	state := ""
	if ck != nil {
		b, err := json.Marshal(ck.State)
		if err != nil {
			return nil, err
		}
		state = ck.Dir + "\n" + string(b)
	}
	if state, err = broadcastString(ctx, t.env.Comm, state); err != nil || state == "" {
		return nil, err
	}
	if ck == nil {
		dir, js, _ := strings.Cut(state, "\n")
		ck = &loadedCheckpoint{Dir: dir}
		if err := json.Unmarshal([]byte(js), &ck.State); err != nil {
			return nil, fmt.Errorf("ddp: rank %d: the trainer state rank 0 sent: %w", t.rank(), err)
		}
	}
	if ck.State.ConfigHash != t.cfg.hash() {
		return nil, fmt.Errorf("%w: %s was written with other data, model, batch size, max length or seed; use --resume no or another --output", ErrCheckpoint, ck.Dir)
	}
	t.resume = ck.Dir
	return ck, nil
}

func (t *trainer) chooseResume() (*loadedCheckpoint, error) {
	out := t.cfg.Output
	if tmps, err := removeStaleTemps(out); err != nil {
		return nil, err
	} else if len(tmps) > 0 {
		t.env.Log.Info("removed the temporary folders of interrupted checkpoint writes", "dirs", tmps)
	}
	switch {
	case t.cfg.Overwrite:
		return nil, t.startFresh(nil)
	case t.cfg.Resume == "no" || t.cfg.Resume == "":
		return nil, t.startFresh(nil)
	case t.cfg.Resume != "auto":
		return readCheckpoint(t.cfg.Resume)
	}
	var damaged []string
	ck, err := latestCheckpoint(out, func(dir string, err error) {
		t.env.Log.Warn("skipping a damaged checkpoint", "dir", dir, "err", err)
		damaged = append(damaged, dir)
	})
	t.damaged = damaged
	if err != nil || ck != nil {
		return ck, err
	}
	return nil, t.startFresh(damaged)
}

// startFresh prepares the output for a run from step 0: an earlier run's
// outputs are refused, or deleted with --overwrite-output, so that a new
// run never mixes its logs and checkpoints with another's (see Note [Runs
// and pruning]). damaged lists the checkpoints --resume auto skipped.
func (t *trainer) startFresh(damaged []string) error {
	old, err := runOutputs(t.cfg.Output)
	if err != nil || len(old) == 0 {
		return err
	}
	// A restart by the launcher that finds no checkpoint starts over on what
	// its own first generation left: that generation passed this check (a
	// refusal exits launcher.RankRefusedCode, which the launcher does not
	// restart).
	if restarted := t.env.ID.Restart > 0 && t.cfg.Resume == "auto" && len(damaged) == 0; t.cfg.Overwrite || restarted {
		for _, p := range old {
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("ddp: starting over in %s: %w", t.cfg.Output, err)
			}
		}
		why := "--overwrite-output"
		if !t.cfg.Overwrite {
			why = "restart without a checkpoint"
		}
		t.env.Log.Info("starting over: deleted an earlier run's outputs", "output", t.cfg.Output, "deleted", len(old), "why", why)
		return nil
	}
	why := "holds an earlier run's outputs"
	switch {
	case len(damaged) > 0:
		why = fmt.Sprintf("holds an earlier run whose checkpoints are all damaged (%s)", strings.Join(damaged, ", "))
	case t.cfg.Resume == "auto":
		why = "holds an earlier run's outputs but no checkpoint to resume from"
	}
	return fmt.Errorf("%w: %s %s (%s): add --overwrite-output to delete them and start over, or choose another --output",
		ErrOutputInUse, t.cfg.Output, why, strings.Join(baseNames(old), ", "))
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

// restore sets the optimizer, data position and counters from a checkpoint
// (the weights came through LoadState and the broadcast).
func (t *trainer) restore(ctx context.Context, ck *loadedCheckpoint) error {
	t.state = TrainerState{RunID: newRunID(), WorldSize: t.world(), MetricForBest: t.cfg.MetricForBest, PatienceLeft: t.cfg.Patience,
		Labels: t.data.Labels.Names(), ConfigHash: t.cfg.hash(), Optimizer: t.eng.opt.config().Kind, Schedule: t.eng.sched}
	if ck == nil {
		return nil
	}
	s := ck.State
	if s.RunID != "" { // checkpoints from before run ids start a new id
		t.state.RunID = s.RunID
	}
	if err := t.shareOptimizerState(ctx, ck, 0); err != nil {
		return err
	}
	if err := t.eng.opt.setState(ck.Optimizer); err != nil {
		return fmt.Errorf("ddp: resuming from %s: %w", ck.Dir, err)
	}
	if err := t.train.Resume(s.Data); err != nil {
		return fmt.Errorf("ddp: resuming from %s: %w", ck.Dir, err)
	}
	t.eng.step = s.Step
	t.state.Step, t.state.Epoch, t.state.Data = s.Step, s.Epoch, s.Data
	t.state.BestMetric, t.state.BestCheckpoint, t.state.PatienceLeft = s.BestMetric, s.BestCheckpoint, s.PatienceLeft
	t.state.History, t.state.Samples = s.History, s.Samples
	if s.WorldSize != t.world() {
		t.env.Log.Warn("resuming with a different world size: the data position re-shards exactly, batches are composed differently",
			"was", s.WorldSize, "now", t.world())
	}
	return nil
}

// shareOptimizerState sends root's optimizer state (rank 0's, read from
// the checkpoint, or a survivor's: Note [Recovery in place]) to the other
// ranks, parameter by parameter in name order.
func (t *trainer) shareOptimizerState(ctx context.Context, ck *loadedCheckpoint, root int) error {
	if t.world() == 1 {
		return nil
	}
	if t.rank() != root {
		ck.Optimizer = map[string]optim.ParamState{}
	}
	sizes := map[string]int{}
	for _, p := range t.model.Params() {
		sizes[p.Name] = int(numel(p.Shape))
	}
	names := make([]string, 0, len(ck.State.OptimizerSteps))
	for n := range ck.State.OptimizerSteps {
		names = append(names, n)
	}
	slices.Sort(names)
	adam := ck.State.Optimizer != optim.SGD
	for _, n := range names {
		st, ok := ck.Optimizer[n]
		if !ok {
			st = optim.ParamState{Step: ck.State.OptimizerSteps[n], M: make([]float32, sizes[n])}
			if adam {
				st.V = make([]float32, sizes[n])
			}
		}
		if len(st.M) != sizes[n] {
			return fmt.Errorf("%w: %s: optimizer state of %d values for a parameter of %d", ErrCheckpoint, n, len(st.M), sizes[n])
		}
		for _, buf := range [][]float32{st.M, st.V} {
			if buf == nil {
				continue
			}
			if err := t.env.Comm.Broadcast(ctx, collective.Float32s(buf), root); err != nil {
				return fmt.Errorf("ddp: sharing the optimizer state of %s: %w", n, err)
			}
		}
		ck.Optimizer[n] = st
	}
	return nil
}

// run is the training loop. A failure that the rank can recover from in
// place (recover.go) resumes it at the job's last completed step.
func (t *trainer) run(ctx context.Context) (*Result, error) {
	stop, err := t.rejoin(ctx)
	for {
		for err == nil && stop == "" && t.state.Step < t.total {
			stop, err = t.iteration(ctx)
		}
		if err == nil {
			var res *Result
			if res, err = t.finish(ctx, t.stopReason(stop)); !t.canRecover(err) {
				return res, err
			}
		} else if !t.canRecover(err) {
			return nil, err
		}
		if stop, err = t.recover(ctx, err); err != nil {
			return nil, err // a failure during recovery ends the rank
		}
	}
}

// iteration runs one optimizer step and the work after it; it returns why
// training stops there, or "".
func (t *trainer) iteration(ctx context.Context) (string, error) {
	micro, epochEnd, err := t.nextMicroBatches(ctx)
	if err != nil || len(micro) == 0 {
		return "", err // none: the loader's end-of-epoch, which the step that took the last batch handled
	}
	if err := t.step(ctx, micro, epochEnd); err != nil {
		return "", err
	}
	return t.afterOptimizerStep(ctx)
}

// afterOptimizerStep runs the step's evaluation, stop agreement and
// checkpoint, and marks its snapshot done.
func (t *trainer) afterOptimizerStep(ctx context.Context) (string, error) {
	reason, err := t.afterStep(ctx, t.snap.epochEnd)
	if err != nil {
		return "", err
	}
	t.snap.done, t.snap.stop = true, reason
	if reason != "" {
		t.rec.event(t.state.Step, "stop", map[string]any{"reason": reason})
	}
	return reason, nil
}

// stopReason names why the loop ended: afterStep's reason, else
// completed (all epochs) or max-steps.
func (t *trainer) stopReason(reason string) string {
	switch {
	case reason != "":
		return reason
	case t.cfg.MaxSteps > 0:
		return "max-steps"
	}
	return "completed"
}

// nextMicroBatches takes up to --grad-accum batches; at the end of an epoch
// the step uses what it has (as HF does), and the loader moves on.
func (t *trainer) nextMicroBatches(ctx context.Context) ([]*shard.Batch, bool, error) {
	t.heartbeat(control.PhaseData, -1)
	var micro []*shard.Batch
	for len(micro) < t.accum {
		b, err := t.train.Next(ctx)
		if isEOF(err) {
			return micro, true, nil
		}
		if err != nil {
			return nil, false, err
		}
		micro = append(micro, b)
	}
	return micro, t.train.BatchesLeft() == 0, nil
}

// step runs one optimizer step (its loss is already the global batch's:
// engine.trainStep averages it before the optimizer step) and keeps the
// state after it (Note [Recovery in place]).
func (t *trainer) step(ctx context.Context, micro []*shard.Batch, epochEnd bool) error {
	t.heartbeat(control.PhaseCompute, -1)
	res, err := t.eng.trainStep(ctx, micro)
	if err != nil {
		return err
	}
	wait := t.train.Stats().Wait
	res.DataWait, t.lastWait = wait-t.lastWait, wait
	t.state.Step = t.eng.step
	t.state.Data = t.train.State()
	t.seen += int64(res.Samples * t.world())
	t.state.Samples += int64(res.Samples * t.world())
	t.keepSnapshot(epochEnd, res)
	t.recordStep(res)
	return nil
}

// recordStep logs step t.state.Step and reports it to the launcher.
func (t *trainer) recordStep(res stepResult) {
	t.rec.train(t.state.Step, t.epochFloat(), res)
	t.env.Reporter.Heartbeat(control.Heartbeat{Rank: t.rank(), Step: t.state.Step, Epoch: t.state.Epoch, Phase: control.PhaseCompute,
		Bucket: -1, Loss: res.Loss, SamplesPerSec: t.rate(), DataWait: t.train.Stats().Wait, Compute: res.Compute, AllReduce: res.AllReduce,
		AllReduceMB: float64(t.eng.red.bytesSent()) / 1e6, CollSeq: t.collSeq(), Time: time.Now(),
		StepTime: res.DataWait + res.Compute + res.AllReduce + res.Optimizer, StepDataWait: res.DataWait, LR: res.LR,
		Samples: t.seen / int64(t.world())}) // t.seen counts every rank's rows
	t.th.Boundary()
	if t.env.OnStep != nil {
		t.env.OnStep(t.state.Step)
	}
}

func (t *trainer) rate() float64 {
	return float64(t.seen) / math.Max(time.Since(t.start).Seconds(), 1e-9)
}

// epochFloat is the fractional epoch, as HF logs it, from the data
// position: right after a resume at another world size too, where steps
// per epoch changed.
func (t *trainer) epochFloat() float64 {
	d := t.state.Data
	if d.Rows == 0 {
		return float64(t.state.Step) / float64(max(t.perEp, 1))
	}
	return float64(d.Epoch) + min(1, float64(d.Offset)/float64(d.Rows))
}

// meanOverRanks averages a value over the ranks (the logged loss is the
// global batch's).
func meanOverRanks(ctx context.Context, c collective.Comm, v float64) (float64, error) {
	if c.Size() == 1 {
		return v, nil // exact: the all-reduce travels in float32
	}
	buf := []float32{float32(v)}
	if err := c.AllReduce(ctx, collective.Float32s(buf), collective.Avg); err != nil {
		return 0, err
	}
	return float64(buf[0]), nil
}

// afterStep evaluates and checkpoints when due and decides, the same way
// on every rank, whether to stop.
func (t *trainer) afterStep(ctx context.Context, epochEnd bool) (string, error) {
	began := time.Now()
	defer func() { t.rec.exclude(time.Since(began)) }() // throughput counts training only
	if epochEnd {
		t.state.Epoch++
	}
	step, last := t.state.Step, t.state.Step >= t.total
	ev, sv := t.cfg.evalStrategy(), t.cfg.saveStrategy()
	evalDue := t.data.Val != nil && (ev == "steps" && step%t.cfg.evalSteps() == 0 || ev == "epoch" && epochEnd || last && ev != "no")
	stopEarly := false
	if evalDue {
		var err error
		if stopEarly, err = t.evalAndTrack(ctx); err != nil {
			return "", err
		}
	}
	interrupted, err := t.stopRequested(ctx)
	if err != nil {
		return "", err
	}
	saveDue := sv == "steps" && step%t.cfg.saveSteps() == 0 || sv == "epoch" && epochEnd
	if saveDue || (last || stopEarly || interrupted) && sv != "no" {
		if err := t.save(ctx); err != nil {
			return "", err
		}
	}
	switch {
	case interrupted:
		return "interrupted", nil
	case stopEarly:
		return "early-stopping", nil
	}
	return "", nil
}

// stopRequested agrees across ranks whether any was asked to stop (a
// signal, the launcher): a rank that stopped alone would hang the others.
func (t *trainer) stopRequested(ctx context.Context) (bool, error) {
	local := int32(0)
	select {
	case <-t.env.Stop:
		local = 1
	case <-t.env.Reporter.StopRequested():
		local = 1
	default:
	}
	buf := []int32{local}
	if err := t.env.Comm.AllReduce(ctx, collective.Int32s(buf), collective.Max); err != nil {
		return false, fmt.Errorf("ddp: agreeing on stopping: %w", err)
	}
	return buf[0] == 1, nil
}

// evalAndTrack evaluates on the validation split, tracks the best metric,
// and reports whether early stopping triggers.
func (t *trainer) evalAndTrack(ctx context.Context) (bool, error) {
	sum, err := t.evaluateSplit(ctx, t.data.Val)
	if err != nil {
		return false, err
	}
	t.last = &sum
	t.rec.eval("eval", t.state.Step, t.epochFloat(), sum)
	v, greater, err := sum.Metric(t.cfg.MetricForBest)
	if err != nil {
		return false, err
	}
	t.state.History = append(t.state.History, map[string]any{"step": t.state.Step, "epoch": t.epochFloat(), "eval_" + t.cfg.MetricForBest: v, "eval_loss": sum.Loss})
	// See Note [Evaluation and saving]: ties keep the later step; early
	// stopping counts evaluations that do not beat the best by more than
	// the threshold (HF's EarlyStoppingCallback).
	best := t.state.BestMetric
	improved := best == nil || (greater && v-*best > t.cfg.PatienceMin) || (!greater && *best-v > t.cfg.PatienceMin)
	if best == nil || (greater && v >= *best) || (!greater && v <= *best) {
		t.state.BestMetric = &v
		t.state.BestCheckpoint = t.checkpointPath(t.state.Step)
	}
	if improved {
		t.state.PatienceLeft = t.cfg.Patience
		return false, nil
	}
	if t.cfg.Patience > 0 {
		t.state.PatienceLeft--
		return t.state.PatienceLeft <= 0, nil
	}
	return false, nil
}

// evaluateSplit runs a split through the model on every rank and reduces
// the objective's counts exactly (sums of counts and fixed-point losses).
func (t *trainer) evaluateSplit(ctx context.Context, ds *shard.Dataset) (metrics.Summary, error) {
	t.heartbeat(control.PhaseEval, -1)
	ld, err := shard.NewLoader(ds, t.loaderConfig(t.cfg.evalBatch(), false))
	if err != nil {
		return metrics.Summary{}, err
	}
	defer ld.Close()
	sum, err := t.eng.obj.evaluate(ctx, t.eng, ld)
	if err != nil {
		return metrics.Summary{}, fmt.Errorf("ddp: evaluating %s: %w", ds.Name(), err)
	}
	return sum, nil
}

// lossScale turns loss sums into int64 fixed point for an exact,
// order-independent sum over the ranks.
const lossScale = 1e9

func reduceCounts(ctx context.Context, c collective.Comm, counts *metrics.Counts) error {
	if c.Size() == 1 {
		return nil // the counts are the total; the fixed-point round trip would round the loss
	}
	v := append(counts.Int64s(), int64(math.Round(counts.LossSum()*lossScale)))
	if err := c.AllReduce(ctx, collective.Int64s(v), collective.Sum); err != nil {
		return fmt.Errorf("ddp: reducing evaluation counts: %w", err)
	}
	merged, err := metrics.FromInt64s(counts.K(), v[:len(v)-1])
	if err != nil {
		return err
	}
	merged.SetLossSum(float64(v[len(v)-1]) / lossScale)
	*counts = *merged
	return nil
}

// save writes a checkpoint on rank 0 and prunes old ones; the other ranks
// wait for it, so that a failure right after cannot leave them ahead.
func (t *trainer) save(ctx context.Context) error {
	t.heartbeat(control.PhaseCheckpoint, -1)
	var err error
	if t.rank() == 0 {
		began := time.Now()
		if err = t.writeCheckpoint(); err == nil {
			t.env.Reporter.Heartbeat(control.Heartbeat{Rank: 0, Step: t.state.Step, Epoch: t.state.Epoch, Phase: control.PhaseCheckpoint,
				Bucket: -1, CheckpointWrite: time.Since(began), Time: time.Now()})
		}
	}
	return t.agree(ctx, err)
}

func (t *trainer) writeCheckpoint() error {
	st := t.state
	opt, err := t.eng.opt.state()
	if err != nil {
		return err
	}
	dir, err := saveCheckpoint(t.cfg.Output, checkpointContent{Model: t.model, Tokenizer: t.tok, Optimizer: opt, State: st})
	if err != nil {
		return err
	}
	t.rec.event(st.Step, "checkpoint", map[string]any{"dir": dir})
	return pruneCheckpoints(t.cfg.Output, t.cfg.SaveTotalLimit, st.RunID, append([]string{st.BestCheckpoint}, t.damaged...)...)
}

// agree shares rank 0's outcome of an action with every rank: all fail
// together, naming rank 0's error.
func (t *trainer) agree(ctx context.Context, err error) error {
	_, err = t.agreeBool(ctx, false, err)
	return err
}

// finish tests the best model, writes the final model folder and report.
func (t *trainer) finish(ctx context.Context, stop string) (*Result, error) {
	res := &Result{Output: t.cfg.Output, Steps: t.state.Step, Epochs: t.epochFloat(), WorldSize: t.world(), Stop: stop,
		ResumedFrom: t.resume, BestMetric: t.state.BestMetric, Val: t.last}
	if stop == "interrupted" {
		res.Wall, res.SamplesPerSec = time.Since(t.start), t.rate()
		return res, ErrStopped
	}
	if err := t.loadBest(ctx, res); err != nil {
		return nil, err
	}
	if t.data.Test != nil {
		sum, err := t.evaluateSplit(ctx, t.data.Test)
		if err != nil {
			return nil, err
		}
		res.Test = &sum
		step, epoch := t.state.Step, t.epochFloat() // the weights tested: the best checkpoint's, if loaded
		if n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(res.BestCheckpoint), checkpointPrefix)); err == nil && res.BestCheckpoint != "" {
			step, epoch = n, float64(n)/float64(max(t.perEp, 1))
		}
		t.rec.eval("test", step, epoch, sum)
	}
	res.FinalModel = t.cfg.Output
	res.Wall, res.SamplesPerSec = time.Since(t.start), t.rate()
	var err error
	if t.rank() == 0 {
		err = t.writeFinal(res) // the report, then train_results.json, which names it
	}
	if err := t.agree(ctx, err); err != nil {
		return nil, err
	}
	return res, nil
}

// loadBest puts the best checkpoint's weights into every replica (HF's
// load_best_model_at_end), when there is one. Only rank 0 looks at the
// disk and decides: the other ranks' --output may be another machine's
// folder without the checkpoint, and a rank that decided alone would leave
// the broadcast that follows.
func (t *trainer) loadBest(ctx context.Context, res *Result) error {
	best := t.state.BestCheckpoint
	if !t.cfg.LoadBestAtEnd || best == "" {
		return nil
	}
	loaded, err := false, error(nil)
	if t.rank() == 0 && fileExists(filepath.Join(best, checksumsFile)) {
		var ck *loadedCheckpoint
		if ck, err = readCheckpoint(best); err == nil {
			_, err = t.model.LoadState(ck.Weights, bert.LoadOptions{})
		}
		if err != nil {
			err = fmt.Errorf("ddp: loading the best checkpoint: %w", err)
		}
		loaded = err == nil
	}
	if loaded, err = t.agreeBool(ctx, loaded, err); err != nil || !loaded {
		return err
	}
	res.BestCheckpoint = best
	return broadcastParams(ctx, t.env.Comm, t.model)
}

// agreeBool shares rank 0's decision v, or its error, with every rank
// (the other ranks pass their own errors, if any, through).
func (t *trainer) agreeBool(ctx context.Context, v bool, err error) (bool, error) {
	if t.world() == 1 {
		return v, err
	}
	msg := ""
	switch {
	case err != nil:
		msg = "error: " + err.Error()
	case v:
		msg = "yes"
	}
	got, berr := broadcastString(ctx, t.env.Comm, msg)
	switch {
	case berr != nil:
		return false, berr
	case err != nil:
		return false, err
	case strings.HasPrefix(got, "error: "):
		return false, fmt.Errorf("ddp: rank 0 failed: %s", strings.TrimPrefix(got, "error: "))
	}
	return got == "yes", nil
}

func (t *trainer) writeFinal(res *Result) error {
	if err := t.model.Save(t.cfg.Output, t.cfg.SaveBF16); err != nil {
		return err
	}
	if err := t.tok.Save(t.cfg.Output); err != nil {
		return err
	}
	if t.cfg.Baseline == "nb" {
		b, err := runBaseline(t.cfg, t.data.Labels)
		if err != nil {
			t.env.Log.Warn("the baseline failed", "err", err) // the model's result stands
		}
		res.Baseline = b
	}
	if !t.cfg.NoReport {
		res.Report = filepath.Join(t.cfg.Output, reportFile)
		if err := t.rec.report(res.Report, t.reportInfo(res), res.Test, reportBaseline(res)); err != nil {
			t.env.Log.Warn("writing the report failed", "err", err)
			res.Report = ""
		}
	}
	return writeJSONFile(filepath.Join(t.cfg.Output, resultsFile), res)
}
