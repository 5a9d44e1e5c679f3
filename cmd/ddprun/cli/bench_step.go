package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/ddp"
	"github.com/ddprun/ddprun/internal/flagtypes"
)

func init() { benchmarks["step"] = runBenchStep }

// runBenchStep is `ddprun bench step`: one rank's training step (forward,
// backward, clipping, optimizer) on random tokens, as the trainer runs it.
// bench/bert_step.sh runs it beside PyTorch eager (bench/bert_step.py).
func runBenchStep(ctx context.Context, o IO, args []string) error {
	fs := flag.NewFlagSet("bench step", flag.ContinueOnError)
	var precision, device, impl string
	var threads int
	preset := fs.String("preset", "tiny", "model size: micro|tiny|mini|small|base (bert-base-uncased vocabulary, 2 labels)")
	flagtypes.PrecisionVar(fs, &precision)
	batch := fs.Int("batch-size", 16, "rows per step")
	seq := fs.Int("max-length", 128, "tokens per row (every row full)")
	warmup := fs.Int("warmup", 3, "untimed steps")
	steps := fs.Int("steps", 20, "timed steps")
	flagtypes.ThreadsVar(fs, &threads) // 0: as train splits them (ddp Note [Thread pools])
	blas := fs.Int("blas-threads", 0, "OpenBLAS threads (0: as --threads, or with --threads 0 as train gives them)")
	defaultMalloc := fs.Bool("default-malloc", false, "leave glibc malloc at its defaults (torchrt Note [Allocator])")
	dense := fs.Bool("dense-embeddings", false, "dense word-embedding gradient, as PyTorch")
	flagtypes.OptimizerImplVar(fs, &impl) // flat implies --dense-embeddings (ddp Note [Optimizer implementations])
	flagtypes.DeviceVar(fs, &device)
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to `FILE`")
	asJSON := fs.Bool("json", false, "print one JSON object")
	setUsage(fs, "Usage: ddprun bench step [flags]\n\nTime one rank's training step on random tokens.\n\nFlags:\n")
	if done, err := parseFlags(fs, args, o); done {
		return err
	}
	cfg, err := bert.Preset(*preset, 30522, []string{"a", "b"})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := ddp.RunStepBench(ddp.StepBench{Model: cfg, BF16: precision == "bf16", Batch: *batch, Seq: *seq,
		Warmup: *warmup, Steps: *steps, Threads: threads, BLASThreads: *blas, DefaultMalloc: *defaultMalloc,
		DenseEmbeddings: *dense, Flat: impl == "flat", Device: device})
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintf(o.Stdout, "%s %s, batch %d x %d, %s optimizer: %v\n", *preset, precision, *batch, *seq, res.OptimizerImpl, res)
		return nil
	}
	return json.NewEncoder(o.Stdout).Encode(map[string]any{"impl": "ddprun", "preset": *preset, "precision": precision,
		"samples_per_sec": res.SamplesPerSec, "compute_ms": ms(res.Compute.Seconds()), "sync_ms": ms(res.Sync.Seconds()),
		"optimizer_ms": ms(res.Optimizer.Seconds()), "peak_rss_mb": res.PeakRSSMB, "minor_faults_per_step": res.MinorFaults,
		"threads": res.Threads, "optimizer_impl": res.OptimizerImpl, "device": res.Device, "libtorch": res.Libtorch})
}

func ms(s float64) float64 { return s * 1e3 }
