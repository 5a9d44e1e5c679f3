package collective_test

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/ddprun/ddprun/collective"
	_ "github.com/ddprun/ddprun/collective/ring" // registers the "ring" backend
)

// Two ranks in one process average a float32 gradient, sending bfloat16 on
// the wire. In a real job each rank is its own process and the launcher
// passes the peers' addresses.
func Example() {
	const size = 2
	lns := make([]net.Listener, size)
	peers := make([]string, size)
	for r := range size {
		lns[r], _ = net.Listen("tcp", "127.0.0.1:0")
		peers[r] = lns[r].Addr().String()
	}
	results := make([][]float32, size)
	var wg sync.WaitGroup
	for r := range size {
		wg.Go(func() {
			ctx := context.Background()
			c, err := collective.Open(ctx, "ring", collective.Options{
				Rank: r, Size: size, Peers: peers, Listener: lns[r],
				JobID: "example", Secret: []byte("per-job secret"),
				WireDType: collective.BFloat16,
			})
			if err != nil {
				panic(err)
			}
			defer c.Close()
			grad := []float32{1, 2, 3.25 + float32(r)}
			if err := c.AllReduce(ctx, collective.Float32s(grad), collective.Avg); err != nil {
				panic(err)
			}
			results[r] = grad
		})
	}
	wg.Wait()
	fmt.Println(results[0], results[1])
	// Output: [1 2 3.75] [1 2 3.75]
}
