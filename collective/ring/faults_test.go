package ring_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/ring"
	"github.com/ddprun/ddprun/collective/ring/ringtest"
)

// loop runs all-reduces until one fails (or 10000 succeed) and returns the
// failure. hook runs before each call.
func loop(hook func(c *ring.Comm, i int)) func(ctx context.Context, c *ring.Comm) error {
	return func(ctx context.Context, c *ring.Comm) error {
		x := make([]float32, 20000)
		for i := range 10000 {
			if hook != nil {
				hook(c, i)
			}
			if err := c.AllReduce(ctx, collective.Float32s(x), collective.Sum); err != nil {
				return err
			}
		}
		return errors.New("no failure")
	}
}

// TestRing_Faults kills a rank or severs a link in the middle of a run of
// all-reduces: every rank must fail with ErrPeerLost, well before the
// timeout, and leave no goroutines behind (synctest checks that).
func TestRing_Faults(t *testing.T) {
	faults := map[string]func(nw *ringtest.Network){
		"kill=3":    func(nw *ringtest.Network) { nw.Kill(3) },
		"kill=0":    func(nw *ringtest.Network) { nw.Kill(0) },
		"sever=1-2": func(nw *ringtest.Network) { nw.Sever(1, 2) },
		"sever=3-0": func(nw *ringtest.Network) { nw.Sever(3, 0) },
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := ringtest.NewNetwork(4, ringtest.Seed(1))
				nw.Delay(2, 3, time.Millisecond, 0.5)
				start := time.Now()
				errs := runAll(t.Context(), memConfigs(nw), loop(func(c *ring.Comm, i int) {
					if c.Rank() == 1 && i == 5 {
						fault(nw)
					}
				}))
				if d := time.Since(start); d > ring.LocalConfig().Timeout {
					t.Errorf("ranks failed after %v, beyond the %v timeout", d, ring.LocalConfig().Timeout)
				}
				for r, err := range errs {
					if !errors.Is(err, collective.ErrPeerLost) {
						t.Errorf("rank %d: got %v, want ErrPeerLost", r, err)
					}
				}
			})
		})
	}
}

// TestRing_Stall: a rank that stops calling makes the others time out
// within the configured timeout (on synctest's fake clock).
func TestRing_Stall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := ringtest.NewNetwork(3)
		start := time.Now()
		errs := runAll(t.Context(), memConfigs(nw), loop(func(c *ring.Comm, i int) {
			if c.Rank() == 2 && i == 3 {
				time.Sleep(time.Hour)
			}
		}))
		sawTimeout := false
		for r, err := range errs {
			sawTimeout = sawTimeout || errors.Is(err, collective.ErrTimeout)
			if r != 2 && !errors.Is(err, collective.ErrTimeout) && !errors.Is(err, collective.ErrPeerLost) {
				t.Errorf("rank %d: got %v, want a timeout or a lost peer", r, err)
			}
		}
		if !sawTimeout {
			t.Errorf("no rank reported ErrTimeout: %v", errs)
		}
		if d := time.Since(start); d < time.Hour {
			t.Errorf("finished after %v; the stalled rank sleeps an hour", d)
		}
	})
}

// TestRing_StallDeadline checks when the others fail: within the timeout.
func TestRing_StallDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := ringtest.NewNetwork(3)
		cfgs := memConfigs(nw)
		stalled := make(chan struct{})
		var took [3]time.Duration
		runAll(t.Context(), cfgs, func(ctx context.Context, c *ring.Comm) error {
			x := make([]float32, 100)
			if c.Rank() == 2 {
				<-stalled // never calls
				return nil
			}
			start := time.Now()
			err := c.AllReduce(ctx, collective.Float32s(x), collective.Sum)
			took[c.Rank()] = time.Since(start)
			if c.Rank() == 0 {
				close(stalled)
			}
			return err
		})
		timeout := cfgs[0].Timeout
		for r := range 2 {
			if took[r] > timeout+time.Second || took[r] < timeout/2 {
				t.Errorf("rank %d failed after %v; timeout is %v", r, took[r], timeout)
			}
		}
	})
}

// TestRing_Mismatch: ranks that disagree on the call get ErrMismatch
// naming both ranks, instead of garbage; the others lose their peers.
func TestRing_Mismatch(t *testing.T) {
	cases := map[string]func(ctx context.Context, c *ring.Comm) error{
		"count": func(ctx context.Context, c *ring.Comm) error {
			return c.AllReduce(ctx, collective.Float32s(make([]float32, 10+c.Rank()/2)), collective.Sum)
		},
		"op": func(ctx context.Context, c *ring.Comm) error {
			op := collective.Sum
			if c.Rank() == 1 {
				op = collective.Max
			}
			return c.AllReduce(ctx, collective.Float32s(make([]float32, 10)), op)
		},
		"kind": func(ctx context.Context, c *ring.Comm) error {
			x := collective.Float32s(make([]float32, 10))
			if c.Rank() == 1 {
				return c.AllGather(ctx, x.Slice(0, 2), x.Slice(0, 8))
			}
			return c.AllReduce(ctx, x, collective.Sum)
		},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				errs := runAll(t.Context(), memConfigs(ringtest.NewNetwork(4)), f)
				n := 0
				for r, err := range errs {
					switch {
					case errors.Is(err, collective.ErrMismatch):
						n++
						t.Logf("rank %d: %v", r, err)
					case !errors.Is(err, collective.ErrPeerLost):
						t.Errorf("rank %d: got %v, want ErrMismatch or ErrPeerLost", r, err)
					}
				}
				if n == 0 {
					t.Error("no rank reported ErrMismatch")
				}
			})
		})
	}
}

// TestRing_Poisoned: after a failure, calls fail at once with ErrAborted
// (wrapping the first failure); after Close, with ErrClosed.
func TestRing_Poisoned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := ringtest.NewNetwork(2)
		runAll(t.Context(), memConfigs(nw), func(ctx context.Context, c *ring.Comm) error {
			x := collective.Float32s(make([]float32, 10))
			cctx, cancel := context.WithCancel(ctx)
			if c.Rank() == 0 {
				cancel()
			}
			err := c.AllReduce(cctx, x, collective.Sum)
			cancel()
			if c.Rank() == 0 && !errors.Is(err, context.Canceled) {
				t.Errorf("rank 0: got %v, want context.Canceled", err)
			}
			if c.Rank() == 1 && !errors.Is(err, collective.ErrPeerLost) {
				t.Errorf("rank 1: got %v, want ErrPeerLost", err)
			}
			err2 := c.Broadcast(ctx, x, 0)
			if !errors.Is(err2, collective.ErrAborted) || !errors.Is(err2, errors.Unwrap(err)) {
				t.Errorf("rank %d: after a failure got %v, want ErrAborted wrapping %v", c.Rank(), err2, err)
			}
			c.Close()
			c.Close()
			return nil
		})
		c, err := ring.New(t.Context(), ring.Config{Rank: 0, Size: 1})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if err := collective.Barrier(t.Context(), c); !errors.Is(err, collective.ErrClosed) {
			t.Errorf("after Close: got %v, want ErrClosed", err)
		}
	})
}

// TestRing_ConnectAnyOrder: ranks start in any order within the connect
// timeout, and a rank that never starts makes the others fail in time.
func TestRing_ConnectAnyOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := ringtest.NewNetwork(5)
		cfgs := memConfigs(nw)
		errs := make(chan error, 5)
		for _, r := range []int{3, 1, 4, 0, 2} {
			go func() {
				time.Sleep(time.Duration(r*r) * 300 * time.Millisecond)
				c, err := ring.New(t.Context(), cfgs[r])
				if err == nil {
					err = collective.Barrier(t.Context(), c)
					c.Close()
				}
				errs <- err
			}()
		}
		for range 5 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
	synctest.Test(t, func(t *testing.T) {
		nw := ringtest.NewNetwork(3)
		cfgs := memConfigs(nw)
		start := time.Now()
		errs := runAll(t.Context(), cfgs[:2], func(context.Context, *ring.Comm) error { return nil })
		if d := time.Since(start); d != cfgs[0].ConnectTimeout {
			t.Errorf("ranks gave up after %v, want the connect timeout %v", d, cfgs[0].ConnectTimeout)
		}
		// Rank 0 waits for rank 2 to dial it; rank 1 cannot dial rank 2.
		wants := []string{"(peer rank 2): accept on mem:0: context deadline exceeded", "(peer rank 2): dial mem:2: gave up after"}
		for r, err := range errs {
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(fmt.Sprint(err), wants[r]) {
				t.Errorf("rank %d without rank 2: got %v, want a connect timeout saying %q", r, err, wants[r])
			}
		}
	})
}

// TestRing_Handshake: a wrong secret or another job's rank cannot abort a
// rank (see Note [Strangers]): the ranks keep trying until the connect
// timeout, and the error then says what was refused.
func TestRing_Handshake(t *testing.T) {
	t.Run("secret/transport=mem", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cfgs := memConfigs(ringtest.NewNetwork(2))
			for r := range cfgs {
				cfgs[r].ConnectTimeout = 3 * time.Second
			}
			cfgs[1].Secret = []byte("another secret")
			start := time.Now()
			errs := runAll(t.Context(), cfgs, func(context.Context, *ring.Comm) error { return nil })
			if d := time.Since(start); d != cfgs[0].ConnectTimeout {
				t.Errorf("ranks gave up after %v, want the connect timeout %v", d, cfgs[0].ConnectTimeout)
			}
			checkAuthErrors(t, errs, "mem:")
		})
	})
	t.Run("secret/transport=tcp", func(t *testing.T) {
		checkNoLeaks(t)
		cfgs := loopbackConfigs(t, 2)
		for r := range cfgs {
			cfgs[r].ConnectTimeout = time.Second
		}
		cfgs[1].Secret = []byte("another secret")
		checkAuthErrors(t, runAll(t.Context(), cfgs, func(context.Context, *ring.Comm) error { return nil }), "127.0.0.1")
	})
	t.Run("job", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cfgs := memConfigs(ringtest.NewNetwork(2))
			cfgs[1].JobID = "another job"
			for r := range cfgs {
				cfgs[r].ConnectTimeout = 3 * time.Second
			}
			start := time.Now()
			errs := runAll(t.Context(), cfgs, func(context.Context, *ring.Comm) error { return nil })
			if d := time.Since(start); d != cfgs[0].ConnectTimeout {
				t.Errorf("ranks gave up after %v, want the connect timeout %v", d, cfgs[0].ConnectTimeout)
			}
			// Each rank refused the other's hellos and was refused in turn.
			claims := []string{`from mem:1: another identity: claims job "another job" rank 1 of 2 for rank 0`,
				`from mem:0: another identity: claims job "ringtest" rank 0 of 2 for rank 1`}
			for r, err := range errs {
				t.Logf("rank %d: %v", r, err)
				if !errors.Is(err, ring.ErrRefused) || errors.Is(err, ring.ErrAuth) {
					t.Errorf("rank %d: got %v, want ErrRefused (and not ErrAuth)", r, err)
				}
				if msg := fmt.Sprint(err); !strings.Contains(msg, claims[r]) {
					t.Errorf("rank %d: error does not say what it refused (%q):\n%s", r, claims[r], msg)
				}
			}
		})
	})
}

// checkAuthErrors checks the errors of two ranks with different secrets:
// each names its peer, wraps ErrAuth and asks about the secret, for the
// handshakes it dialled and those it accepted.
func checkAuthErrors(t *testing.T, errs []error, host string) {
	t.Helper()
	for r, err := range errs {
		t.Logf("rank %d: %v", r, err)
		if !errors.Is(err, ring.ErrAuth) {
			t.Errorf("rank %d: got %v, want ErrAuth", r, err)
			continue
		}
		msg := err.Error()
		for _, want := range []string{
			fmt.Sprintf("(peer rank %d): dial", 1-r),
			fmt.Sprintf("(peer rank %d): accept", 1-r),
			"connections to " + host,
			"connections from " + host,
			"failed authentication",
			"do the ranks share the job secret?",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("rank %d: error does not say %q:\n%s", r, want, msg)
			}
		}
	}
}
