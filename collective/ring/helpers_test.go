package ring_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ddprun/ddprun/collective/ring"
	"github.com/ddprun/ddprun/collective/ring/ringtest"
	"github.com/ddprun/ddprun/internal/leakcheck"
)

func loopbackConfigs(t testing.TB, n int) []ring.Config { return ringtest.Loopback(t, n) }

func memConfigs(nw *ringtest.Network) []ring.Config {
	cfgs := make([]ring.Config, nw.Size())
	for r := range cfgs {
		cfgs[r] = nw.Config(r)
	}
	return cfgs
}

// runAll starts one ring per config, concurrently, runs f on each rank and
// returns every rank's error (from New or f). Comms are closed before it
// returns.
func runAll(ctx context.Context, cfgs []ring.Config, f func(ctx context.Context, c *ring.Comm) error) []error {
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for r, cfg := range cfgs {
		wg.Go(func() {
			c, err := ring.New(ctx, cfg)
			if err != nil {
				errs[r] = err
				return
			}
			defer c.Close()
			errs[r] = f(ctx, c)
		})
	}
	wg.Wait()
	return errs
}

// mustRun is runAll that fails the test on any error, with a deadline.
func mustRun(t *testing.T, cfgs []ring.Config, f func(ctx context.Context, c *ring.Comm) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for r, err := range runAll(ctx, cfgs, f) {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

// checkNoLeaks fails the test if goroutines running this package's code
// outlive it.
func checkNoLeaks(t *testing.T) { leakcheck.Check(t, "collective/ring.") }
