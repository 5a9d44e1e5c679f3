package ring_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/ring"
	"github.com/ddprun/ddprun/collective/ring/ringtest"
)

func TestRing_Broadcast(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5} {
		for _, count := range []int{0, 1, 100_003} {
			for root := range n {
				t.Run(fmt.Sprintf("ranks=%d/count=%d/root=%d", n, count, root), func(t *testing.T) {
					cfgs := memConfigs(ringtest.NewNetwork(n))
					for r := range cfgs {
						cfgs[r].ChunkBytes = 4096
					}
					want := exactInput(root, count)
					mustRun(t, cfgs, func(ctx context.Context, c *ring.Comm) error {
						x := exactInput(c.Rank(), count)
						if err := c.Broadcast(ctx, collective.Float32s(x), root); err != nil {
							return err
						}
						if d := diffFloats(want, x); d != "" {
							return fmt.Errorf("rank %d: %s", c.Rank(), d)
						}
						return nil
					})
				})
			}
		}
	}
}

func TestRing_AllGatherV(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4} {
		for _, counts := range [][]int{{0, 0, 0, 0}, {1, 1, 1, 1}, {5, 0, 3, 7}, {40000, 1, 0, 39999}} {
			counts := counts[:n]
			for _, native := range []bool{true, false} {
				name := fmt.Sprintf("ranks=%d/counts=%v/native=%v", n, counts, native)
				t.Run(name, func(t *testing.T) { testAllGatherV(t, counts, native) })
			}
		}
	}
}

// notVar hides the Comm's native AllGatherV, to test the padding fallback.
type notVar struct{ collective.Comm }

func testAllGatherV(t *testing.T, counts []int, native bool) {
	cfgs := memConfigs(ringtest.NewNetwork(len(counts)))
	var want []int64
	for r, n := range counts {
		for i := range n {
			want = append(want, int64(r*1_000_000+i))
		}
		cfgs[r].ChunkBytes = 1024
	}
	mustRun(t, cfgs, func(ctx context.Context, c *ring.Comm) error {
		var comm collective.Comm = c
		if !native {
			comm = notVar{c}
		}
		got, err := collective.AllGatherCounts(ctx, comm, counts[c.Rank()])
		if err != nil || !slices.Equal(got, counts) {
			return fmt.Errorf("AllGatherCounts = %v, %v; want %v", got, err, counts)
		}
		send := make([]int64, counts[c.Rank()])
		for i := range send {
			send[i] = int64(c.Rank()*1_000_000 + i)
		}
		recv := make([]int64, len(want))
		if err := collective.AllGatherV(ctx, comm, collective.Int64s(send), collective.Int64s(recv), counts); err != nil {
			return err
		}
		if !slices.Equal(recv, want) {
			return fmt.Errorf("rank %d: got %v, want %v", c.Rank(), recv[:min(len(recv), 20)], want[:min(len(want), 20)])
		}
		return nil
	})
}

func TestRing_ReduceScatter(t *testing.T) {
	for _, n := range []int{1, 2, 3, 8} {
		for _, count := range []int{0, 1, n + 1, 10_007} {
			t.Run(fmt.Sprintf("ranks=%d/count=%d", n, count), func(t *testing.T) {
				cfgs := memConfigs(ringtest.NewNetwork(n))
				inputs := make([][]float32, n)
				for r := range n {
					inputs[r] = exactInput(r, count)
					cfgs[r].ChunkBytes = 256
				}
				want := naive(inputs, collective.Avg)
				mustRun(t, cfgs, func(ctx context.Context, c *ring.Comm) error {
					x := append([]float32(nil), inputs[c.Rank()]...)
					if err := c.ReduceScatter(ctx, collective.Float32s(x), collective.Avg); err != nil {
						return err
					}
					lo, hi := collective.BlockRange(count, n, c.Rank())
					if d := diffFloats(want[lo:hi], x[lo:hi]); d != "" {
						return fmt.Errorf("rank %d block [%d,%d): %s", c.Rank(), lo, hi, d)
					}
					return nil
				})
			})
		}
	}
}

// TestRing_Registry opens the ring through the backend registry.
func TestRing_Registry(t *testing.T) {
	if !slices.Contains(collective.Backends(), "ring") {
		t.Fatalf("backends %v lack ring", collective.Backends())
	}
	cfgs := loopbackConfigs(t, 2)
	errs := make(chan error, 2)
	for r := range 2 {
		go func() {
			c, err := collective.Open(t.Context(), "ring", collective.Options{Rank: r, Size: 2, Peers: cfgs[r].Peers,
				Listener: cfgs[r].Listener, JobID: "j", Secret: []byte("s"), WireDType: collective.BFloat16, ChunkBytes: 128})
			if err == nil {
				x := []float32{1, 2}
				err = c.AllReduce(t.Context(), collective.Float32s(x), collective.Avg)
				if err == nil && !slices.Equal(x, []float32{1, 2}) {
					err = fmt.Errorf("got %v", x)
				}
				if n := ring.ChunkBytesOf(c.(*ring.Comm)); err == nil && n != 128 {
					err = fmt.Errorf("chunk of %d bytes, want Options.ChunkBytes 128", n)
				}
				c.Close()
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// Seq numbers the collectives started, for progress reports: one per call,
// the same on every rank.
func TestRing_Seq(t *testing.T) {
	mustRun(t, memConfigs(ringtest.NewNetwork(3)), func(ctx context.Context, c *ring.Comm) error {
		if c.Seq() != 0 {
			return fmt.Errorf("rank %d: Seq %d before any call", c.Rank(), c.Seq())
		}
		x := []float32{1}
		for i := range 3 {
			if err := c.AllReduce(ctx, collective.Float32s(x), collective.Sum); err != nil {
				return err
			}
			if c.Seq() != uint64(i+1) {
				return fmt.Errorf("rank %d: Seq %d after %d calls", c.Rank(), c.Seq(), i+1)
			}
		}
		if err := c.Broadcast(ctx, collective.Float32s(x), 0); err != nil || c.Seq() != 4 {
			return fmt.Errorf("rank %d: Seq %d after a broadcast (%v)", c.Rank(), c.Seq(), err)
		}
		return nil
	})
}
