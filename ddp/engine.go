package ddp

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/sugarme/gotch/ts"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/ddp/optim"
	"github.com/ddprun/ddprun/internal/torchrt"
	"github.com/ddprun/ddprun/shard"
)

// engine is one rank's replica: the model, its gradient buckets, the
// optimizer and schedule, and the communicator. All methods run on the
// compute thread.
type engine struct {
	m        *bert.Model
	red      *reducer
	opt      optimizer       // Note [Optimizer implementations]
	comm     collective.Comm // collective.Solo for one rank
	sched    optim.Schedule
	lr       float64
	clip     float64
	bf16     bool
	seed     int64
	rank     int
	step     int // optimizer steps done
	onBucket func(int)
	loss     bert.LossOptions
	obj      objective // what a step minimises (objective.go)
}

// stepResult is what one optimizer step reports.
type stepResult struct {
	Loss      float64 // mean over this rank's micro-batches
	GradNorm  float64 // global norm of the averaged gradients, before clipping
	LR        float64
	Samples   int           // rows this rank trained on (repeated rows included)
	Tokens    int           // non-padding tokens
	Compute   time.Duration // forward + backward
	Forward   time.Duration // of which forward and loss
	DataWait  time.Duration // waiting for the loader before the step (set by the trainer)
	AllReduce time.Duration
	Optimizer time.Duration
	WireBytes int64 // gradient bytes this rank sent (estimated for the ring: 2(n-1)/n of each bucket)
}

// Note [Dropout seeds]: libtorch's generator state cannot be read through
// gotch, so instead of saving it the engine reseeds it before every step
// from (seed, rank, step). Dropout masks are then a pure function of the
// step, a resumed run draws the same masks as an uninterrupted one, and
// ranks draw different masks, as they should (nanoGPT's seed_offset).

func (e *engine) stepSeed() int64 { return e.seed + 1_000_003*int64(e.rank) + 7919*int64(e.step) }

// trainStep runs forward and backward over the micro-batches (gradient
// accumulation: the gradients add up in the buckets, each loss scaled by
// 1/len(micro)), averages the gradients over the ranks, clips them and
// steps the optimizer.
func (e *engine) trainStep(ctx context.Context, micro []*shard.Batch) (stepResult, error) {
	res := stepResult{LR: e.sched.LR(e.lr, e.step)}
	torchrt.ManualSeed(e.stepSeed())
	if err := e.red.zero(e.m); err != nil {
		return res, err
	}
	weights, werr := e.obj.weights(ctx, e.comm, micro)
	if werr != nil {
		return res, fmt.Errorf("ddp: step %d: %w", e.step, werr)
	}
	t0 := time.Now()
	sent := e.red.bytesSent() // before backward: with overlap, buckets are sent during it
	e.red.beginStep(e.step)
	for i, b := range micro {
		last := i == len(micro)-1
		if last {
			e.red.startOverlap(ctx, e.comm, e.onBucket)
		}
		loss, err := e.backward(b, weights[i], &res)
		if err != nil {
			if last {
				e.red.finishOverlap() // the step failed anyway; let the goroutine end
			}
			return res, fmt.Errorf("ddp: step %d: %w", e.step, err)
		}
		res.Loss += loss * weights[i]
		res.Samples += b.B
		res.Tokens += countTokens(b.Mask)
	}
	t1 := time.Now()
	if err := e.red.sync(ctx, e.m, e.comm, e.onBucket); err != nil {
		return res, fmt.Errorf("ddp: step %d: %w", e.step, err)
	}
	res.WireBytes = e.red.bytesSent() - sent
	// The logged loss is the global batch's. It is averaged here, before
	// the optimizer step, so that no collective of a step follows it (Note
	// [Recovery in place]).
	var err error
	if res.Loss, err = meanOverRanks(ctx, e.comm, res.Loss); err != nil {
		return res, fmt.Errorf("ddp: step %d: averaging the loss: %w", e.step, err)
	}
	t2 := time.Now()
	if res.GradNorm, err = e.opt.clipGradNorm(e.clip); err != nil {
		return res, fmt.Errorf("ddp: step %d: %w", e.step, err)
	}
	if math.IsNaN(res.GradNorm) || math.IsInf(res.GradNorm, 0) {
		return res, fmt.Errorf("ddp: step %d: the gradient norm is %v (loss %v): training diverged; lower --lr or use --max-grad-norm", e.step, res.GradNorm, res.Loss)
	}
	if err := e.opt.step(res.LR); err != nil {
		return res, fmt.Errorf("ddp: step %d: %w", e.step, err)
	}
	e.step++
	res.Compute, res.AllReduce, res.Optimizer = t1.Sub(t0), t2.Sub(t1), time.Since(t2)
	return res, nil
}

func countTokens(mask []int64) int {
	n := 0
	for _, m := range mask {
		n += int(m)
	}
	return n
}

func input(b *shard.Batch) bert.Input {
	return bert.Input{IDs: b.IDs, TypeIDs: b.TypeIDs, Mask: b.Mask, B: b.B, T: b.T}
}

// backward runs one micro-batch's forward and backward pass, its loss
// (the objective's) scaled by scale, and returns the unscaled loss.
// Autocast is on only around the forward pass: leaving it clears its cache
// of bf16 weight copies, which the optimizer step would make stale.
func (e *engine) backward(b *shard.Batch, scale float64, res *stepResult) (float64, error) {
	start := time.Now()
	loss, err := e.obj.loss(e, b)
	if err != nil {
		return 0, err
	}
	defer loss.MustDrop()
	value, err := scalarValue(loss)
	if err != nil {
		return 0, err
	}
	res.Forward += time.Since(start)
	s := ts.FloatScalar(scale)
	defer s.MustDrop()
	scaled, err := loss.MulScalar(s, false)
	if err != nil {
		return 0, err
	}
	defer scaled.MustDrop()
	if err := scaled.Backward(); err != nil {
		return 0, fmt.Errorf("backward: %w", err)
	}
	return value, nil
}

func (e *engine) forward(b *shard.Batch, train bool) (*ts.Tensor, error) {
	if e.bf16 {
		cuda := e.m.Device().IsCuda()
		if err := torchrt.Autocast(true, cuda); err != nil {
			return nil, err
		}
		defer torchrt.Autocast(false, cuda)
	}
	return e.m.Forward(input(b), train)
}

// evaluate runs the model over a loader's epoch (no dropout, no gradients)
// and adds every non-repeated row to counts. onBatch, if not nil, sees every
// batch's probabilities [B][K] (predictions).
func (e *engine) evaluate(ctx context.Context, ld *shard.Loader, counts *metrics.Counts, onBatch func(*shard.Batch, [][]float64)) error {
	prev := torchrt.SetGradEnabled(false)
	defer torchrt.SetGradEnabled(prev)
	for {
		b, err := ld.Next(ctx)
		if err != nil {
			if isEOF(err) {
				return nil
			}
			return err
		}
		if err := e.evalBatch(b, counts, onBatch); err != nil {
			return err
		}
	}
}

func (e *engine) evalBatch(b *shard.Batch, counts *metrics.Counts, onBatch func(*shard.Batch, [][]float64)) error {
	logits, err := e.forward(b, false)
	if err != nil {
		return err
	}
	h, err := bert.ToHost(logits)
	logits.MustDrop()
	if err != nil {
		return err
	}
	k := e.m.Config.NumLabels()
	probs := make([][]float64, b.B)
	for i := range b.B {
		row := h.Data[i*k : (i+1)*k]
		p, pred := softmax(row)
		probs[i] = p
		if counts == nil || (b.Repeated != nil && b.Repeated[i]) || b.Labels[i] < 0 {
			continue
		}
		counts.Add(pred, int(b.Labels[i]), -math.Log(math.Max(p[b.Labels[i]], 1e-300)))
	}
	if onBatch != nil {
		onBatch(b, probs)
	}
	return nil
}

// softmax returns the probabilities of a row of logits (in float64, with
// the max subtracted) and the index of the largest.
func softmax(row []float32) ([]float64, int) {
	best, mx := 0, math.Inf(-1)
	for i, v := range row {
		if float64(v) > mx {
			best, mx = i, float64(v)
		}
	}
	p := make([]float64, len(row))
	var sum float64
	for i, v := range row {
		p[i] = math.Exp(float64(v) - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p, best
}

// engineOptions configure an engine.
type engineOptions struct {
	Optim                optim.Config
	Sched                optim.Schedule
	LR, Clip             float64
	BF16                 bool
	Seed                 int64
	FirstBytes, CapBytes int
	// NoOverlap reduces the gradient buckets after backward instead of
	// behind it (Note [Overlap]).
	NoOverlap bool
	// DenseEmbeddings all-reduces the word-embedding gradient densely
	// instead of Note [Sparse embedding gradients] (with several ranks).
	DenseEmbeddings bool
	WireBytes       int // bytes per element of the dense all-reduce on the wire
	// LazyEmbeddings updates only the word-embedding rows a step touched
	// (optim's Note [Lazy rows]); needs the sparse path.
	LazyEmbeddings bool
	// Flat selects the flat optimizer (Note [Optimizer implementations]);
	// models off the CPU always use it. It implies dense embeddings.
	Flat bool
	// Wire16 converts buckets to bf16 before the all-reduce (Note [Wire
	// conversion]), for backends that do not convert themselves.
	Wire16 bool
	// Loss sets class weights and label smoothing of the training loss
	// (evaluation reports the plain loss).
	Loss bert.LossOptions
	// Objective is what a step minimises; nil: classification (classify).
	Objective objective
	// Replacement skips the replica check and the parameter broadcast:
	// the rank replaces a lost one, and the survivors, who are past that,
	// send it their state (Note [Recovery in place]).
	Replacement bool
	// Compress compresses the dense buckets with several ranks (Note
	// [PowerSGD]), seeded by Seed, from Compress.startStep(Sched.Warmup).
	Compress Compression
}

// Note [Optimizer implementations]: two optimizers implement the same
// update. The host one (package optim) is a fused C kernel per parameter
// over host memory: one pass, vectorised, the CPU default. The flat one
// (package devopt) keeps each bucket's parameters as views of one weight
// buffer (Note [Flat parameters]) and steps a bucket with a few libtorch
// ops on whatever device it lives on: the only choice on CUDA, optional on
// the CPU (--optimizer-impl flat). Both equal PyTorch's torch.optim to
// float rounding. The flat one needs dense word-embedding gradients.

// newEngine builds the replica around a model: checks that every rank has
// the same parameters, copies rank 0's values to all, and makes the
// gradient buckets.
func newEngine(ctx context.Context, m *bert.Model, comm collective.Comm, o engineOptions) (*engine, error) {
	if comm == nil {
		comm = collective.Solo()
	}
	e := &engine{m: m, comm: comm, rank: comm.Rank(), sched: o.Sched, lr: o.LR, clip: o.Clip, bf16: o.BF16, seed: o.Seed, loss: o.Loss}
	if comm.Size() > 1 && !o.Replacement {
		if err := checkReplicas(ctx, comm, m); err != nil {
			return nil, err
		}
		if err := broadcastParams(ctx, comm, m); err != nil {
			return nil, err
		}
	}
	if e.obj = o.Objective; e.obj == nil {
		e.obj = classify{}
	}
	var err error
	flat := o.Flat || m.Device().IsCuda()
	if flat && o.LazyEmbeddings {
		return nil, fmt.Errorf("ddp: --lazy-embeddings needs the host optimizer on the CPU (sparse embedding gradients); it does not apply to the flat optimizer")
	}
	sparse := !o.DenseEmbeddings && !flat
	if e.red, err = newReducer(m, o.FirstBytes, o.CapBytes, sparse, flat); err != nil {
		return nil, err
	}
	e.red.wireSize = max(o.WireBytes, 2)
	e.red.wire16 = o.Wire16 && comm.Size() > 1
	if e.opt, err = newOptimizer(o.Optim, m, e.red, flat, o.LazyEmbeddings); err != nil {
		e.red.drop()
		return nil, err
	}
	if o.Compress.On() && comm.Size() > 1 {
		if err := e.red.attachPowerSGD(m, o.Compress, o.Compress.startStep(o.Sched.Warmup), o.Seed); err != nil {
			e.close()
			return nil, err
		}
	}
	if e.red.sparse != nil {
		e.red.sparse.wireSize = 4
		if comm.Size() > 1 && o.WireBytes == 2 {
			e.red.sparse.wireSize = 2
		}
	}
	// Overlap runs all-reduces on another goroutine: not with conversions
	// that call libtorch, and not on CUDA, where the collectives are ordered
	// on the compute stream anyway.
	if comm.Size() > 1 && !o.NoOverlap && len(e.red.buckets) > 0 && !e.red.wire16 && !m.Device().IsCuda() {
		if e.red.overlap, err = newOverlapper(e.red, m); err != nil {
			e.close()
			return nil, err
		}
	}
	return e, nil
}

func (e *engine) close() {
	e.opt.close()
	e.red.drop()
}

// scalarValue reads a one-element tensor. (gotch's Float64Values leaks the
// float64 copy it makes.)
func scalarValue(t *ts.Tensor) (float64, error) {
	h, err := bert.ToHost(t)
	if err != nil {
		return 0, err
	}
	return float64(h.Data[0]), nil
}
