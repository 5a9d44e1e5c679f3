package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/sugarme/gotch"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/nccl"
	"github.com/ddprun/ddprun/collective/ring"
	"github.com/ddprun/ddprun/ddp"
	"github.com/ddprun/ddprun/internal/flagtypes"
	"github.com/ddprun/ddprun/internal/rankenv"
	"github.com/ddprun/ddprun/internal/torchrt"
)

func init() {
	Register(Command{Name: "doctor", Summary: "check this machine, and under a launcher the job's ranks and links, before training", Run: runDoctor,
		Check: func(o IO, args []string) (bool, error) {
			_, done, err := parseDoctor(o, args)
			return done, err
		}})
}

// doctorFlags are doctor's flags.
type doctorFlags struct {
	cfg      ddp.Config // Device and Backend
	output   string
	maxBytes byteSize
	iters    int
	json     bool
}

// parseDoctor parses doctor's flags; done is set for --help (printed to
// o.Stdout) and for errors.
func parseDoctor(o IO, args []string) (f *doctorFlags, done bool, err error) {
	f = &doctorFlags{cfg: ddp.DefaultConfig(), maxBytes: 64 << 20}
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	flagtypes.DeviceVar(fs, &f.cfg.Device) // as train chooses it
	fs.StringVar(&f.cfg.Backend, "backend", f.cfg.Backend, "backend as ddprun train --backend would choose it: auto|ring|nccl")
	fs.StringVar(&f.output, "output", "", "check that this output `DIR` is writable and has room")
	fs.Var(&f.maxBytes, "max-bytes", "largest all-reduce `SIZE` probed (1M, 4M, 16M, ... up to this; suffixes K, M, G)")
	fs.IntVar(&f.iters, "iters", 5, "timed all-reduces per size")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON")
	setUsage(fs, "Usage: ddprun [launch flags] doctor [flags]\n\nCheck this machine, and under the launcher every rank and link, before training.\n\nFlags:\n")
	done, err = parseFlags(fs, args, o)
	return f, done, err
}

// check is one line of the doctor's report.
type check struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok, info, warn or fail
	Detail string `json:"detail"`
}

type doctorReport struct {
	Rank      int             `json:"rank"`
	WorldSize int             `json:"world_size"`
	Host      string          `json:"host"`
	Checks    []check         `json:"checks"`
	Placement []ddp.Placement `json:"placement,omitempty"`
	Links     []ddp.LinkProbe `json:"allreduce,omitempty"`
}

func (r *doctorReport) add(name, status, format string, a ...any) {
	r.Checks = append(r.Checks, check{Name: name, Status: status, Detail: fmt.Sprintf(format, a...)})
}

func (r *doctorReport) failed() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == "fail" {
			out = append(out, c.Name)
		}
	}
	return out
}

// runDoctor is `ddprun doctor`: alone it checks this machine (libtorch,
// threads, CPU features, devices, NCCL, the output folder); under the
// launcher (`ddprun --nproc 2 doctor`, `--nodes ...`) every rank also joins
// the job's backend, and the ranks compare where they run (two ranks on one
// GPU fail) and check and time float32 all-reduces on the device the
// trainer would use. It exits 1 when a check fails.
func runDoctor(ctx context.Context, o IO, args []string) error {
	f, done, err := parseDoctor(o, args)
	if done {
		return err
	}
	id, err := rankenv.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	rep := &doctorReport{Rank: id.Rank, WorldSize: id.WorldSize, Host: host}
	dev, devErr := localChecks(rep, f.cfg, id, f.output)
	if id.Distributed() {
		ctrl, err := dialControl(ctx, id)
		if err != nil {
			return err
		}
		defer ctrl.Close()
		if devErr != nil {
			rep.add("backend", "fail", "not joined: no device to probe")
		} else if err := jobChecks(ctx, rep, f.cfg, id, dev, int64(f.maxBytes), f.iters); err != nil {
			rep.add("backend", "fail", "%v", err)
		}
	}
	if f.json {
		if err := json.NewEncoder(o.Stdout).Encode(rep); err != nil {
			return err
		}
	} else {
		printDoctor(o.Stdout, rep)
	}
	if f := rep.failed(); len(f) > 0 {
		return ExitError{Code: 1, Err: fmt.Errorf("doctor: rank %d: failed: %s", id.Rank, strings.Join(f, ", "))}
	}
	return nil
}

// localChecks fills the machine's checks and returns the device the trainer
// would use.
func localChecks(rep *doctorReport, cfg ddp.Config, id rankenv.Identity, output string) (gotch.Device, error) {
	threads := torchrt.DefaultThreads(id.LocalWorldSize)
	rep.add("libtorch", "ok", "%s; %d cores, %d rank(s) on this machine, threads per rank: %d", torchrt.Version(), runtime.NumCPU(), max(id.LocalWorldSize, 1), threads)
	if runtime.NumCPU() < max(id.LocalWorldSize, 1) {
		rep.add("threads", "warn", "%d ranks share %d cores: ranks will slow each other down", id.LocalWorldSize, runtime.NumCPU())
	}
	flags := cpuFlags()
	switch v := ring.VectorKernels(); {
	case v != "":
		rep.add("cpu", "ok", "%s; ring bf16 kernels: %s", strings.Join(flags, " "), v)
	default:
		rep.add("cpu", "warn", "%s; no AVX2: the ring's bf16 conversions run as scalar Go", strings.Join(flags, " "))
	}
	n := torchrt.CUDADevices()
	d, err := ddp.ResolveDevice(cfg.Device, id, n)
	switch {
	case err != nil:
		rep.add("device", "fail", "%v", err)
	case d.IsCuda():
		rep.add("device", "ok", "cuda:%d of %d visible (CUDA_VISIBLE_DEVICES=%q)", d.Value, n, os.Getenv("CUDA_VISIBLE_DEVICES"))
	default:
		rep.add("device", "info", "cpu (libtorch sees %d CUDA devices)", n)
	}
	if v, err := nccl.LibraryVersion(); err == nil {
		rep.add("nccl", "ok", "NCCL %v loadable", v)
	} else if d.IsCuda() {
		rep.add("nccl", "fail", "%v", err)
	} else {
		rep.add("nccl", "info", "not loadable (needed only for CUDA models): %v", firstLine(err))
	}
	if output != "" {
		outputCheck(rep, output)
	}
	return d, err
}

// jobChecks joins the job's backend and runs the placement and all-reduce
// checks on the compute thread.
func jobChecks(ctx context.Context, rep *doctorReport, cfg ddp.Config, id rankenv.Identity, d gotch.Device, maxBytes int64, iters int) error {
	cfg.Wire = "fp32"
	plan, err := ddp.Resolve(cfg, id)
	if err != nil {
		return err
	}
	comm, err := ddp.OpenComm(ctx, id, cfg, plan, rankLogger(io.Discard, id))
	if err != nil {
		return err
	}
	defer comm.Close()
	name := plan.Backend
	var sizes []int64
	for s := int64(1 << 20); s <= max(maxBytes, 1<<20); s *= 4 {
		sizes = append(sizes, s)
	}
	return torchrt.Run(torchrt.Config{Threads: 1}, func(*torchrt.Thread) error {
		if d.IsCuda() {
			if err := torchrt.SetCUDADevice(d.Value); err != nil {
				return err
			}
		}
		pl, err := ddp.CheckPlacement(ctx, comm, d)
		rep.Placement = pl
		if err != nil {
			rep.add("placement", "fail", "%v", err)
		} else if pl != nil {
			hosts := map[string]bool{}
			for _, p := range pl {
				hosts[p.Host] = true
			}
			rep.add("placement", "ok", "%d ranks on %d host(s), no GPU shared", len(pl), len(hosts))
		}
		links, err := ddp.ProbeAllReduce(ctx, comm, d, sizes, iters)
		rep.Links = links
		if err != nil {
			if errors.Is(err, collective.ErrAborted) || errors.Is(err, collective.ErrPeerLost) {
				return err
			}
			rep.add("allreduce", "fail", "%s: %v", name, err)
			return nil
		}
		var parts []string
		for _, l := range links {
			parts = append(parts, fmt.Sprintf("%s %.2f GB/s", humanBytes(l.Bytes), l.BusBW))
		}
		rep.add("allreduce", "ok", "%s, fp32, results exact; busbw %s", name, strings.Join(parts, ", "))
		return nil
	})
}

func outputCheck(rep *doctorReport, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		rep.add("output", "fail", "%v", err)
		return
	}
	f, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		rep.add("output", "fail", "%s is not writable: %v", dir, err)
		return
	}
	f.Close()
	os.Remove(f.Name())
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		rep.add("output", "warn", "%s writable; free space unknown: %v", dir, err)
		return
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	status := "ok"
	if free < 2<<30 {
		status = "warn" // a bert-base checkpoint with its optimizer state is about 1.3 GB
	}
	abs, _ := filepath.Abs(dir)
	rep.add("output", status, "%s writable, %s free", abs, humanBytes(free))
}

// cpuFlags lists the CPU features that matter to ddprun, from /proc/cpuinfo.
func cpuFlags() []string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return []string{runtime.GOARCH}
	}
	var have []string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		fl := map[string]bool{}
		for _, f := range strings.Fields(v) {
			fl[f] = true
		}
		for _, f := range []string{"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16"} {
			if fl[f] {
				have = append(have, f)
			}
		}
		break
	}
	return append([]string{runtime.GOARCH}, have...)
}

// printDoctor prints rank 0's report whole and, from the other ranks, a
// line each plus their warnings and failures.
func printDoctor(w io.Writer, r *doctorReport) {
	if r.Rank != 0 {
		var bad []check
		for _, c := range r.Checks {
			if c.Status == "warn" || c.Status == "fail" {
				bad = append(bad, c)
			}
		}
		fmt.Fprintf(w, "ddprun doctor: rank %d on %s: %d checks, %d warnings or failures\n", r.Rank, r.Host, len(r.Checks), len(bad))
		for _, c := range bad {
			fmt.Fprintf(w, "  %-5s %-10s %s\n", c.Status, c.Name, c.Detail)
		}
		return
	}
	fmt.Fprintf(w, "ddprun doctor: rank %d of %d on %s\n", r.Rank, max(r.WorldSize, 1), r.Host)
	for _, c := range r.Checks {
		fmt.Fprintf(w, "  %-5s %-10s %s\n", c.Status, c.Name, c.Detail)
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d B", n)
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}
