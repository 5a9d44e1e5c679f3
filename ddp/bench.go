package ddp

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"

	"github.com/sugarme/gotch"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/ddp/optim"
	"github.com/ddprun/ddprun/internal/rankenv"
	"github.com/ddprun/ddprun/internal/torchrt"
	"github.com/ddprun/ddprun/shard"
)

// StepBench describes a training-step benchmark: forward, backward and
// AdamW step of a model on random tokens, as the trainer runs them.
type StepBench struct {
	Model           bert.Config
	BF16            bool
	Batch, Seq      int
	Warmup, Steps   int
	Threads         int    // 0: the cores split between the pools as training splits them (threadPlan)
	BLASThreads     int    // 0: as Threads, or with Threads 0 as training gives them
	DefaultMalloc   bool   // leave glibc malloc alone (torchrt Note [Allocator])
	DenseEmbeddings bool   // PyTorch's dense word-embedding gradient (Note [Sparse embedding gradients])
	Flat            bool   // the flat optimizer (Note [Optimizer implementations])
	Device          string // --device: auto|cpu|cuda|cuda:N; "" = cpu (auto: as train resolves it)
}

// StepBenchResult is what a StepBench measured.
type StepBenchResult struct {
	SamplesPerSec float64       `json:"samples_per_sec"`
	StepTime      time.Duration `json:"step_ns"`
	PeakRSSMB     float64       `json:"peak_rss_mb"`
	MinorFaults   float64       `json:"minor_faults_per_step"`
	Compute       time.Duration `json:"compute_ns"`   // forward + backward, per step
	Sync          time.Duration `json:"sync_ns"`      // reading and averaging gradients, per step
	Optimizer     time.Duration `json:"optimizer_ns"` // clipping + optimizer step, per step
	Threads       int           `json:"threads"`
	OptimizerImpl string        `json:"optimizer_impl"` // host or flat, as the engine chose it
	Libtorch      string        `json:"libtorch"`
	Device        string        `json:"device"`
}

// RunStepBench runs the benchmark on a compute thread.
func RunStepBench(b StepBench) (StepBenchResult, error) {
	var res StepBenchResult
	err := torchrt.Run(b.runtime(), func(th *torchrt.Thread) error {
		dev := gotch.CPU
		if b.Device != "" {
			var err error
			if dev, err = ResolveDevice(b.Device, rankenv.Single(), torchrt.CUDADevices()); err != nil {
				return err
			}
			if err := useDevice(dev); err != nil {
				return err
			}
		}
		m, err := bert.New(b.Model, dev)
		if err != nil {
			return err
		}
		defer m.Drop()
		opts := engineOptions{Optim: optim.Config{Kind: optim.AdamW, WeightDecay: 0.01, Threads: torchrt.NumThreads()},
			Sched: optim.Schedule{Kind: optim.Constant}, LR: 1e-4, Clip: 1, BF16: b.BF16, CapBytes: 25 << 20, FirstBytes: 1 << 20,
			DenseEmbeddings: b.DenseEmbeddings, Flat: b.Flat}
		e, err := newEngine(context.Background(), m, nil, opts)
		if err != nil {
			return err
		}
		defer e.close()
		batch := randomBatch(b.Batch, b.Seq, b.Model.VocabSize, b.Model.NumLabels())
		for range b.Warmup {
			if _, err := e.trainStep(context.Background(), []*shard.Batch{batch}); err != nil {
				return err
			}
			th.Boundary()
		}
		faults0 := minorFaults()
		start := time.Now()
		for range b.Steps {
			r, err := e.trainStep(context.Background(), []*shard.Batch{batch})
			if err != nil {
				return err
			}
			res.Compute += r.Compute / time.Duration(b.Steps)
			res.Sync += r.AllReduce / time.Duration(b.Steps)
			res.Optimizer += r.Optimizer / time.Duration(b.Steps)
			th.Boundary()
		}
		el := time.Since(start)
		res.SamplesPerSec, res.StepTime = 0, 0
		res2 := StepBenchResult{SamplesPerSec: float64(b.Batch*b.Steps) / el.Seconds(), StepTime: el / time.Duration(b.Steps),
			MinorFaults: float64(minorFaults()-faults0) / float64(b.Steps), PeakRSSMB: peakRSSMB(), Threads: torchrt.NumThreads(), Libtorch: torchrt.Version(),
			Device: deviceName(dev), OptimizerImpl: optimizerImpl(b.Flat, dev)}
		res2.Compute, res2.Sync, res2.Optimizer = res.Compute, res.Sync, res.Optimizer
		res = res2
		return nil
	})
	return res, err
}

// runtime is the benchmark's compute thread: b's thread counts, or with
// Threads 0 a single rank's plan as training makes it (Note [Thread
// pools]).
func (b StepBench) runtime() torchrt.Config {
	rt := torchrt.Config{Threads: b.Threads, BLASThreads: b.BLASThreads}
	if b.Threads == 0 {
		precision := "fp32"
		if b.BF16 {
			precision = "bf16"
		}
		rt = threadPlan(0, 1, precision)
		if b.BLASThreads > 0 {
			rt.BLASThreads = b.BLASThreads
		}
	}
	rt.Seed, rt.DefaultMalloc = 1, b.DefaultMalloc
	return rt
}

// optimizerImpl names the optimizer the engine runs: flat when asked for
// or on CUDA (Note [Optimizer implementations]), else host.
func optimizerImpl(flat bool, dev gotch.Device) string {
	if flat || dev.IsCuda() {
		return "flat"
	}
	return "host"
}

func randomBatch(b, t, vocab, labels int) *shard.Batch {
	r := rand.New(rand.NewPCG(1, 2))
	out := &shard.Batch{B: b, T: t}
	for range b * t {
		out.IDs = append(out.IDs, int64(1+r.IntN(vocab-1)))
		out.Mask = append(out.Mask, 1)
		out.TypeIDs = append(out.TypeIDs, 0)
	}
	for range b {
		out.Labels = append(out.Labels, int64(r.IntN(labels)))
	}
	return out
}

func minorFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Minflt
}

func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}

// String formats the result for humans.
func (r StepBenchResult) String() string {
	return fmt.Sprintf("%s: %.1f samples/s, %v/step (compute %v, sync %v, optimizer %v), peak RSS %.0f MB, %.0f minor faults/step",
		r.Device, r.SamplesPerSec, r.StepTime.Round(time.Millisecond), r.Compute.Round(time.Millisecond), r.Sync.Round(time.Millisecond),
		r.Optimizer.Round(time.Millisecond), r.PeakRSSMB, r.MinorFaults)
}
