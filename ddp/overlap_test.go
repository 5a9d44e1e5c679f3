package ddp

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sugarme/gotch"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/internal/torchrt"
	"github.com/ddprun/ddprun/shard"
)

// Buckets are handed to the all-reduce goroutine while backward still
// runs: the gradient hooks find every bucket complete during backward (the
// goroutine may start it at once; whether it wins the race against the end
// of backward depends on the machine, so that is only logged), and the
// result is the one the equivalence test checks.
func TestOverlapStartsBeforeBackwardEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cfg := tinyConfig(t, bert.PoolCLS)
	comms := loopbackRing(t, ctx, 2, collective.Float32)
	var wg sync.WaitGroup
	early, hooked := make([]int64, 2), make([]int64, 2)
	buckets := make([]int, 2)
	errs := make([]error, 2)
	for r := range 2 {
		wg.Go(func() {
			errs[r] = torchrt.Run(torchrt.Config{Threads: 1}, func(*torchrt.Thread) error {
				m, err := bert.New(cfg, gotch.CPU)
				if err != nil {
					return err
				}
				defer m.Drop()
				o := testOptions()
				o.CapBytes = 16 << 10
				e, err := newEngine(ctx, m, comms[r], o)
				if err != nil {
					return err
				}
				defer e.close()
				for s := range 3 {
					if _, err := e.trainStep(ctx, []*shard.Batch{concat(globalBatch(3, 12+s))}); err != nil {
						return err
					}
				}
				early[r], hooked[r], buckets[r] = e.red.overlap.early.Load(), e.red.overlap.hooked.Load(), len(e.red.buckets)
				return nil
			})
		})
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	for r := range 2 {
		if buckets[r] < 4 || hooked[r] != int64(3*buckets[r]) {
			t.Errorf("rank %d: %d buckets, %d found complete by the hooks during 3 backward passes, want all", r, buckets[r], hooked[r])
		}
	}
	t.Logf("%d buckets; all-reduces that started before backward returned, over 3 steps: %v", buckets[0], early)
}
