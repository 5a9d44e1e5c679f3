package ddp

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/sugarme/gotch"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/nccl"
	"github.com/ddprun/ddprun/collective/nccl/nccltest"
	"github.com/ddprun/ddprun/collective/ring"
	"github.com/ddprun/ddprun/collective/ring/ringtest"
	"github.com/ddprun/ddprun/ddp/optim"
	"github.com/ddprun/ddprun/internal/torchrt"
	"github.com/ddprun/ddprun/shard"
)

func tinyConfig(t *testing.T, pooling string) bert.Config {
	c := bert.DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumLayers, c.NumHeads, c.IntermediateSize, c.MaxPositions = 99, 32, 2, 4, 37, 40
	c.HiddenDropout, c.AttentionDropout, c.ClassifierDropout = 0, 0, 0
	c.Labels = []string{"a", "b", "c"}
	c.Pooling = pooling
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// globalBatch is a fixed batch of g rows with different lengths, padded to
// a common width, and labels.
func globalBatch(g, width int) []*shard.Batch {
	var rows []*shard.Batch
	for i := range g {
		n := 4 + (i*5)%(width-4)
		b := &shard.Batch{B: 1, T: width, Labels: []int64{int64(i % 3)}}
		for j := range width {
			id, m := int64(0), int64(0)
			if j < n {
				id, m = int64(1+(i*31+j*17)%98), 1
			}
			b.IDs = append(b.IDs, id)
			b.Mask = append(b.Mask, m)
			b.TypeIDs = append(b.TypeIDs, int64(min(1, 2*j/width)))
		}
		rows = append(rows, b)
	}
	return rows
}

// concat joins rows into one batch.
func concat(rows []*shard.Batch) *shard.Batch {
	out := &shard.Batch{T: rows[0].T}
	for _, r := range rows {
		out.IDs = append(out.IDs, r.IDs...)
		out.Mask = append(out.Mask, r.Mask...)
		out.TypeIDs = append(out.TypeIDs, r.TypeIDs...)
		out.Labels = append(out.Labels, r.Labels...)
		out.B += r.B
	}
	return out
}

func testOptions() engineOptions {
	return engineOptions{
		Optim: optim.Config{Kind: optim.AdamW, WeightDecay: 0.01},
		Sched: optim.Schedule{Kind: optim.Linear, Warmup: 1, Total: 10},
		LR:    3e-3, Clip: 1.0, Seed: 5, FirstBytes: 4 << 10, CapBytes: 64 << 10,
	}
}

// initialWeights draws one model's weights, used as rank 0's start.
func initialWeights(t *testing.T, cfg bert.Config) map[string]bert.HostTensor {
	var w map[string]bert.HostTensor
	err := torchrt.Run(torchrt.Config{Threads: 1, Seed: 11}, func(*torchrt.Thread) error {
		m, err := bert.New(cfg, gotch.CPU)
		if err != nil {
			return err
		}
		defer m.Drop()
		w, err = m.State()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// trainReplica trains one replica for the given steps (each a list of
// micro-batches) and returns its parameters after every step.
func trainReplica(ctx context.Context, cfg bert.Config, init map[string]bert.HostTensor, comm collective.Comm, o engineOptions, steps [][]*shard.Batch) ([]map[string]bert.HostTensor, error) {
	var out []map[string]bert.HostTensor
	err := torchrt.Run(torchrt.Config{Threads: 1}, func(th *torchrt.Thread) error {
		m, err := bert.New(cfg, gotch.CPU)
		if err != nil {
			return err
		}
		defer m.Drop()
		if comm == nil || comm.Rank() == 0 {
			if _, err := m.LoadState(init, bert.LoadOptions{}); err != nil {
				return err
			}
		}
		e, err := newEngine(ctx, m, comm, o)
		if err != nil {
			return err
		}
		defer e.close()
		for _, micro := range steps {
			if _, err := e.trainStep(ctx, micro); err != nil {
				return err
			}
			th.Boundary()
			st, err := m.State()
			if err != nil {
				return err
			}
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

// openComms opens rank 0..n-1's comms concurrently (joining waits for
// every rank) and closes them when the test ends.
func openComms(t *testing.T, n int, open func(r int) (collective.Comm, error)) []collective.Comm {
	t.Helper()
	comms := make([]collective.Comm, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		wg.Go(func() { comms[r], errs[r] = open(r) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range comms {
			if c != nil {
				c.Close()
			}
		}
	})
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	return comms
}

// loopbackRing opens n ring comms on 127.0.0.1 in this process.
func loopbackRing(t *testing.T, ctx context.Context, n int, wire collective.DType) []collective.Comm {
	t.Helper()
	cfgs := ringtest.Loopback(t, n)
	return openComms(t, n, func(r int) (collective.Comm, error) {
		cfgs[r].WireDType = wire
		c, err := ring.New(ctx, cfgs[r])
		if err != nil {
			return nil, err // not a nil *ring.Comm in an interface
		}
		return c, nil
	})
}

// fakeNCCL opens n NCCL comms in this process on the fake libraries of
// package nccltest (host memory stands in for the device's), exchanging
// the unique id over a loopback ring.
func fakeNCCL(t *testing.T, ctx context.Context, n int) []collective.Comm {
	t.Helper()
	libs := nccltest.Build(t)
	t.Setenv(nccl.EnvNCCLLib, libs.NCCL)
	t.Setenv(nccl.EnvCUDARTLib, libs.CUDART)
	boot := loopbackRing(t, ctx, n, collective.Float32)
	return openComms(t, n, func(r int) (collective.Comm, error) {
		cfg := nccl.DefaultConfig()
		cfg.Rank, cfg.Size, cfg.Bootstrap = r, n, nccl.CommBootstrap(boot[r])
		cfg.Timeout, cfg.InitTimeout = time.Minute, 10*time.Second
		c, err := nccl.New(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return c, nil
	})
}

// split gives rank r of n its contiguous share of every step's global
// batch, cut into accum micro-batches.
func split(global []*shard.Batch, r, n, accum int) []*shard.Batch {
	per := len(global) / n
	mine := global[r*per : (r+1)*per]
	var micro []*shard.Batch
	m := per / accum
	for i := range accum {
		micro = append(micro, concat(mine[i*m:(i+1)*m]))
	}
	return micro
}

func maxDiff(a, b map[string]bert.HostTensor) (float64, string) {
	worst, where := 0.0, ""
	for name, x := range a {
		for i, v := range x.Data {
			if d := math.Abs(float64(v - b[name].Data[i])); d > worst {
				worst, where = d, name
			}
		}
	}
	return worst, where
}

// TestEquivalence is the definition of correct DDP (PyTorch's
// _test_DDP_niter): N ranks each training on 1/N of every global batch over
// the ring end with the same parameters, step by step, as one process
// training on the whole batch.
func TestEquivalence(t *testing.T) {
	const g, steps = 6, 3
	for _, tc := range []struct {
		ranks, accum int
		pooling      string
		wire         collective.DType
		tol          float64
		dense        bool
		flat         bool   // Note [Optimizer implementations]
		backend      string // "" ring, "nccl" the fake NCCL (package nccltest) on host memory
		sgd          bool   // plain SGD, no clipping; tol is then relative to the update (see below)
	}{
		{2, 1, bert.PoolCLS, collective.Float32, 1e-5, true, false, "", false},
		{2, 1, bert.PoolCLS, collective.Float32, 1e-5, false, false, "", false},
		{3, 1, bert.PoolMean, collective.Float32, 1e-5, false, false, "", false},
		{3, 2, bert.PoolCLS, collective.Float32, 1e-5, false, false, "", false},
		// bf16 on the wire rounds every gradient to 8 bits of mantissa, a
		// relative error of at most 2^-8 per rounding. Under Adam a component
		// that nearly cancels across ranks keeps no relative precision and
		// its normalised step can flip sign (up to 2 x lr per step), so no
		// tolerance both passes rounding and fails a wrong reduction. Plain
		// SGD without clipping keeps the error linear: the parameters may
		// differ by a few roundings of the update (tol 5e-2 of the largest
		// update; measured up to 1e-2 on the classifier bias), while gradients summed instead of
		// averaged double it (an error of 1.0 of the update).
		{2, 1, bert.PoolCLS, collective.BFloat16, 5e-2, false, false, "", true},
		{3, 1, bert.PoolCLS, collective.BFloat16, 5e-2, true, false, "", true},
		// The flat optimizer, over the ring and over NCCL (the CUDA path's
		// backend, whose bf16 wire is ddp's own conversion).
		{2, 1, bert.PoolCLS, collective.Float32, 1e-5, true, true, "", false},
		{3, 2, bert.PoolMean, collective.Float32, 1e-5, true, true, "nccl", false},
		{2, 1, bert.PoolCLS, collective.BFloat16, 5e-2, true, true, "nccl", true},
	} {
		name := fmt.Sprintf("ranks=%d/accum=%d/pool=%s/wire=%v/dense=%v/flat=%v/backend=%s/sgd=%v", tc.ranks, tc.accum, tc.pooling, tc.wire, tc.dense, tc.flat, tc.backend, tc.sgd)
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cfg := tinyConfig(t, tc.pooling)
			init := initialWeights(t, cfg)
			var global [][]*shard.Batch
			for s := range steps {
				global = append(global, globalBatch(g, 10+s))
			}
			var single [][]*shard.Batch
			for _, gb := range global {
				single = append(single, []*shard.Batch{concat(gb)})
			}
			// The reference is plain dense training in one process.
			options := func() engineOptions {
				o := testOptions()
				if tc.sgd {
					o.Optim, o.Clip = optim.Config{Kind: optim.SGD}, 0
				}
				return o
			}
			ref := options()
			ref.DenseEmbeddings = true
			want, err := trainReplica(ctx, cfg, init, nil, ref, single)
			if err != nil {
				t.Fatal(err)
			}
			var comms []collective.Comm
			if tc.backend == "nccl" {
				comms = fakeNCCL(t, ctx, tc.ranks)
			} else {
				comms = loopbackRing(t, ctx, tc.ranks, tc.wire)
			}
			got := make([][]map[string]bert.HostTensor, tc.ranks)
			errs := make([]error, tc.ranks)
			var wg sync.WaitGroup
			for r := range tc.ranks {
				wg.Go(func() {
					var mine [][]*shard.Batch
					for _, gb := range global {
						mine = append(mine, split(gb, r, tc.ranks, tc.accum))
					}
					o := options()
					o.DenseEmbeddings, o.Flat = tc.dense, tc.flat
					o.Wire16 = tc.backend == "nccl" && tc.wire == collective.BFloat16
					if tc.wire == collective.BFloat16 {
						o.WireBytes = 2 // the sparse word-embedding rows travel in bf16 too
					}
					got[r], errs[r] = trainReplica(ctx, cfg, init, comms[r], o, mine)
				})
			}
			wg.Wait()
			for r, err := range errs {
				if err != nil {
					t.Fatalf("rank %d: %v", r, err)
				}
			}
			for s := range steps {
				update, _ := maxDiff(want[s], init)
				if s == steps-1 && update == 0 {
					t.Fatal("training did not change the parameters")
				}
				tol := tc.tol
				if tc.sgd {
					tol *= update
				}
				for r := range tc.ranks {
					d, where := maxDiff(got[r][s], want[s])
					if s == steps-1 {
						t.Logf("rank %d: largest difference %g (%s), largest update %g", r, d, where, update)
					}
					if d > tol {
						t.Errorf("step %d rank %d: %s differs from single-process training by %g (tolerance %g)", s, r, where, d, tol)
					}
					if d, where := maxDiff(got[r][s], got[0][s]); d != 0 {
						t.Errorf("step %d: rank %d's %s differs from rank 0's by %g: replicas must stay bit-identical", s, r, where, d)
					}
				}
			}
		})
	}
}
