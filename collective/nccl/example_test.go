package nccl_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/nccl"
	"github.com/ddprun/ddprun/collective/ring"
	"github.com/ddprun/ddprun/collective/ring/ringtest"
)

// CommBootstrap carries bytes (here, a stand-in for NCCL's unique id) from
// rank 0 to every rank over any collective.Comm, such as the TCP ring.
func ExampleCommBootstrap() {
	nw := ringtest.NewNetwork(3)
	ids := make([][]byte, 3)
	var wg sync.WaitGroup
	for r := range 3 {
		wg.Go(func() {
			c, err := ring.New(context.Background(), nw.Config(r))
			if err != nil {
				panic(err)
			}
			defer c.Close()
			id := make([]byte, 6) // nccl.UniqueIDBytes in real use
			if r == 0 {
				copy(id, "secret")
			}
			if err := nccl.CommBootstrap(c).BroadcastBytes(context.Background(), id, 0); err != nil {
				panic(err)
			}
			ids[r] = id
		})
	}
	wg.Wait()
	fmt.Printf("%s %s %s\n", ids[0], ids[1], ids[2])
	// Output: secret secret secret
}

// A rank averages a bfloat16 gradient bucket that lives on its GPU. On a
// machine without NCCL, New fails with an error matching nccl.ErrNoLibrary.
func ExampleNew() {
	ctx := context.Background()
	var boot collective.Comm // the launcher's CPU communicator (ring.New)
	cfg := nccl.DefaultConfig()
	cfg.Rank, cfg.Size, cfg.Device = 0, 1, 0
	if boot != nil {
		cfg.Rank, cfg.Size = boot.Rank(), boot.Size()
		cfg.Bootstrap = nccl.CommBootstrap(boot)
	}
	c, err := nccl.New(ctx, cfg)
	if err != nil {
		fmt.Println("no NCCL here:", err != nil)
		return
	}
	defer c.Close()
	var devPtr collective.Buffer // e.g. from a gotch CUDA tensor's DataPtr
	devPtr.DType, devPtr.Device = collective.BFloat16, collective.CUDA
	_ = c.AllReduce(ctx, devPtr, collective.Avg)
}
