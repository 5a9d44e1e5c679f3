// Command bertstep measures ddprun's training step (forward, backward,
// AdamW) on random tokens and prints one JSON line; bench/bert_step.sh runs
// it beside PyTorch eager (bench/bert_step.py) on the same model.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/ddp"
)

func main() {
	preset := flag.String("preset", "tiny", "tiny|mini|small|base")
	precision := flag.String("precision", "fp32", "fp32|bf16")
	batch := flag.Int("batch", 16, "batch size")
	seq := flag.Int("seq", 128, "sequence length")
	warmup := flag.Int("warmup", 3, "untimed steps")
	steps := flag.Int("steps", 20, "timed steps")
	threads := flag.Int("threads", 1, "intra-op threads")
	blas := flag.Int("blas-threads", 0, "OpenBLAS threads (0: as --threads)")
	defaultMalloc := flag.Bool("default-malloc", false, "leave glibc malloc at its defaults")
	dense := flag.Bool("dense-embeddings", false, "dense word-embedding gradient, as PyTorch")
	impl := flag.String("optimizer-impl", "host", "host|flat (ddp Note [Optimizer implementations])")
	device := flag.String("device", "cpu", "cpu|cuda|cuda:N")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	cfg, err := bert.Preset(*preset, 30522, []string{"a", "b"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	res, err := ddp.RunStepBench(ddp.StepBench{Model: cfg, BF16: *precision == "bf16", Batch: *batch, Seq: *seq,
		Warmup: *warmup, Steps: *steps, Threads: *threads, BLASThreads: *blas, DefaultMalloc: *defaultMalloc, DenseEmbeddings: *dense,
		Flat: *impl == "flat", Device: *device})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"impl": "ddprun", "preset": *preset, "precision": *precision,
		"samples_per_sec": res.SamplesPerSec, "compute_ms": res.Compute.Seconds() * 1e3, "sync_ms": res.Sync.Seconds() * 1e3, "optimizer_ms": res.Optimizer.Seconds() * 1e3, "peak_rss_mb": res.PeakRSSMB, "minor_faults_per_step": res.MinorFaults, "threads": res.Threads,
		"optimizer_impl": *impl, "device": res.Device})
}
