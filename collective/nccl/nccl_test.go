package nccl

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/ring"
	"github.com/ddprun/ddprun/collective/ring/ringtest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestLoad_MissingLibrary(t *testing.T) {
	if !haveCgo {
		t.Skip("built without cgo")
	}
	t.Setenv(EnvNCCLLib, "/nonexistent/libnccl.so.2")
	t.Setenv("LD_LIBRARY_PATH", "/opt/nowhere")
	_, err := New(t.Context(), Config{Size: 1})
	if !errors.Is(err, ErrNoLibrary) || !errors.Is(err, collective.ErrUnsupported) {
		t.Fatalf("err = %v, want ErrNoLibrary", err)
	}
	for _, want := range []string{"/nonexistent/libnccl.so.2", `LD_LIBRARY_PATH="/opt/nowhere"`, EnvNCCLLib} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestLoad_MissingSymbol(t *testing.T) {
	t.Setenv(EnvNCCLLib, fakes(t).NCCLNoAsync)
	_, err := LibraryVersion()
	if !errors.Is(err, ErrNoLibrary) || !strings.Contains(err.Error(), "missing symbol ncclCommGetAsyncError") {
		t.Fatalf("err = %v, want a missing-symbol ErrNoLibrary", err)
	}
}

func TestNew_NoDevice(t *testing.T) {
	useFakes(t)
	t.Setenv("FAKE_CUDA_DEVICES", "0")
	if _, err := New(t.Context(), Config{Size: 1}); !errors.Is(err, ErrNoDevice) {
		t.Errorf("no devices: err = %v, want ErrNoDevice", err)
	}
	t.Setenv("FAKE_CUDA_DEVICES", "2")
	_, err := New(t.Context(), Config{Size: 1, Device: 3})
	if !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "device 3 requested, 2 visible") {
		t.Errorf("device 3 of 2: err = %v", err)
	}
}

func TestNew_WireConversionRefused(t *testing.T) {
	_, err := New(t.Context(), Config{Size: 1, WireDType: collective.BFloat16})
	if !errors.Is(err, collective.ErrUnsupported) || !strings.Contains(err.Error(), "CUDA kernel") {
		t.Errorf("err = %v, want ErrUnsupported explaining the conversion", err)
	}
}

func TestVersion_Decode(t *testing.T) {
	for code, want := range map[int]Version{2708: {2, 7, 8}, 21003: {2, 10, 3}, 22005: {2, 20, 5}, 22703: {2, 27, 3}} {
		if got := decodeVersion(code); got != want {
			t.Errorf("decodeVersion(%d) = %v, want %v", code, got, want)
		}
	}
	if !(Version{2, 9, 9}).Less(bf16Version) || (Version{2, 10, 0}).Less(bf16Version) {
		t.Error("Less is wrong around 2.10")
	}
}

// refReduce is the fake's reduction order: rank order, in the element
// type (float32 for bfloat16, rounded once).
func refReduce(vals [][]float64, op collective.Op) []float64 {
	out := make([]float64, len(vals[0]))
	for i := range out {
		a := vals[0][i]
		for _, v := range vals[1:] {
			switch op {
			case collective.Sum, collective.Avg:
				a = float64(float32(a) + float32(v[i]))
			case collective.Max:
				a = math.Max(a, v[i])
			case collective.Min:
				a = math.Min(a, v[i])
			}
		}
		if op == collective.Avg {
			a = float64(float32(a) / float32(len(vals)))
		}
		out[i] = a
	}
	return out
}

func TestAllReduce_Float32(t *testing.T) {
	useFakes(t)
	checkNoLeaks(t)
	cu := mustCUDA(t)
	for _, n := range []int{1, 2, 3, 8} {
		for _, count := range []int{0, 1, n + 1, 1000} {
			for _, op := range []collective.Op{collective.Sum, collective.Avg, collective.Max, collective.Min} {
				t.Run(fmt.Sprintf("ranks=%d/count=%d/%v", n, count, op), func(t *testing.T) {
					in := randFloats(n, count, int64(n*count))
					got := make([][]float32, n)
					mustRun(t, testConfigs(n, 10*time.Second), func(ctx context.Context, c *Comm) error {
						d := toDevice(t, cu, in[c.Rank()], collective.Float32)
						if err := c.AllReduce(ctx, d.buf, op); err != nil {
							return err
						}
						got[c.Rank()] = d.host(t)
						return nil
					})
					want := refReduce(widen(in), op)
					for r := range n {
						if diff := cmp.Diff(want, widen([][]float32{got[r]})[0], cmpopts.EquateEmpty(), cmpopts.EquateApprox(0, 1e-6)); diff != "" {
							t.Errorf("rank %d (-want +got):\n%s", r, diff)
						}
					}
				})
			}
		}
	}
}

func randFloats(n, count int, seed int64) [][]float32 {
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	in := make([][]float32, n)
	for r := range in {
		in[r] = make([]float32, count)
		for i := range in[r] {
			in[r][i] = float32(rng.NormFloat64())
		}
	}
	return in
}

func widen[T float32 | int64](in [][]T) [][]float64 {
	out := make([][]float64, len(in))
	for r, s := range in {
		out[r] = make([]float64, len(s))
		for i, v := range s {
			out[r][i] = float64(v)
		}
	}
	return out
}

// TestAllReduce_BFloat16: bf16 buffers go to NCCL as ncclBfloat16 (9) and
// come back bit-identical to summing in float and rounding once.
func TestAllReduce_BFloat16(t *testing.T) {
	useFakes(t)
	cu := mustCUDA(t)
	const n, count = 3, 257
	in := make([][]uint16, n)
	fl := randFloats(n, count, 3)
	for r := range in {
		in[r] = make([]uint16, count)
		for i, f := range fl[r] {
			in[r][i] = collective.BFloat16FromFloat32(f)
		}
	}
	want := make([]uint16, count)
	for i := range want {
		var s float32
		for r := range n {
			s += collective.Float32FromBFloat16(in[r][i])
		}
		want[i] = collective.BFloat16FromFloat32(s)
	}
	got := make([][]uint16, n)
	mustRun(t, testConfigs(n, 10*time.Second), func(ctx context.Context, c *Comm) error {
		d := toDevice(t, cu, in[c.Rank()], collective.BFloat16)
		if err := c.AllReduce(ctx, d.buf, collective.Sum); err != nil {
			return err
		}
		got[c.Rank()] = d.host(t)
		return nil
	})
	for r := range n {
		if diff := cmp.Diff(want, got[r]); diff != "" {
			t.Errorf("rank %d (-want +got):\n%s", r, diff)
		}
	}
}

func TestAllReduce_Ints(t *testing.T) {
	useFakes(t)
	cu := mustCUDA(t)
	const n = 4
	got64 := make([][]int64, n)
	got32 := make([][]int32, n)
	mustRun(t, testConfigs(n, 10*time.Second), func(ctx context.Context, c *Comm) error {
		r := int64(c.Rank())
		a := toDevice(t, cu, []int64{1 << 40 * (r + 1), -r, 7}, collective.Int64)
		b := toDevice(t, cu, []int32{int32(r), -int32(r), 5}, collective.Int32)
		if err := c.AllReduce(ctx, a.buf, collective.Sum); err != nil {
			return err
		}
		if err := c.AllReduce(ctx, b.buf, collective.Max); err != nil {
			return err
		}
		got64[c.Rank()], got32[c.Rank()] = a.host(t), b.host(t)
		return nil
	})
	for r := range n {
		if diff := cmp.Diff([]int64{10 << 40, -6, 28}, got64[r]); diff != "" {
			t.Errorf("rank %d int64 sum (-want +got):\n%s", r, diff)
		}
		if diff := cmp.Diff([]int32{3, 0, 5}, got32[r]); diff != "" {
			t.Errorf("rank %d int32 max (-want +got):\n%s", r, diff)
		}
	}
}

func TestBroadcast_Roots(t *testing.T) {
	useFakes(t)
	cu := mustCUDA(t)
	const n = 3
	for root := range n {
		got := make([][]float32, n)
		mustRun(t, testConfigs(n, 10*time.Second), func(ctx context.Context, c *Comm) error {
			v := float32(c.Rank())
			d := toDevice(t, cu, []float32{v, v + 0.5, -v}, collective.Float32)
			if err := c.Broadcast(ctx, d.buf, root); err != nil {
				return err
			}
			got[c.Rank()] = d.host(t)
			return nil
		})
		r := float32(root)
		for i := range n {
			if diff := cmp.Diff([]float32{r, r + 0.5, -r}, got[i]); diff != "" {
				t.Errorf("root %d, rank %d (-want +got):\n%s", root, i, diff)
			}
		}
	}
}

func TestAllGather_Layout(t *testing.T) {
	useFakes(t)
	cu := mustCUDA(t)
	const n = 3
	got := make([][]int64, n)
	mustRun(t, testConfigs(n, 10*time.Second), func(ctx context.Context, c *Comm) error {
		r := int64(c.Rank())
		send := toDevice(t, cu, []int64{10 * r, 10*r + 1}, collective.Int64)
		recv := toDevice(t, cu, make([]int64, 2*n), collective.Int64)
		if err := c.AllGather(ctx, send.buf, recv.buf); err != nil {
			return err
		}
		got[c.Rank()] = recv.host(t)
		return nil
	})
	for r := range n {
		if diff := cmp.Diff([]int64{0, 1, 10, 11, 20, 21}, got[r]); diff != "" {
			t.Errorf("rank %d (-want +got):\n%s", r, diff)
		}
	}
}

func TestReduceScatter_Blocks(t *testing.T) {
	useFakes(t)
	cu := mustCUDA(t)
	const n = 3
	for _, count := range []int{6, 7} { // native, then the all-reduce fallback
		in := randFloats(n, count, int64(count))
		want := refReduce(widen(in), collective.Sum)
		got := make([][]float32, n)
		mustRun(t, testConfigs(n, 10*time.Second), func(ctx context.Context, c *Comm) error {
			d := toDevice(t, cu, in[c.Rank()], collective.Float32)
			if err := c.ReduceScatter(ctx, d.buf, collective.Sum); err != nil {
				return err
			}
			got[c.Rank()] = d.host(t)
			return nil
		})
		for r := range n {
			lo, hi := collective.BlockRange(count, n, r)
			if diff := cmp.Diff(want[lo:hi], widen([][]float32{got[r][lo:hi]})[0], cmpopts.EquateApprox(0, 1e-6)); diff != "" {
				t.Errorf("count %d, rank %d (-want +got):\n%s", count, r, diff)
			}
		}
	}
}

// TestHostBuffers: host memory is staged through the device, so the
// collective helpers (Barrier, AllGatherCounts) work on an NCCL Comm.
func TestHostBuffers(t *testing.T) {
	useFakes(t)
	const n = 3
	mustRun(t, testConfigs(n, 10*time.Second), func(ctx context.Context, c *Comm) error {
		if err := collective.Barrier(ctx, c); err != nil {
			return err
		}
		counts, err := collective.AllGatherCounts(ctx, c, 5*c.Rank())
		if err != nil {
			return err
		}
		if !cmp.Equal(counts, []int{0, 5, 10}) {
			return fmt.Errorf("counts = %v", counts)
		}
		x := []float32{float32(c.Rank()), 1}
		if err := c.AllReduce(ctx, collective.Float32s(x), collective.Avg); err != nil {
			return err
		}
		if !cmp.Equal(x, []float32{1, 1}) {
			return fmt.Errorf("avg = %v", x)
		}
		return nil
	})
}

func TestStream_Passed(t *testing.T) {
	useFakes(t)
	cu := mustCUDA(t)
	s, err := cu.StreamCreate()
	if err != nil {
		t.Fatal(err)
	}
	defer cu.StreamDestroy(s)
	t.Setenv("FAKE_NCCL_STREAM", fmt.Sprintf("%#x", s))
	cfg := testConfigs(1, 10*time.Second)[0]
	cfg.Stream = s
	c, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	x := []float32{1}
	if err := c.AllReduce(t.Context(), collective.Float32s(x), collective.Sum); err != nil {
		t.Fatalf("on the configured stream: %v", err)
	}
	c.SetStream(0)
	err = c.AllReduce(t.Context(), collective.Float32s(x), collective.Sum)
	if !errors.Is(err, collective.ErrInvalid) || !strings.Contains(err.Error(), "ncclAllReduce: invalid argument") {
		t.Fatalf("on another stream: err = %v, want the fake's ncclInvalidArgument", err)
	}
}

// TestLibraryErrors: NCCL's own errors reach the caller with
// ncclGetErrorString's text and poison the Comm.
func TestLibraryErrors(t *testing.T) {
	useFakes(t)
	c, err := New(t.Context(), testConfigs(1, 10*time.Second)[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r := c.lib.allReduce(nil, nil, 1, dataType(42), ncclSum, c.handle, 0); r != resInvalidArgument {
		t.Fatalf("dtype 42: result %d, want ncclInvalidArgument", r)
	}
	if got := ncclError(c.lib, "ncclAllReduce", resInvalidArgument).Error(); !strings.Contains(got, "invalid argument (run with NCCL_DEBUG=WARN") {
		t.Errorf("error text %q", got)
	}
}

func TestMismatch_InvalidUsage(t *testing.T) {
	useFakes(t)
	checkNoLeaks(t)
	errs := runRanks(t, testConfigs(2, 10*time.Second), func(ctx context.Context, c *Comm) error {
		x := make([]float32, 1+c.Rank())
		return c.AllReduce(ctx, collective.Float32s(x), collective.Sum)
	})
	for r, err := range errs {
		if !errors.Is(err, collective.ErrInvalid) || !strings.Contains(err.Error(), "invalid usage") {
			t.Errorf("rank %d: err = %v, want ncclInvalidUsage", r, err)
		}
	}
}

func TestOldNCCL_NoBF16NoAvg(t *testing.T) {
	useFakes(t)
	t.Setenv("FAKE_NCCL_VERSION", "2708")
	for _, tc := range []struct {
		buf  collective.Buffer
		op   collective.Op
		want string
	}{
		{collective.BFloat16s([]uint16{1}), collective.Sum, "bfloat16 needs NCCL >= 2.10.0, have 2.7.8"},
		{collective.Float32s([]float32{1}), collective.Avg, "op avg needs NCCL >= 2.10.0, have 2.7.8"},
	} {
		c, err := New(t.Context(), testConfigs(1, 10*time.Second)[0])
		if err != nil {
			t.Fatal(err)
		}
		err = c.AllReduce(t.Context(), tc.buf, tc.op)
		if !errors.Is(err, collective.ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
		c.Close()
	}
}

// TestTimeout_AbortsEveryRank: rank 1 hangs in its second collective; every
// rank's call fails within the timeout, later calls fail with ErrAborted,
// and nothing leaks.
func TestTimeout_AbortsEveryRank(t *testing.T) {
	useFakes(t)
	checkNoLeaks(t)
	t.Setenv("FAKE_NCCL_HANG", "1:2")
	const n = 3
	start := time.Now()
	errs := runRanks(t, testConfigs(n, 300*time.Millisecond), func(ctx context.Context, c *Comm) error {
		x := []float32{1}
		if err := c.AllReduce(ctx, collective.Float32s(x), collective.Sum); err != nil {
			return fmt.Errorf("first call: %w", err)
		}
		err := c.AllReduce(ctx, collective.Float32s(x), collective.Sum)
		var oe *collective.OpError
		switch {
		case !errors.As(err, &oe) || oe.Rank != c.Rank() || oe.Op != "all-reduce" || oe.Seq != 2:
			return fmt.Errorf("second call: %v, want an OpError naming rank, op and call", err)
		case c.Rank() == 1 && !errors.Is(err, collective.ErrTimeout):
			return fmt.Errorf("hung rank: %v, want ErrTimeout", err)
		case !errors.Is(err, collective.ErrTimeout) && !errors.Is(err, collective.ErrPeerLost):
			return fmt.Errorf("peer: %v, want ErrTimeout or ErrPeerLost", err)
		}
		if err := c.Broadcast(ctx, collective.Float32s(x), 0); !errors.Is(err, collective.ErrAborted) {
			return fmt.Errorf("after the failure: %v, want ErrAborted", err)
		}
		return nil
	})
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestAsyncError: NCCL's asynchronous error ends the call long before the
// timeout, with NCCL's message.
func TestAsyncError(t *testing.T) {
	useFakes(t)
	checkNoLeaks(t)
	t.Setenv("FAKE_NCCL_ASYNC", "0:1")
	start := time.Now()
	errs := runRanks(t, testConfigs(2, time.Minute), func(ctx context.Context, c *Comm) error {
		return c.AllReduce(ctx, collective.Float32s([]float32{1}), collective.Sum)
	})
	if !errors.Is(errs[0], collective.ErrPeerLost) || !strings.Contains(errs[0].Error(), "unhandled system error") {
		t.Errorf("rank 0: %v, want ncclSystemError as ErrPeerLost", errs[0])
	}
	if !errors.Is(errs[1], collective.ErrPeerLost) {
		t.Errorf("rank 1: %v, want ErrPeerLost", errs[1])
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestContextCancel(t *testing.T) {
	useFakes(t)
	checkNoLeaks(t)
	t.Setenv("FAKE_NCCL_HANG", "0:1")
	errs := runRanks(t, testConfigs(2, time.Minute), func(ctx context.Context, c *Comm) error {
		ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		err := c.AllReduce(ctx, collective.Float32s([]float32{1}), collective.Sum)
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, collective.ErrPeerLost) {
			return fmt.Errorf("%v, want the context's error or ErrPeerLost", err)
		}
		if err := c.AllReduce(context.Background(), collective.Float32s([]float32{1}), collective.Sum); !errors.Is(err, collective.ErrAborted) {
			return fmt.Errorf("after cancel: %v, want ErrAborted", err)
		}
		return nil
	})
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

func TestClose(t *testing.T) {
	useFakes(t)
	checkNoLeaks(t)
	c, err := New(t.Context(), testConfigs(1, time.Second)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.AllReduce(t.Context(), collective.Float32s([]float32{1}), collective.Sum); !errors.Is(err, collective.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}

// TestCloseDuringCall: Close aborts a call that is blocked on a peer.
func TestCloseDuringCall(t *testing.T) {
	useFakes(t)
	checkNoLeaks(t)
	cfgs := testConfigs(2, time.Minute)
	comms := make([]*Comm, 2)
	errs := make(chan error, 2)
	for r := range 2 {
		go func() {
			c, err := New(t.Context(), cfgs[r])
			comms[r] = c
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	defer comms[1].Close()
	go func() { errs <- comms[0].AllReduce(t.Context(), collective.Float32s([]float32{1}), collective.Sum) }()
	time.Sleep(50 * time.Millisecond) // let it block: rank 1 never calls
	comms[0].Close()
	if err := <-errs; !errors.Is(err, collective.ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

// TestCommBootstrap: the unique id travels over a real ring.Comm.
func TestCommBootstrap(t *testing.T) {
	useFakes(t)
	const n = 3
	nw := ringtest.NewNetwork(n)
	cfgs := testConfigs(n, 10*time.Second)
	errs := make(chan error, n)
	for r := range n {
		go func() {
			rc, err := ring.New(t.Context(), nw.Config(r))
			if err != nil {
				errs <- err
				return
			}
			defer rc.Close()
			cfgs[r].Bootstrap = CommBootstrap(rc)
			c, err := New(t.Context(), cfgs[r])
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			x := []float32{float32(r)}
			err = c.AllReduce(t.Context(), collective.Float32s(x), collective.Sum)
			if err == nil && x[0] != 3 {
				err = fmt.Errorf("sum = %v", x[0])
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestRegistry(t *testing.T) {
	useFakes(t)
	if !strings.Contains(strings.Join(collective.Backends(), ","), "nccl") {
		t.Fatalf("backends %v lack nccl", collective.Backends())
	}
	c, err := collective.Open(t.Context(), "nccl", collective.Options{Rank: 0, Size: 1, Device: "cuda:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	x := []int64{4}
	if err := c.AllReduce(t.Context(), collective.Int64s(x), collective.Sum); err != nil || x[0] != 4 {
		t.Fatalf("x = %v, err = %v", x, err)
	}
	if _, err := collective.Open(t.Context(), "nccl", collective.Options{Size: 1, Device: "cpu"}); !errors.Is(err, collective.ErrUnsupported) {
		t.Errorf("Options.Device cpu: err = %v", err)
	}
	// The device comes from Options alone: the rank environment is
	// internal/rankenv's to read (walls_test.go), so an unset
	// Options.Device is an error whatever DDPRUN_DEVICE and LOCAL_RANK say.
	t.Setenv("DDPRUN_DEVICE", "cuda:0")
	t.Setenv("LOCAL_RANK", "0")
	if _, err := collective.Open(t.Context(), "nccl", collective.Options{Size: 1}); !errors.Is(err, collective.ErrInvalid) || !strings.Contains(err.Error(), "Options.Device") {
		t.Errorf("no Options.Device, DDPRUN_DEVICE=cuda:0: err = %v, want ErrInvalid naming Options.Device", err)
	}
	if _, err := collective.Open(t.Context(), "nccl", collective.Options{Size: 1, Device: "cuda"}); !errors.Is(err, collective.ErrInvalid) {
		t.Errorf("Options.Device cuda (no index): err = %v, want ErrInvalid", err)
	}
	t.Setenv("DDPRUN_DEVICE", "cpu")
	t.Setenv("FAKE_CUDA_DEVICES", "2")
	c, err = collective.Open(t.Context(), "nccl", collective.Options{Size: 1, Device: "cuda:1"})
	if err != nil {
		t.Fatalf("Options.Device cuda:1 with DDPRUN_DEVICE=cpu: %v", err)
	}
	if got := c.(*Comm).cfg.Device; got != 1 {
		t.Errorf("device %d, want 1", got)
	}
	c.Close()
	if _, err := collective.Open(t.Context(), "nccl", collective.Options{Size: 1, Device: "cuda:x"}); !errors.Is(err, collective.ErrInvalid) || !strings.Contains(err.Error(), "Options.Device") {
		t.Errorf("Options.Device cuda:x: err = %v", err)
	}
}

// The legacy default stream is per device and the current device per OS
// thread: a Comm on device 1 must wait for device 1's stream whichever
// thread (and device) the caller is on. The fake runtime fails stream calls
// made while another device is current.
func TestStreamWaitedOnCommDevice(t *testing.T) {
	useFakes(t)
	t.Setenv("FAKE_CUDA_DEVICES", "2")
	t.Setenv("FAKE_CUDA_STREAM_DEVICE", "1")
	cfgs := testConfigs(2, 10*time.Second)
	for i := range cfgs {
		cfgs[i].Device = 1
	}
	cu := mustCUDA(t)
	mustRun(t, cfgs, func(ctx context.Context, c *Comm) error {
		d := toDevice(t, cu, []float32{float32(c.Rank() + 1), 2}, collective.Float32)
		runtime.LockOSThread() // a caller whose thread is on device 0
		defer runtime.UnlockOSThread()
		if err := cu.SetDevice(0); err != nil {
			return err
		}
		if err := c.AllReduce(ctx, d.buf, collective.Sum); err != nil {
			return err
		}
		if got := d.host(t); got[0] != 3 || got[1] != 4 {
			t.Errorf("rank %d: %v, want [3 4]", c.Rank(), got)
		}
		return nil
	})
}
