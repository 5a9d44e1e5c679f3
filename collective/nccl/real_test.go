package nccl

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ddprun/ddprun/collective"
	"github.com/google/go-cmp/cmp"
)

// The TestReal tests run against the machine's real NCCL and GPU when
// DDPRUN_NCCL_REAL=1 (bench/gpu/run.sh sets it, with DDPRUN_NCCL_LIB and
// DDPRUN_CUDART_LIB pointing at PyTorch's copies). One GPU allows world
// size 1 only, which still checks every call's ABI and dtype and op codes.

func realOnly(t *testing.T) *CUDA {
	t.Helper()
	if os.Getenv("DDPRUN_NCCL_REAL") != "1" {
		t.Skip("needs a GPU and NCCL: set DDPRUN_NCCL_REAL=1 (see bench/gpu/run.sh)")
	}
	cu, err := OpenCUDA()
	if err != nil {
		t.Fatal(err)
	}
	return cu
}

func TestReal_WorldOfOne(t *testing.T) {
	cu := realOnly(t)
	v, err := LibraryVersion()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("NCCL %v", v)
	checkNoLeaks(t)
	cfg := DefaultConfig()
	cfg.Size, cfg.Timeout = 1, 30*time.Second
	c, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	f := toDevice(t, cu, []float32{1.5, -2, 3}, collective.Float32)
	for _, op := range []collective.Op{collective.Sum, collective.Avg, collective.Max, collective.Min} {
		if err := c.AllReduce(ctx, f.buf, op); err != nil {
			t.Fatalf("float32 %v: %v", op, err)
		}
	}
	if diff := cmp.Diff([]float32{1.5, -2, 3}, f.host(t)); diff != "" {
		t.Errorf("float32 (-want +got):\n%s", diff)
	}
	bf := []uint16{collective.BFloat16FromFloat32(0.5), collective.BFloat16FromFloat32(-7)}
	b := toDevice(t, cu, bf, collective.BFloat16)
	if err := c.AllReduce(ctx, b.buf, collective.Avg); err != nil {
		t.Fatalf("bfloat16 avg: %v", err)
	}
	if diff := cmp.Diff(bf, b.host(t)); diff != "" {
		t.Errorf("bfloat16 (-want +got):\n%s", diff)
	}
	i := toDevice(t, cu, []int64{1 << 40, -3}, collective.Int64)
	if err := c.AllReduce(ctx, i.buf, collective.Sum); err != nil {
		t.Fatalf("int64: %v", err)
	}
	if err := c.Broadcast(ctx, i.buf, 0); err != nil {
		t.Fatalf("broadcast: %v", err)
	}
	if diff := cmp.Diff([]int64{1 << 40, -3}, i.host(t)); diff != "" {
		t.Errorf("int64 (-want +got):\n%s", diff)
	}
	recv := toDevice(t, cu, make([]int64, 2), collective.Int64)
	if err := c.AllGather(ctx, i.buf, recv.buf); err != nil {
		t.Fatalf("all-gather: %v", err)
	}
	if diff := cmp.Diff([]int64{1 << 40, -3}, recv.host(t)); diff != "" {
		t.Errorf("all-gather (-want +got):\n%s", diff)
	}
	if err := c.ReduceScatter(ctx, f.buf, collective.Sum); err != nil {
		t.Fatalf("reduce-scatter: %v", err)
	}
	if err := collective.Barrier(ctx, c); err != nil { // host buffer, staged
		t.Fatalf("barrier: %v", err)
	}
	s, err := cu.StreamCreate()
	if err != nil {
		t.Fatal(err)
	}
	defer cu.StreamDestroy(s)
	c.SetStream(s)
	if err := c.AllReduce(ctx, f.buf, collective.Sum); err != nil {
		t.Fatalf("on a created stream: %v", err)
	}
}

// TestReal_TwoRanksOneDevice tries two ranks on device 0. NCCL normally
// refuses ("Duplicate GPU detected"); either outcome is logged, and the
// test only fails if the refusal is not a clean error.
func TestReal_TwoRanksOneDevice(t *testing.T) {
	realOnly(t)
	cfgs := testConfigs(2, 20*time.Second)
	for r := range cfgs {
		cfgs[r].InitTimeout = 30 * time.Second
	}
	errs := runRanks(t, cfgs, func(ctx context.Context, c *Comm) error {
		x := []float32{float32(c.Rank() + 1)}
		if err := c.AllReduce(ctx, collective.Float32s(x), collective.Sum); err != nil {
			return err
		}
		if x[0] != 3 {
			t.Errorf("rank %d: sum = %v, want 3", c.Rank(), x[0])
		}
		return nil
	})
	for r, err := range errs {
		t.Logf("rank %d on device 0: %v", r, err)
	}
}
