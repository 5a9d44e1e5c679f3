package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/ddprun/ddprun/collective"
	_ "github.com/ddprun/ddprun/collective/ring" // registers "ring"
	"github.com/ddprun/ddprun/internal/rankenv"
)

func init() {
	Register(Command{Name: "bench", Summary: "benchmarks: bench allreduce, bench step", Run: runBench, Check: checkBench})
}

var benchmarks = map[string]func(ctx context.Context, o IO, args []string) error{
	"allreduce": runBenchAllReduce,
}

func runBench(ctx context.Context, o IO, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(o.Stdout, "Usage: ddprun bench allreduce|step [flags]\n\n"+
			"  allreduce  time float32 all-reduces over the TCP ring between ranks (nccl-tests' columns)\n"+
			"  step       time one rank's training step on random tokens\n\n"+
			"Run 'ddprun bench allreduce --help' or 'ddprun bench step --help' for their flags.")
		return nil
	}
	if len(args) == 0 || benchmarks[args[0]] == nil {
		return usagef("bench: want a benchmark name: allreduce or step (see ddprun bench --help)")
	}
	return benchmarks[args[0]](ctx, o, args[1:])
}

type allReduceFlags struct {
	nproc              int
	minBytes, maxBytes byteSize
	chunk              byteSize
	wire               string
	op                 string
	iters, warmup      int
	json               bool
}

func (f *allReduceFlags) Register(fs *flag.FlagSet) {
	f.minBytes, f.maxBytes = 4<<10, 256<<20
	fs.IntVar(&f.nproc, "nproc", 2, "without launch flags: run this many local ranks, as ddprun --nproc N bench allreduce does")
	fs.Var(&f.minBytes, "min-bytes", "smallest buffer `SIZE` (suffixes K, M, G)")
	fs.Var(&f.maxBytes, "max-bytes", "largest buffer `SIZE`; sizes double from --min-bytes")
	fs.Var(&f.chunk, "chunk", "ring chunk `SIZE` on the wire (0: the ring's default)")
	fs.StringVar(&f.wire, "wire", "both", "wire dtype for the float32 buffer: fp32, bf16, fp16 or both (fp32 then bf16)")
	fs.StringVar(&f.op, "op", "sum", "reduction: sum, avg, max or min")
	fs.IntVar(&f.iters, "iters", 20, "timed iterations per size")
	fs.IntVar(&f.warmup, "warmup", 5, "untimed iterations per size")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per row instead of columns")
}

func (f *allReduceFlags) wires() ([]collective.DType, error) {
	if f.wire == "both" {
		return []collective.DType{collective.Float32, collective.BFloat16}, nil
	}
	d, err := collective.ParseDType(f.wire)
	if err != nil || !d.IsFloat() {
		return nil, fmt.Errorf("%w: --wire %q: want fp32, bf16, fp16 or both", ErrUsage, f.wire)
	}
	return []collective.DType{d}, nil
}

func (f *allReduceFlags) parseOp() (collective.Op, error) {
	for _, op := range []collective.Op{collective.Sum, collective.Avg, collective.Max, collective.Min} {
		if op.String() == f.op {
			return op, nil
		}
	}
	return 0, fmt.Errorf("%w: --op %q: want sum, avg, max or min", ErrUsage, f.op)
}

func (f *allReduceFlags) check() error {
	switch {
	case f.nproc < 1:
		return fmt.Errorf("%w: --nproc %d", ErrUsage, f.nproc)
	case f.minBytes < 4 || f.maxBytes < f.minBytes:
		return fmt.Errorf("%w: sizes %v..%v", ErrUsage, &f.minBytes, &f.maxBytes)
	case f.iters < 1 || f.warmup < 0:
		return fmt.Errorf("%w: --iters %d --warmup %d", ErrUsage, f.iters, f.warmup)
	}
	if _, err := f.wires(); err != nil {
		return err
	}
	_, err := f.parseOp()
	return err
}

// parseAllReduce parses and checks bench allreduce's flags. done is set
// for --help (printed to o.Stdout) and for errors. nprocSet says whether
// --nproc was given.
func parseAllReduce(o IO, args []string) (f *allReduceFlags, nprocSet, done bool, err error) {
	f = new(allReduceFlags)
	fs := flag.NewFlagSet("bench allreduce", flag.ContinueOnError)
	f.Register(fs)
	setUsage(fs, "Usage: ddprun [launch flags] bench allreduce [flags]\n\n"+
		"Time float32 all-reduces over the TCP ring between ranks, in nccl-tests' columns; rank 0 prints them.\n"+
		"It runs under the launcher like train: `ddprun --nproc 4 bench allreduce`, or --nodes N across machines.\n\nFlags:\n")
	if done, err := parseFlags(fs, args, o); done {
		return f, false, true, err
	}
	fs.Visit(func(fl *flag.Flag) { nprocSet = nprocSet || fl.Name == "nproc" })
	if err := f.check(); err != nil {
		return f, nprocSet, true, err
	}
	return f, nprocSet, false, nil
}

// checkBench is bench's Command.Check: the launcher runs it before it
// starts any rank.
func checkBench(o IO, args []string) (bool, error) {
	switch {
	case len(args) > 0 && args[0] == "allreduce":
		_, nprocSet, done, err := parseAllReduce(o, args[1:])
		if err == nil && !done && nprocSet {
			return true, usagef("bench allreduce: --nproc goes before the command under launch flags: ddprun --nproc N bench allreduce (see ddprun bench allreduce --help)")
		}
		return done, err
	case len(args) > 0 && benchmarks[args[0]] != nil:
		return false, nil // bench step checks its flags itself
	}
	return true, runBench(context.Background(), o, args) // help, or a usage error
}

// runBenchAllReduce is `ddprun bench allreduce`. Started alone, it runs
// --nproc ranks of itself under the launcher, like `ddprun --nproc N
// bench allreduce`; as a rank, it joins the job's ring once per wire
// dtype and times the sizes, and rank 0 prints the header and one row per
// size.
func runBenchAllReduce(ctx context.Context, o IO, args []string) error {
	f, _, done, err := parseAllReduce(o, args)
	if done {
		return err
	}
	if !rankenv.Launched(os.Getenv) {
		return launchLocalRanks(ctx, o, f.nproc, append([]string{"bench", "allreduce"}, args...))
	}
	id, err := rankenv.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	return benchAllReduceRank(ctx, o, f, id)
}

func benchAllReduceRank(ctx context.Context, o IO, f *allReduceFlags, id rankenv.Identity) error {
	wires, _ := f.wires()
	op, _ := f.parseOp()
	if id.Rank == 0 && !f.json {
		fmt.Fprintf(o.Stdout, "# ddprun bench allreduce: %d ranks, backend ring, op %s, %d iterations after %d warm-up\n", id.WorldSize, f.op, f.iters, f.warmup)
		fmt.Fprintf(o.Stdout, "%12s %12s %8s %8s %10s %8s %8s %7s\n", "size", "count", "type", "wire", "time", "algbw", "busbw", "#wrong")
		fmt.Fprintf(o.Stdout, "%12s %12s %8s %8s %10s %8s %8s %7s\n", "(B)", "(elements)", "", "", "(us)", "(GB/s)", "(GB/s)", "")
	}
	buf := make([]float32, f.maxBytes/4)
	for _, w := range wires {
		if err := benchWire(ctx, o, f, id, op, w, buf); err != nil {
			return fmt.Errorf("bench allreduce (wire %v): %w", w, err)
		}
	}
	return nil
}

// benchWire joins the job's ring with Float32 buffers travelling as wire
// and times every size.
func benchWire(ctx context.Context, o IO, f *allReduceFlags, id rankenv.Identity, op collective.Op, wire collective.DType, buf []float32) error {
	ln, err := id.Listener() // the launcher's socket, again for every ring
	if err != nil {
		return err
	}
	c, err := collective.Open(ctx, "ring", collective.Options{Rank: id.Rank, Size: id.WorldSize, Peers: id.Peers, Listener: ln,
		JobID: id.JobID, Secret: id.Secret, WireDType: wire, ChunkBytes: int(f.chunk)})
	if err != nil {
		return err
	}
	defer c.Close()
	for size := int64(f.minBytes); size <= int64(f.maxBytes); size *= 2 {
		row, err := benchSize(ctx, c, f, op, wire, buf[:size/4])
		if err != nil {
			return fmt.Errorf("size %d: %w", size, err)
		}
		if c.Rank() == 0 {
			printRow(o.Stdout, row, f.json)
		}
	}
	return nil
}

type benchRow struct {
	Size  int64   `json:"size"`
	Count int     `json:"count"`
	Type  string  `json:"type"`
	Wire  string  `json:"wire"`
	Time  float64 `json:"time"` // microseconds per call, slowest rank
	AlgBW float64 `json:"algbw"`
	BusBW float64 `json:"busbw"`
	Wrong int64   `json:"#wrong"`
	Ranks int     `json:"ranks"`
}

func benchSize(ctx context.Context, c collective.Comm, f *allReduceFlags, op collective.Op, wire collective.DType, x []float32) (benchRow, error) {
	n := c.Size()
	fill(x, c.Rank())
	for range f.warmup {
		if err := c.AllReduce(ctx, collective.Float32s(x), op); err != nil {
			return benchRow{}, err
		}
	}
	if err := collective.Barrier(ctx, c); err != nil {
		return benchRow{}, err
	}
	start := time.Now()
	for range f.iters {
		if err := c.AllReduce(ctx, collective.Float32s(x), op); err != nil {
			return benchRow{}, err
		}
	}
	took := []int64{int64(time.Since(start))}
	if err := c.AllReduce(ctx, collective.Int64s(took), collective.Max); err != nil {
		return benchRow{}, err
	}
	wrong, err := countWrong(ctx, c, op, wire, x)
	if err != nil {
		return benchRow{}, err
	}
	sec := time.Duration(took[0]).Seconds() / float64(f.iters)
	algbw := float64(4*len(x)) / sec / 1e9
	return benchRow{Size: int64(4 * len(x)), Count: len(x), Type: "float32", Wire: wire.String(),
		Time: sec * 1e6, AlgBW: algbw, BusBW: algbw * 2 * float64(n-1) / float64(n), Wrong: wrong, Ranks: n}, nil
}

// fill writes small integers: their sums over up to 16 ranks are exact in
// float32 and bfloat16 alike, so #wrong can demand exact results.
func fill(x []float32, rank int) {
	for i := range x {
		x[i] = float32((i + rank) % 16)
	}
}

// countWrong runs one more all-reduce on fresh inputs and counts, over all
// ranks, the elements that differ from the exact expected value.
func countWrong(ctx context.Context, c collective.Comm, op collective.Op, wire collective.DType, x []float32) (int64, error) {
	fill(x, c.Rank())
	if err := c.AllReduce(ctx, collective.Float32s(x), op); err != nil {
		return 0, err
	}
	var wrong [1]int64
	for i, v := range x {
		if v != expected(i, c.Size(), op, wire) {
			wrong[0]++
		}
	}
	err := c.AllReduce(ctx, collective.Int64s(wrong[:]), collective.Sum)
	return wrong[0], err
}

func expected(i, n int, op collective.Op, wire collective.DType) float32 {
	vals := make([]float32, 0, 16)
	for r := range n {
		vals = append(vals, float32((i+r)%16))
	}
	var v float32
	switch op {
	case collective.Max:
		return slices.Max(vals)
	case collective.Min:
		return slices.Min(vals)
	}
	for _, x := range vals {
		v += x
	}
	if op == collective.Avg {
		v /= float32(n)
		switch wire {
		case collective.BFloat16:
			v = collective.Float32FromBFloat16(collective.BFloat16FromFloat32(v))
		case collective.Float16:
			v = collective.Float32FromFloat16(collective.Float16FromFloat32(v))
		}
	}
	return v
}

func printRow(w io.Writer, r benchRow, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintln(w, string(b))
		return
	}
	fmt.Fprintf(w, "%12d %12d %8s %8s %10.1f %8.3f %8.3f %7d\n", r.Size, r.Count, shortName(r.Type), shortName(r.Wire), r.Time, r.AlgBW, r.BusBW, r.Wrong)
}

func shortName(dtype string) string {
	switch dtype {
	case "float32":
		return "fp32"
	case "bfloat16":
		return "bf16"
	case "float16":
		return "fp16"
	}
	return dtype
}
