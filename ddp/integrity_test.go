package ddp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/internal/rankenv"
	"github.com/ddprun/ddprun/internal/testbin"
)

// --wire-integrity reaches the ring through OpenComm: two ranks that both
// ask for it connect and all-reduce; ranks that disagree are refused at
// connect (collective.ErrInvalid), which they could not be if the flag
// were dropped on the way.
func TestWireIntegrityFlag(t *testing.T) {
	open := func(integrity [2]bool) ([2]collective.Comm, [2]error) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		peers := []string{fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t))}
		var comms [2]collective.Comm
		var errs [2]error
		var wg sync.WaitGroup
		for r := range 2 {
			wg.Go(func() {
				cfg := DefaultConfig()
				cfg.Device, cfg.Integrity, cfg.Timeout = "cpu", integrity[r], 10*time.Second
				id := rankenv.Identity{Rank: r, WorldSize: 2, LocalRank: r, LocalWorldSize: 2, Peers: peers, JobID: "integrity", Secret: []byte("0123456789abcdef0123456789abcdef")}
				plan, err := Resolve(cfg, id)
				if err != nil {
					errs[r] = err
					return
				}
				comms[r], errs[r] = OpenComm(ctx, id, cfg, plan, nil)
			})
		}
		wg.Wait()
		return comms, errs
	}
	comms, errs := open([2]bool{true, true})
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("both with integrity: %v", errs)
	}
	var wg sync.WaitGroup
	for _, c := range comms {
		wg.Go(func() {
			defer c.Close()
			buf := []float32{float32(c.Rank() + 1)}
			if err := c.AllReduce(t.Context(), collective.Float32s(buf), collective.Sum); err != nil || buf[0] != 3 {
				t.Errorf("rank %d: all-reduce %v, %v", c.Rank(), buf, err)
			}
		})
	}
	wg.Wait()
	comms, errs = open([2]bool{true, false})
	for r, err := range errs {
		if comms[r] != nil {
			comms[r].Close()
		}
		if !errors.Is(err, collective.ErrInvalid) {
			t.Errorf("rank %d with integrity %v against a peer without: %v, want ErrInvalid", r, r == 0, err)
		}
	}
}
