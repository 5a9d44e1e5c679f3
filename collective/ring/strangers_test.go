package ring_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/ring"
	"github.com/ddprun/ddprun/collective/ring/ringtest"
)

// connectAndBarrier joins the ring with cfg and runs one barrier.
func connectAndBarrier(ctx context.Context, cfg ring.Config) error {
	c, err := ring.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	return collective.Barrier(ctx, c)
}

// TestRing_SilentStrangers opens connections to rank 1's port that never
// say anything, before rank 0 (its left neighbour) dials. The handshake
// timeout is an hour and the connect timeout a minute, so if a stranger's
// handshake held up the real one, connect would fail: handshakes must run
// side by side. The strangers' connections are closed once the ring is up.
func TestRing_SilentStrangers(t *testing.T) {
	for _, silent := range []int{1, 5} {
		t.Run(fmt.Sprintf("transport=mem/silent=%d", silent), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testSilentStrangersMem(t, silent) })
		})
		t.Run(fmt.Sprintf("transport=tcp/silent=%d", silent), func(t *testing.T) {
			checkNoLeaks(t)
			testSilentStrangersTCP(t, silent)
		})
	}
}

func testSilentStrangersMem(t *testing.T, silent int) {
	nw := ringtest.NewNetwork(2)
	cfgs := memConfigs(nw)
	for r := range cfgs {
		cfgs[r].HandshakeTimeout = time.Hour
		cfgs[r].ConnectTimeout = time.Minute
	}
	start := time.Now()
	errs := make(chan error, 2)
	go func() { errs <- connectAndBarrier(t.Context(), cfgs[1]) }()
	dialed := make(chan net.Conn, silent)
	for range silent {
		go func() {
			conn, err := nw.Dialer(-1).DialContext(t.Context(), "tcp", nw.Addr(1))
			if err != nil {
				t.Errorf("stranger: %v", err)
			}
			dialed <- conn
		}()
	}
	var strangers []net.Conn
	for range silent {
		if conn := <-dialed; conn != nil {
			defer conn.Close()
			strangers = append(strangers, conn)
		}
	}
	go func() { errs <- connectAndBarrier(t.Context(), cfgs[0]) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if d := time.Since(start); d >= cfgs[0].ConnectTimeout {
		t.Errorf("connected after %v (fake clock), not before the connect timeout", d)
	}
	checkClosed(t, strangers)
}

// checkClosed checks that the ring closed the strangers' connections.
func checkClosed(t *testing.T, strangers []net.Conn) {
	t.Helper()
	for i, conn := range strangers {
		conn.SetReadDeadline(time.Now().Add(time.Minute)) // a bound on a hang, not a measurement
		if n, err := conn.Read(make([]byte, 64)); !errors.Is(err, io.EOF) {
			t.Errorf("stranger %d: read %d bytes, %v; want EOF (closed once the ring was up)", i, n, err)
		}
	}
}

func testSilentStrangersTCP(t *testing.T, silent int) {
	cfgs := loopbackConfigs(t, 2)
	for r := range cfgs {
		cfgs[r].HandshakeTimeout = time.Hour
		cfgs[r].ConnectTimeout = 10 * time.Second
	}
	var strangers []net.Conn
	for range silent {
		conn, err := net.Dial("tcp", cfgs[1].Peers[1]) // queued before rank 1 accepts
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		strangers = append(strangers, conn)
	}
	for r, err := range runAll(t.Context(), cfgs, func(ctx context.Context, c *ring.Comm) error {
		return collective.Barrier(ctx, c)
	}) {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
	checkClosed(t, strangers)
}

// TestRing_Impostors: strangers that claim the right identity (the
// refusals no longer tell it, but it is no secret) and then send a wrong
// proof or forge a refusal saying the real rank's secret is wrong. On the
// acceptor's side they connect to rank 1 claiming to be rank 0; on the
// dialer's side they answer rank 0's first dials in rank 1's place. None
// of it may stop the ring from forming.
func TestRing_Impostors(t *testing.T) {
	attacks := map[string]struct {
		typ     byte
		payload []byte
	}{
		"wrong-proof":    {ring.FrameProof, make([]byte, 32)},
		"forged-refusal": {ring.FrameError, append([]byte{ring.RefuseAuth}, "forged refusal"...)},
	}
	for name, a := range attacks {
		t.Run("side=acceptor/attack="+name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := ringtest.NewNetwork(2)
				cfgs := memConfigs(nw)
				errs := make(chan error, 2)
				go func() { errs <- connectAndBarrier(t.Context(), cfgs[1]) }()
				for range 3 {
					conn, err := nw.Dialer(-1).DialContext(t.Context(), "tcp", nw.Addr(1))
					if err != nil {
						t.Fatal(err)
					}
					if err := ring.Impostor(conn, "ringtest", 2, 0, 1, a.typ, a.payload); err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, conn) // until rank 1 drops us
					conn.Close()
				}
				go func() { errs <- connectAndBarrier(t.Context(), cfgs[0]) }()
				for range 2 {
					if err := <-errs; err != nil {
						t.Error(err)
					}
				}
			})
		})
	}
	for _, forge := range []bool{false, true} {
		t.Run(fmt.Sprintf("side=dialer/forged-refusal=%v", forge), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := ringtest.NewNetwork(2)
				cfgs := memConfigs(nw)
				fake := &fakeFirst{Dialer: cfgs[0].Dialer, n: 3, forge: forge}
				cfgs[0].Dialer = fake
				for r, err := range runAll(t.Context(), cfgs, func(ctx context.Context, c *ring.Comm) error {
					return collective.Barrier(ctx, c)
				}) {
					if err != nil {
						t.Errorf("rank %d: %v", r, err)
					}
				}
				if fake.answered.Load() != 3 {
					t.Errorf("the fake acceptor answered %d dials, want 3", fake.answered.Load())
				}
			})
		})
	}
}

// fakeFirst answers the first n dials with ring.FakeAcceptor.
type fakeFirst struct {
	ring.Dialer
	n        int32
	forge    bool
	answered atomic.Int32
}

func (d *fakeFirst) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.answered.Load() >= d.n {
		return d.Dialer.DialContext(ctx, network, addr)
	}
	a, b := net.Pipe()
	d.answered.Add(1)
	go func() {
		defer b.Close()
		if err := ring.FakeAcceptor(b, d.forge); err == nil {
			io.Copy(io.Discard, b) // until the dialer gives up on us
		}
	}()
	return a, nil
}
