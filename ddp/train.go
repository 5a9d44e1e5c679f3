package ddp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sugarme/gotch"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/ddp/optim"
	"github.com/ddprun/ddprun/internal/control"
	"github.com/ddprun/ddprun/internal/rankenv"
	"github.com/ddprun/ddprun/internal/torchrt"
	"github.com/ddprun/ddprun/shard"
)

// Result is what a training run reports (rank 0's view; every rank
// returns the same metrics).
type Result struct {
	Output         string           `json:"output"`
	FinalModel     string           `json:"final_model"`
	Report         string           `json:"report,omitempty"`
	Steps          int              `json:"steps"`
	Epochs         float64          `json:"epochs"`
	WorldSize      int              `json:"world_size"`
	ResumedFrom    string           `json:"resumed_from,omitempty"`
	BestCheckpoint string           `json:"best_checkpoint,omitempty"`
	BestMetric     *float64         `json:"best_metric,omitempty"`
	Val            *metrics.Summary `json:"val,omitempty"`
	Test           *metrics.Summary `json:"test,omitempty"`
	Baseline       *BaselineResult  `json:"baseline,omitempty"` // rank 0's; see --baseline
	SamplesPerSec  float64          `json:"train_samples_per_second"`
	Wall           time.Duration    `json:"wall_ns"`
	Stop           string           `json:"stop"` // completed | max-steps | early-stopping | interrupted
}

// Env is what a rank gets from its surroundings.
type Env struct {
	ID       rankenv.Identity
	Comm     collective.Comm  // the ranks' communicator; nil: one rank (collective.Solo)
	Plan     *Plan            // the resolved settings the Comm was opened with; nil: Train resolves them
	Reporter control.Reporter // nil: none
	Stderr   io.Writer        // progress bar and human-readable logs (rank 0)
	Log      *slog.Logger
	// Stop, when closed, asks for a clean stop: the ranks agree on the
	// step, write a checkpoint and return ErrStopped. Cancelling
	// the context passed to Train aborts at once instead.
	Stop <-chan struct{}
	// OnStep, if set, is called on the compute thread after every
	// optimizer step (tests use it to interrupt a run at a given step).
	OnStep func(step int)
	// Recover, if set, lets the rank outlive the loss of others (Note
	// [Recovery in place]); nil: a failed collective ends Train.
	Recover *Recovery
}

// Train runs one rank's part of a training job and returns when the job is
// done, the context ends (after a checkpoint), or an error happens.
func Train(ctx context.Context, cfg Config, env Env) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if env.Log == nil {
		env.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if env.Reporter == nil {
		env.Reporter = control.Nop()
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Comm == nil {
		env.Comm = collective.Solo()
	}
	if env.Plan == nil {
		p, err := Resolve(cfg, env.ID)
		if err != nil {
			return nil, err // before minutes of tokenising
		}
		env.Plan = &p
	}
	if err := os.MkdirAll(cfg.Output, 0o755); err != nil {
		return nil, fmt.Errorf("ddp: %w", err)
	}
	tok, err := loadTokenizer(cfg.Model)
	if err != nil {
		return nil, err
	}
	dataLog := env.Log
	if env.ID.Rank != 0 {
		dataLog = quieter(env.Log, slog.LevelWarn) // rank 0 reports the tokenizing
	}
	data, err := loadSplits(ctx, &cfg, tok, modelLabels(cfg.Model), dataLog)
	if err != nil {
		return nil, err
	}
	var res *Result
	rt := threadPlan(cfg.Threads, env.ID.LocalWorldSize, cfg.Precision)
	rt.Seed = cfg.Seed // initial weights of a preset, before rank 0's are broadcast
	if env.ID.Rank == 0 {
		env.Log.Info("threads per rank", "cores", max(rt.Threads, rt.BLASThreads), "intra-op", rt.Threads, "openblas", rt.BLASThreads,
			"ranks_on_this_machine", env.ID.LocalWorldSize, "malloc_tuned", !rt.DefaultMalloc)
	}
	err = torchrt.Run(rt, func(th *torchrt.Thread) error {
		t, err := newTrainer(ctx, &cfg, env, tok, data, th)
		if err != nil {
			return err
		}
		defer t.close()
		res, err = t.run(ctx)
		return err
	})
	return res, err
}

// Note [Overlap policy]: reducing buckets behind backward (Note [Overlap])
// hides communication that waits on a network, but when every rank shares
// one machine the ring's "network" is memory copies and bf16 conversions on
// the cores that compute, and the rank's cores already all compute (Note
// [Thread pools]). Measured on 2 cores, mini bf16, 2 ranks: 80.8 samples/s
// with overlap, 82.2 without, lower with overlap in 5 of 5 pairs. So auto
// overlaps when the job spans several machines and not on one; on and off
// force it. (PyTorch DDP always overlaps.)

// threadPlan gives a rank's cores (--threads, else the machine's cores
// shared by the localRanks ranks on it) to one thread pool at a time. See
// Note [Thread pools].
func threadPlan(cores, localRanks int, precision string) torchrt.Config {
	cores = coresOf(cores, localRanks)
	if precision == "fp32" && cores > 1 {
		return torchrt.Config{Threads: 1, BLASThreads: cores}
	}
	return torchrt.Config{Threads: cores, BLASThreads: 1}
}

// coresOf is --threads, or the machine's cores shared by its localRanks
// ranks.
func coresOf(threads, localRanks int) int {
	if threads > 0 {
		return threads
	}
	return torchrt.DefaultThreads(localRanks)
}

// Note [Thread pools]: libtorch runs fp32 matrix products in OpenBLAS,
// which keeps a thread pool of its own, and everything else (and bf16
// matrix products, through oneDNN) in ATen's intra-op pool. Both pools
// spin while they wait for work, so giving both of them all the cores
// oversubscribes the machine: mini preset, one rank on 2 cores, fp32: 18.5
// samples/s with 2+2 threads, 26.3 with 1+1, 28.2 with 2 ATen + 1 OpenBLAS,
// 30.6 with 1 ATen + 2 OpenBLAS; bf16: 67.4 (2+2), 65.0 (2+1), 45.5 (1+2).
// So fp32 gives the cores to OpenBLAS and bf16 to ATen, the other pool
// gets one thread, and ranks sharing a machine split its cores.

// trainer is one rank's training run.
type trainer struct {
	cfg      *Config
	env      Env
	th       *torchrt.Thread
	tok      Tokenizer
	data     *splits
	model    *bert.Model
	eng      *engine
	train    *shard.Loader
	state    TrainerState
	total    int // optimizer steps in the run
	perEp    int // optimizer steps per epoch
	accum    int // micro-batches per optimizer step (Config.gradAccum)
	rec      recorder
	start    time.Time
	seen     int64 // samples trained on by all ranks, this process
	last     *metrics.Summary
	resume   string
	damaged  []string      // checkpoints --resume auto skipped (rank 0): never pruned, never counted
	lastWait time.Duration // the loader's cumulative wait at the last step
	snap     *snapshot     // the state after the last optimizer step (Note [Recovery in place])
	device   gotch.Device  // Note [Devices and backends]
	obj      objective     // classification or masked LM (objective.go)
}

func (t *trainer) rank() int { return t.env.ID.Rank }

func (t *trainer) world() int { return t.env.Comm.Size() }

func newTrainer(ctx context.Context, cfg *Config, env Env, tok Tokenizer, data *splits, th *torchrt.Thread) (*trainer, error) {
	t := &trainer{cfg: cfg, env: env, tok: tok, data: data, th: th, start: time.Now(), device: env.Plan.Device}
	ok := false
	defer func() {
		if !ok {
			t.close()
		}
	}()
	if err := useDevice(t.device); err != nil {
		return nil, err
	}
	if t.rank() == 0 {
		env.Log.Info("plan", "plan", env.Plan.String(), "cuda_devices", torchrt.CUDADevices(), "libtorch", torchrt.Version())
		for _, k := range slices.Sorted(maps.Keys(env.Plan.Why)) {
			env.Log.Debug("plan: why", "setting", k, "reason", env.Plan.Why[k])
		}
	}
	var err error
	if t.obj, err = newObjective(cfg, tok); err != nil {
		return nil, err
	}
	if err := t.buildModel(); err != nil {
		return nil, err
	}
	if err := t.buildLoader(); err != nil {
		return nil, err
	}
	ck, err := t.findResume(ctx)
	if err != nil {
		return nil, err
	}
	if ck != nil && t.rank() == 0 {
		if _, err := t.model.LoadState(ck.Weights, bert.LoadOptions{}); err != nil {
			return nil, fmt.Errorf("ddp: resuming from %s: %w", ck.Dir, err)
		}
	}
	eo := t.engineOptions()
	eo.Objective, eo.Replacement = t.obj, t.replacing()
	if eo.Loss.ClassWeights, err = classWeights(cfg.ClassWeights, t.data.Train, t.data.Labels.Len()); err != nil {
		return nil, err
	}
	if eo.Loss.ClassWeights != nil && t.rank() == 0 {
		env.Log.Info("class weights", "weights", eo.Loss.ClassWeights, "labels", t.data.Labels.Names())
	}
	if t.eng, err = newEngine(ctx, t.model, env.Comm, eo); err != nil {
		return nil, err
	}
	t.eng.onBucket = func(i int) { t.heartbeat(control.PhaseAllReduce, i) }
	if err := t.restore(ctx, ck); err != nil {
		return nil, err
	}
	t.rec = nopRecorder{}
	if t.rank() == 0 {
		var rec *fileRecorder // not t.rec: a nil *fileRecorder in the interface is not nil
		if rec, err = newRecorder(cfg, env.Stderr, t.total, t.state.Step, t.perEp, t.world()); err == nil {
			t.rec = rec
		}
	}
	if err := t.agreeAtStart(ctx, err); err != nil { // every rank stops with rank 0's reason
		return nil, err
	}
	if t.resume != "" && t.rank() == 0 {
		env.Log.Info("resuming", "from", t.resume, "step", t.state.Step, "epoch", fmt.Sprintf("%.2f", t.epochFloat()))
		t.rec.event(t.state.Step, "resume", map[string]any{"from": t.resume})
	}
	ok = true
	return t, nil
}

func (t *trainer) buildModel() error {
	cfg := t.cfg
	labels := t.data.Labels.Names()
	adjust := func(c *bert.Config) {
		c.Labels = labels
		c.Pooling = cfg.Pooling
		t.obj.configure(c)
	}
	var err error
	if cfg.Model != "" {
		var rep bert.LoadReport
		t.model, rep, err = bert.LoadPretrained(cfg.Model, t.device, adjust, bert.LoadOptions{ReinitMismatchedHead: cfg.IgnoreMismatchedSizes})
		if err != nil {
			return err
		}
		t.logLoad(rep)
	} else {
		c, err := bert.Preset(cfg.Preset, t.tok.VocabSize(), labels)
		if err != nil {
			return err
		}
		c.ModelType = cfg.ModelType
		adjust(&c)
		if t.model, err = bert.New(c, t.device); err != nil {
			return err
		}
	}
	if mp := t.model.Config.MaxPositions; cfg.MaxLength > mp {
		return fmt.Errorf("ddp: --max-length %d exceeds the model's %d positions (max_position_embeddings)", cfg.MaxLength, mp)
	}
	if err := t.applyFreezing(); err != nil {
		return err
	}
	if t.rank() == 0 {
		total, trainable := paramCounts(t.model.Params())
		t.env.Log.Info("parameters", "total", total, "trainable", trainable, "frozen", total-trainable)
	}
	return nil
}

// paramCounts counts the elements of all and of the trainable parameters.
func paramCounts(ps []bert.Param) (total, trainable int64) {
	for _, p := range ps {
		n := numel(p.Shape)
		total += n
		if p.Trainable {
			trainable += n
		}
	}
	return total, trainable
}

func (t *trainer) logLoad(rep bert.LoadReport) {
	if t.rank() != 0 {
		return
	}
	t.env.Log.Info("loaded weights", "file", rep.File, "tensors", rep.Loaded, "renamed", rep.Renamed, "ignored", len(rep.Ignored), "tied", len(rep.Tied))
	if len(rep.Ignored) > 0 {
		t.env.Log.Info("not used by this model (ignored)", "tensors", rep.Ignored)
	}
	if len(rep.Initialised) > 0 {
		t.env.Log.Warn("newly initialised (not in the checkpoint): train before use", "tensors", rep.Initialised)
	}
}

func (t *trainer) applyFreezing() error {
	switch {
	case t.cfg.TrainOnly != "":
		sel, err := bert.ParseSelector(t.cfg.TrainOnly)
		if err != nil {
			return err
		}
		return t.model.SetTrainable(sel.Match)
	case t.cfg.FreezeBase:
		return t.model.FreezeBase()
	}
	return nil
}

func (t *trainer) buildLoader() error {
	var err error
	t.train, err = shard.NewLoader(t.data.Train, t.loaderConfig(t.cfg.BatchSize, true))
	if err != nil {
		return err
	}
	if t.accum, err = t.cfg.gradAccum(t.world()); err != nil {
		return err
	}
	if t.cfg.GlobalBatch > 0 && t.rank() == 0 {
		t.env.Log.Info("global batch", "samples", t.cfg.GlobalBatch, "batch_size", t.cfg.BatchSize, "ranks", t.world(), "grad_accum", t.accum)
	}
	batches := t.train.BatchesPerEpoch()
	t.perEp = (batches + t.accum - 1) / t.accum
	t.total = int(math.Ceil(t.cfg.Epochs * float64(t.perEp)))
	if t.cfg.MaxSteps > 0 {
		t.total = t.cfg.MaxSteps
	}
	if t.total < 1 || batches < 1 {
		return fmt.Errorf("ddp: %s has %d rows: too few for %d ranks x batch size %d", t.cfg.Train, t.data.Train.Len(), t.world(), t.cfg.BatchSize)
	}
	return nil
}

func (t *trainer) loaderConfig(batch int, training bool) shard.LoaderConfig {
	lc := shard.DefaultLoaderConfig()
	lc.Rank, lc.Size, lc.BatchSize = t.rank(), t.world(), batch
	lc.Seed = uint64(t.cfg.Seed)
	lc.Shuffle = training
	lc.GroupByLength = training && t.cfg.GroupByLength
	lc.PadID = int64(t.tok.PAD())
	lc.Mask = t.obj.masking()
	lc.Logger = t.env.Log
	return lc
}

func (t *trainer) engineOptions() engineOptions {
	c := t.cfg
	warm := c.WarmupSteps
	if warm == 0 && c.WarmupRatio > 0 {
		warm = int(math.Ceil(c.WarmupRatio * float64(t.total)))
	}
	return engineOptions{
		Optim: optim.Config{Kind: optim.Kind(c.Optimizer), Beta1: c.AdamBeta1, Beta2: c.AdamBeta2, Eps: c.AdamEps,
			WeightDecay: c.WeightDecay, Momentum: c.Momentum, Threads: coresOf(c.Threads, t.env.ID.LocalWorldSize)},
		Sched:           optim.Schedule{Kind: optim.ScheduleKind(c.Scheduler), Warmup: warm, Total: t.total},
		LR:              c.LR,
		Clip:            c.MaxGradNorm,
		BF16:            c.Precision == "bf16",
		Seed:            c.Seed,
		FirstBytes:      int(c.FirstBucketMB * (1 << 20)),
		CapBytes:        int(c.BucketCapMB * (1 << 20)),
		DenseEmbeddings: !t.env.Plan.Sparse,
		Flat:            t.env.Plan.Flat,
		Wire16:          t.env.Plan.Convert,
		NoOverlap:       !t.env.Plan.Overlap,
		LazyEmbeddings:  c.LazyEmbeddings,
		WireBytes:       t.env.Plan.Wire.Size(),
		Compress:        t.env.Plan.Compress,
		Loss:            bert.LossOptions{LabelSmoothing: c.LabelSmoothing},
	}
}

func (t *trainer) close() {
	if t.rec != nil {
		if err := t.rec.close(); err != nil {
			t.env.Log.Warn("the run's logs are incomplete", "err", err)
		}
	}
	if t.train != nil {
		t.train.Close()
	}
	if t.eng != nil {
		t.eng.close()
	}
	t.closeRecovery()
	if t.model != nil {
		t.model.Drop()
	}
}

func (t *trainer) heartbeat(p control.Phase, bucket int) {
	t.env.Reporter.Heartbeat(control.Heartbeat{Rank: t.rank(), Step: t.state.Step, Epoch: t.state.Epoch, Phase: p, Bucket: bucket,
		CollSeq: t.collSeq(), Time: time.Now()})
}

// collSeq is the number of the last collective the rank started, when its
// Comm numbers them (the launcher's stall report compares it across ranks).
func (t *trainer) collSeq() uint64 {
	if s, ok := t.env.Comm.(collective.Sequencer); ok {
		return s.Seq()
	}
	return 0
}

// ErrOutputInUse means a fresh run was pointed at an output folder that
// holds another run's checkpoints or logs.
var ErrOutputInUse = errors.New("ddp: output folder in use")

// ErrStopped is returned (with the result so far) after a clean stop
// requested through Env.Stop or by the launcher: a checkpoint was written.
var ErrStopped = errors.New("ddp: stopped on request; a checkpoint was written")

func (t *trainer) checkpointPath(step int) string {
	return filepath.Join(t.cfg.Output, fmt.Sprintf("%s%d", checkpointPrefix, step))
}
