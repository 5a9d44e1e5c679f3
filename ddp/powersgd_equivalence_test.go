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
	"github.com/ddprun/ddprun/ddp/optim"
	"github.com/ddprun/ddprun/internal/torchrt"
	"github.com/ddprun/ddprun/shard"
)

// What of TestEquivalence still holds with --compress powersgd (Note
// [PowerSGD]). Compressed training is not single-process training: the
// averaged gradient of a compressed matrix is replaced by its projection
// onto the span of P. So the checks are:
//
//   - replicas stay bit-identical, every step;
//   - with no matrix worth compressing (the rank too high for every
//     parameter), training equals single-process training within the fp32
//     tolerance of TestEquivalence: the error feedback of uncompressed
//     tensors (each rank's difference from the average) sums to zero;
//   - on the first compressed step, with plain SGD from the same weights,
//     each compressed matrix's update d is the orthogonal projection of the
//     single-process update u: <d, u - d> = 0 and |d| <= |u| (within float
//     rounding), and d != u; every other parameter's update equals u.
func TestEquivalence_PowerSGD(t *testing.T) {
	cfg := tinyConfig(t, bert.PoolCLS)
	init := initialWeights(t, cfg)
	var global [][]*shard.Batch
	for s := range 3 {
		global = append(global, globalBatch(6, 10+s))
	}
	t.Run("nothing worth compressing", func(t *testing.T) {
		ref := testOptions()
		ref.DenseEmbeddings = true
		o := testOptions()
		o.Compress = Compression{Rank: 16, Start: 0}
		want, got, compressed := trainCompressed(t, cfg, init, global, 2, collective.Float32, ref, o)
		delete(compressed, started)
		if len(compressed) != 0 {
			t.Fatalf("rank 16 compressed %v in the tiny model", compressed)
		}
		for s := range global {
			for r := range got {
				if d, where := maxDiff(got[r][s], want[s]); d > 1e-5 {
					t.Errorf("step %d rank %d: %s differs from single-process training by %g (tolerance 1e-5)", s, r, where, d)
				}
			}
		}
	})
	t.Run("first compressed step projects", func(t *testing.T) {
		sgd := testOptions()
		sgd.Optim, sgd.Clip = optim.Config{Kind: optim.SGD}, 0
		sgd.Sched = optim.Schedule{Kind: optim.Constant, Total: 10}
		// Updates far above the parameters' float32 spacing (the tiny
		// model's attention gradients are ~1e-6), so that the difference
		// of parameters is the update; one step, so any rate is stable.
		sgd.LR = 1e3
		ref := sgd
		ref.DenseEmbeddings = true
		o := sgd
		o.Compress = Compression{Rank: 1, Start: 0}
		want, got, compressed := trainCompressed(t, cfg, init, global[:1], 2, collective.Float32, ref, o)
		if len(compressed) == 0 {
			t.Fatal("rank 1 compressed nothing")
		}
		delete(compressed, started)
		checkProjection(t, init, want[0], got[0][0], compressed)
	})
	t.Run("replicas identical, 3 ranks, bf16 wire", func(t *testing.T) {
		ref := testOptions()
		ref.DenseEmbeddings = true
		o := testOptions()
		o.Compress, o.WireBytes = Compression{Rank: 2, Start: 1}, 2
		want, _, compressed := trainCompressed(t, cfg, init, global, 3, collective.BFloat16, ref, o)
		if len(compressed) == 0 {
			t.Fatal("rank 2 compressed nothing")
		}
		if d, _ := maxDiff(want[2], init); d == 0 {
			t.Fatal("training did not change the parameters")
		}
	})
}

// checkProjection is the third check of TestEquivalence_PowerSGD.
func checkProjection(t *testing.T, init, want, got map[string]bert.HostTensor, compressed map[string]bool) {
	t.Helper()
	for name, w0 := range init {
		var uu, dd, du, diff, big float64
		for i, v := range w0.Data {
			u, d := float64(want[name].Data[i]-v), float64(got[name].Data[i]-v)
			uu, dd, du = uu+u*u, dd+d*d, du+d*u
			diff, big = math.Max(diff, math.Abs(d-u)), math.Max(big, math.Abs(u))
		}
		if !compressed[name] {
			if diff > 1e-4*big+1e-9 {
				t.Errorf("%s (not compressed): update differs from single-process training's by %g (largest %g)", name, diff, big)
			}
			continue
		}
		t.Logf("%s: |d| / |u| = %.3f, <d, u-d> / |u|^2 = %.2g", name, math.Sqrt(dd/uu), (du-dd)/uu)
		switch {
		case math.Abs(du-dd) > 1e-5*uu:
			t.Errorf("%s: <d, u - d> = %g, |u|^2 = %g: the update is not a projection of the averaged gradient's", name, du-dd, uu)
		case dd > uu*(1+1e-5):
			t.Errorf("%s: |d|^2 = %g > |u|^2 = %g", name, dd, uu)
		case diff <= 1e-3*big:
			t.Errorf("%s: compressed, yet the update equals single-process training's", name)
		}
	}
}

// trainCompressed trains single-process (ref) and n ranks with o over the
// ring, and returns both runs' parameters after every step (checking that
// the replicas are bit-identical) and the names of the compressed
// parameters.
func trainCompressed(t *testing.T, cfg bert.Config, init map[string]bert.HostTensor, global [][]*shard.Batch, n int, wire collective.DType,
	ref, o engineOptions) (want []map[string]bert.HostTensor, got [][]map[string]bert.HostTensor, compressed map[string]bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var single [][]*shard.Batch
	for _, gb := range global {
		single = append(single, []*shard.Batch{concat(gb)})
	}
	want, err := trainReplica(ctx, cfg, init, nil, ref, single)
	if err != nil {
		t.Fatal(err)
	}
	comms := loopbackRing(t, ctx, n, wire)
	got = make([][]map[string]bert.HostTensor, n)
	errs := make([]error, n)
	names := make([]map[string]bool, n)
	var wg sync.WaitGroup
	for r := range n {
		wg.Go(func() {
			var mine [][]*shard.Batch
			for _, gb := range global {
				mine = append(mine, split(gb, r, n, 1))
			}
			got[r], names[r], errs[r] = trainPSGDReplica(ctx, cfg, init, comms[r], o, mine)
			if errs[r] == nil && len(names[r]) > 0 && !names[r][started] {
				errs[r] = fmt.Errorf("%d steps, and compression never started (Compress.Start %d)", len(mine), o.Compress.Start)
			}
		})
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	for s := range global {
		for r := 1; r < n; r++ {
			if d, where := maxDiff(got[r][s], got[0][s]); d != 0 {
				t.Errorf("step %d: rank %d's %s differs from rank 0's by %g: replicas must stay bit-identical", s, r, where, d)
			}
		}
	}
	return want, got, names[0]
}

// started is the key of trainPSGDReplica's map that says compression
// started: a residual was kept.
const started = "(started)"

// trainPSGDReplica is trainReplica that also reports which parameters
// PowerSGD compresses, and whether it started (key started).
func trainPSGDReplica(ctx context.Context, cfg bert.Config, init map[string]bert.HostTensor, comm collective.Comm, o engineOptions,
	steps [][]*shard.Batch) (out []map[string]bert.HostTensor, compressed map[string]bool, err error) {
	err = torchrt.Run(torchrt.Config{Threads: 1}, func(th *torchrt.Thread) error {
		m, err := bert.New(cfg, gotch.CPU)
		if err != nil {
			return err
		}
		defer m.Drop()
		if comm.Rank() == 0 {
			if _, err := m.LoadState(init, bert.LoadOptions{}); err != nil {
				return err
			}
		}
		e, err := newEngine(ctx, m, comm, o)
		if err != nil {
			return err
		}
		defer e.close()
		compressed = map[string]bool{}
		for _, b := range e.red.psgd.buckets {
			for _, l := range b.mats {
				compressed[l.name] = true
			}
		}
		for _, micro := range steps {
			if _, err := e.trainStep(ctx, micro); err != nil {
				return err
			}
			if e.red.psgd.buckets[0].resid != nil {
				compressed[started] = true
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
	return out, compressed, err
}
