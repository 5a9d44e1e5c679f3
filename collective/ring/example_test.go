package ring_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/ring"
	"github.com/ddprun/ddprun/collective/ring/ringtest"
)

// Three ranks on an in-memory network broadcast parameters from rank 0,
// then sum per-rank counts.
func ExampleNew() {
	nw := ringtest.NewNetwork(3)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for r := range nw.Size() {
		wg.Go(func() {
			ctx := context.Background()
			c, err := ring.New(ctx, nw.Config(r))
			if err != nil {
				panic(err)
			}
			defer c.Close()
			params := []float32{0, 0}
			if r == 0 {
				params = []float32{0.5, -1}
			}
			n := []int64{int64(10 * (r + 1))}
			if err := c.Broadcast(ctx, collective.Float32s(params), 0); err != nil {
				panic(err)
			}
			if err := c.AllReduce(ctx, collective.Int64s(n), collective.Sum); err != nil {
				panic(err)
			}
			if r == 2 {
				mu.Lock()
				fmt.Println(params, n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Output: [0.5 -1] [60]
}
