package ring_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/ring"
	"github.com/ddprun/ddprun/collective/ring/ringtest"
)

// TestRing_Integrity: with Config.Integrity every collective still gives
// exact results, on both paths and transports.
func TestRing_Integrity(t *testing.T) {
	for _, tr := range transports {
		for _, n := range []int{2, 3} {
			for _, count := range []int{0, 1, 100_003} {
				for _, path := range paths {
					t.Run(fmt.Sprintf("transport=%s/ranks=%d/count=%d/path=%s", tr.name, n, count, path.name), func(t *testing.T) {
						cfgs := tr.cfgs(t, n)
						for r := range cfgs {
							cfgs[r].Integrity = true
							path.set(&cfgs[r], count)
						}
						testAllReduceExact(t, cfgs, count)
					})
				}
			}
		}
	}
	t.Run("broadcast+allgather", func(t *testing.T) {
		cfgs := memConfigs(ringtest.NewNetwork(3))
		for r := range cfgs {
			cfgs[r].Integrity, cfgs[r].ChunkBytes = true, 1024
		}
		mustRun(t, cfgs, func(ctx context.Context, c *ring.Comm) error {
			x := exactInput(c.Rank(), 5000)
			if err := c.Broadcast(ctx, collective.Float32s(x), 2); err != nil {
				return err
			}
			if d := diffFloats(exactInput(2, 5000), x); d != "" {
				return fmt.Errorf("rank %d broadcast: %s", c.Rank(), d)
			}
			all := make([]float32, 3*5000)
			if err := c.AllGather(ctx, collective.Float32s(exactInput(c.Rank(), 5000)), collective.Float32s(all)); err != nil {
				return err
			}
			want := slices.Concat(exactInput(0, 5000), exactInput(1, 5000), exactInput(2, 5000))
			if d := diffFloats(want, all); d != "" {
				return fmt.Errorf("rank %d all-gather: %s", c.Rank(), d)
			}
			return nil
		})
	})
}

// tamperConn is a man in the middle on a link: once armed, it flips one
// bit of the byte at a given offset of what is written next.
type tamperConn struct {
	net.Conn
	at atomic.Int64 // offset of the byte to flip; negative: off
}

func (c *tamperConn) arm(offset int64) { c.at.Store(offset) }

func (c *tamperConn) Write(b []byte) (int, error) {
	switch at := c.at.Load(); {
	case at < 0:
	case at < int64(len(b)):
		b = bytes.Clone(b) // b may be the caller's buffer
		b[at] ^= 0x40
		c.at.Store(-1)
	default:
		c.at.Add(-int64(len(b)))
	}
	return c.Conn.Write(b)
}

type tamperDialer struct {
	ring.Dialer
	conn *tamperConn
}

func (d *tamperDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := d.Dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.conn = &tamperConn{Conn: conn}
	d.conn.arm(-1)
	return d.conn, nil
}

// TestRing_IntegrityTamper flips one bit of the data on the link from rank
// 0 to rank 1 during the second of two all-reduces. With Integrity, rank 1
// fails with ErrIntegrity naming rank 0, and the others lose their peers.
// Without it, the same flip goes unnoticed and corrupts the result (which
// shows the flip lands in the data).
func TestRing_IntegrityTamper(t *testing.T) {
	for _, integrity := range []bool{true, false} {
		t.Run(fmt.Sprintf("integrity=%v", integrity), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n, count = 3, 20000 // the ring path: more than SmallBytes
				cfgs := memConfigs(ringtest.NewNetwork(n))
				mitm := &tamperDialer{Dialer: cfgs[0].Dialer}
				cfgs[0].Dialer = mitm
				for r := range cfgs {
					cfgs[r].Integrity = integrity
				}
				inputs := make([][]float32, n)
				for r := range inputs {
					inputs[r] = exactInput(r, count)
				}
				got := make([][]float32, n)
				errs := runAll(t.Context(), cfgs, func(ctx context.Context, c *ring.Comm) error {
					x := append([]float32(nil), inputs[c.Rank()]...)
					if err := c.AllReduce(ctx, collective.Float32s(x), collective.Sum); err != nil {
						return fmt.Errorf("first all-reduce: %w", err)
					}
					if c.Rank() == 0 {
						mitm.conn.arm(100) // past the 32-byte header (and its tag): in the first chunk
					}
					x = append(x[:0], inputs[c.Rank()]...)
					err := c.AllReduce(ctx, collective.Float32s(x), collective.Sum)
					got[c.Rank()] = x
					return err
				})
				if integrity {
					checkTamperDetected(t, errs)
					return
				}
				for r, err := range errs {
					if err != nil {
						t.Fatalf("rank %d: %v", r, err)
					}
				}
				want := naive(inputs, collective.Sum)
				if !slices.ContainsFunc(got, func(x []float32) bool { return diffFloats(want, x) != "" }) {
					t.Error("the flipped bit changed no rank's result: the test tampers with nothing")
				}
			})
		})
	}
}

func checkTamperDetected(t *testing.T, errs []error) {
	t.Helper()
	for r, err := range errs {
		t.Logf("rank %d: %v", r, err)
		switch {
		case !errors.Is(err, collective.ErrPeerLost):
			t.Errorf("rank %d: got %v, want ErrPeerLost", r, err)
		case r == 1 && (!errors.Is(err, ring.ErrIntegrity) || !strings.Contains(err.Error(), "(peer rank 0)")):
			t.Errorf("rank 1: got %v, want ErrIntegrity naming peer rank 0", err)
		}
	}
}

// TestRing_IntegrityMismatch: ranks that disagree on Integrity fail at the
// handshake, at once and saying so, rather than at the connect timeout.
func TestRing_IntegrityMismatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfgs := memConfigs(ringtest.NewNetwork(2))
		for r := range cfgs {
			cfgs[r].ConnectTimeout = time.Minute
		}
		cfgs[0].Integrity = true
		start := time.Now()
		errs := runAll(t.Context(), cfgs, func(context.Context, *ring.Comm) error { return nil })
		if d := time.Since(start); d >= cfgs[0].ConnectTimeout {
			t.Errorf("ranks failed after %v (fake clock), at the connect timeout", d)
		}
		for r, err := range errs {
			t.Logf("rank %d: %v", r, err)
			if !errors.Is(err, collective.ErrInvalid) || !strings.Contains(fmt.Sprint(err), "Integrity on") ||
				!strings.Contains(fmt.Sprint(err), "Integrity off") || !strings.Contains(fmt.Sprint(err), "(peer rank") {
				t.Errorf("rank %d: got %v, want ErrInvalid naming the peer and both settings", r, err)
			}
		}
	})
}
