// Command allreduce measures all-reduce through ddprun's NCCL binding
// (collective/nccl) on cudaMalloc'd buffers and prints nccl-tests' columns
// (size, count, type, redop, root, time, algbw, busbw, #wrong), so the
// numbers line up with all_reduce_perf's out-of-the-box output.
//
//	allreduce -b 8 -e 256M -f 2 -t float32,bfloat16 -ranks 1
//
// -ranks k runs k ranks as goroutines of this process on devices
// 0..k-1 (-same-device puts them all on device 0, which NCCL normally
// refuses with "Duplicate GPU detected"). Times include the binding's
// stream polling, i.e. what a ddprun rank waits for one AllReduce.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/nccl"
)

type flags struct {
	minBytes, maxBytes int
	factor             int
	dtypes             []collective.DType
	op                 collective.Op
	warmup, iters      int
	ranks              int
	sameDevice         bool
	timeout            time.Duration
}

func main() {
	f, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "allreduce:", err)
		os.Exit(2)
	}
	if err := run(context.Background(), f); err != nil {
		fmt.Fprintln(os.Stderr, "allreduce:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (flags, error) {
	fs := flag.NewFlagSet("allreduce", flag.ContinueOnError)
	var f flags
	minB := fs.String("b", "8", "smallest size in bytes (K, M, G suffixes)")
	maxB := fs.String("e", "256M", "largest size in bytes")
	fs.IntVar(&f.factor, "f", 2, "size multiplication factor")
	types := fs.String("t", "float32,bfloat16", "comma-separated dtypes")
	op := fs.String("o", "sum", "reduction: sum, avg, max, min")
	fs.IntVar(&f.warmup, "w", 5, "warm-up iterations per size")
	fs.IntVar(&f.iters, "n", 20, "timed iterations per size")
	fs.IntVar(&f.ranks, "ranks", 1, "ranks (goroutines, one device each)")
	fs.BoolVar(&f.sameDevice, "same-device", false, "put every rank on device 0")
	fs.DurationVar(&f.timeout, "timeout", time.Minute, "per-call timeout")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	var err error
	if f.minBytes, err = parseSize(*minB); err != nil {
		return f, err
	}
	if f.maxBytes, err = parseSize(*maxB); err != nil {
		return f, err
	}
	for _, s := range strings.Split(*types, ",") {
		d, err := collective.ParseDType(strings.TrimSpace(s))
		if err != nil {
			return f, err
		}
		f.dtypes = append(f.dtypes, d)
	}
	ops := map[string]collective.Op{"sum": collective.Sum, "avg": collective.Avg, "max": collective.Max, "min": collective.Min}
	if f.op = ops[*op]; f.op == 0 {
		return f, fmt.Errorf("unknown op %q", *op)
	}
	if f.factor < 2 || f.minBytes < 1 || f.maxBytes < f.minBytes || f.ranks < 1 {
		return f, fmt.Errorf("bad sizes or ranks")
	}
	return f, nil
}

func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.Atoi(s)
	return n * mult, err
}

// chanBootstrap hands rank 0's id to the other in-process ranks.
type chanBootstrap struct {
	rank, size int
	ch         chan []byte
}

func (b chanBootstrap) BroadcastBytes(ctx context.Context, p []byte, root int) error {
	if b.rank == root {
		for range b.size - 1 {
			b.ch <- append([]byte(nil), p...)
		}
		return nil
	}
	select {
	case got := <-b.ch:
		copy(p, got)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func run(ctx context.Context, f flags) error {
	cu, err := nccl.OpenCUDA()
	if err != nil {
		return err
	}
	ndev, err := cu.DeviceCount()
	if err != nil {
		return err
	}
	v, err := nccl.LibraryVersion()
	if err != nil {
		return err
	}
	rt, _ := cu.RuntimeVersion()
	fmt.Printf("# ddprun nccl binding: NCCL %v, CUDA runtime %d, %d device(s), %d rank(s)%s\n",
		v, rt, ndev, f.ranks, map[bool]string{true: " on device 0", false: ""}[f.sameDevice])
	fmt.Printf("#\n# %10s %12s %8s %6s %6s %10s %8s %8s %6s\n", "size", "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong")
	fmt.Printf("# %10s %12s %8s %6s %6s %10s %8s %8s %6s\n", "(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "")
	ch := make(chan []byte, f.ranks)
	rows := make(chan string)
	errs := make([]error, f.ranks)
	var wg sync.WaitGroup
	for r := range f.ranks {
		wg.Go(func() {
			dev := r
			if f.sameDevice {
				dev = 0
			}
			errs[r] = rank(ctx, f, cu, r, dev, chanBootstrap{r, f.ranks, ch}, rows)
		})
	}
	go func() { wg.Wait(); close(rows) }()
	for row := range rows {
		fmt.Println(row)
	}
	for r, err := range errs {
		if err != nil {
			return fmt.Errorf("rank %d: %w", r, err)
		}
	}
	return nil
}

func rank(ctx context.Context, f flags, cu *nccl.CUDA, r, dev int, boot nccl.Bootstrap, rows chan<- string) error {
	if err := cu.SetDevice(dev); err != nil { // for cudaMalloc below; the Comm sets it per call
		return err
	}
	cfg := nccl.DefaultConfig()
	cfg.Rank, cfg.Size, cfg.Device, cfg.Bootstrap, cfg.Timeout = r, f.ranks, dev, boot, f.timeout
	c, err := nccl.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	mem, err := cu.Malloc(f.maxBytes)
	if err != nil {
		return err
	}
	defer cu.Free(mem)
	for _, dt := range f.dtypes {
		for size := f.minBytes; size <= f.maxBytes; size *= f.factor {
			row, err := measure(ctx, f, cu, c, mem, size, dt)
			if err != nil {
				return fmt.Errorf("%v, %d bytes: %w", dt, size, err)
			}
			if r == 0 {
				rows <- row
			}
		}
	}
	return nil
}

// measure checks one all-reduce of known values, then times f.iters.
func measure(ctx context.Context, f flags, cu *nccl.CUDA, c *nccl.Comm, mem unsafe.Pointer, size int, dt collective.DType) (string, error) {
	count := size / dt.Size()
	if count == 0 {
		count = 1
	}
	buf := collective.Buffer{Ptr: mem, Count: count, DType: dt, Device: collective.CUDA}
	wrong, err := check(ctx, f, cu, c, buf)
	if err != nil {
		return "", err
	}
	for range f.warmup {
		if err := c.AllReduce(ctx, buf, f.op); err != nil {
			return "", err
		}
	}
	start := time.Now()
	for range f.iters {
		if err := c.AllReduce(ctx, buf, f.op); err != nil {
			return "", err
		}
	}
	sec := time.Since(start).Seconds() / float64(f.iters)
	bytes := float64(count * dt.Size())
	algbw := bytes / sec / 1e9
	n := float64(c.Size())
	busbw := algbw * 2 * (n - 1) / n
	return fmt.Sprintf("  %10d %12d %8s %6s %6d %10.2f %8.2f %8.2f %6d",
		count*dt.Size(), count, dt, f.op, -1, sec*1e6, algbw, busbw, wrong), nil
}

// check fills every rank's buffer with rank+1, reduces once and counts
// elements that differ from the exact result.
func check(ctx context.Context, f flags, cu *nccl.CUDA, c *nccl.Comm, buf collective.Buffer) (int, error) {
	n := c.Size()
	in := float32(c.Rank() + 1)
	want := map[collective.Op]float32{collective.Sum: float32(n * (n + 1) / 2), collective.Avg: float32(n+1) / 2,
		collective.Max: float32(n), collective.Min: 1}[f.op]
	host := make([]byte, buf.Bytes())
	fill(host, buf.DType, in)
	if err := cu.CopyToDevice(buf.Ptr, unsafe.Pointer(&host[0]), len(host)); err != nil {
		return 0, err
	}
	if err := c.AllReduce(ctx, buf, f.op); err != nil {
		return 0, err
	}
	if err := cu.CopyToHost(unsafe.Pointer(&host[0]), buf.Ptr, len(host)); err != nil {
		return 0, err
	}
	ref := make([]byte, len(host))
	fill(ref, buf.DType, want)
	wrong := 0
	es := buf.DType.Size()
	for i := 0; i < len(host); i += es {
		if string(host[i:i+es]) != string(ref[i:i+es]) {
			wrong++
		}
	}
	return wrong, nil
}

func fill(b []byte, dt collective.DType, v float32) {
	switch dt {
	case collective.Float32:
		s := unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
		for i := range s {
			s[i] = v
		}
	case collective.BFloat16, collective.Float16:
		h := collective.BFloat16FromFloat32(v)
		if dt == collective.Float16 {
			h = collective.Float16FromFloat32(v)
		}
		s := unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
		for i := range s {
			s[i] = h
		}
	case collective.Int32:
		s := unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), len(b)/4)
		for i := range s {
			s[i] = int32(v)
		}
	case collective.Int64:
		s := unsafe.Slice((*int64)(unsafe.Pointer(&b[0])), len(b)/8)
		for i := range s {
			s[i] = int64(v)
		}
	}
}
