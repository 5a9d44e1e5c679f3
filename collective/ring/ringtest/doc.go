// Package ringtest wires N ring ranks together inside one process over an
// in-memory network with seeded faults, the way memberlist's MockNetwork
// and raft's rafttest do:
//
//	nw := ringtest.NewNetwork(4, ringtest.Seed(1))
//	nw.Delay(2, 3, 5*time.Millisecond, 0.5) // half the writes 2->3 wait 5ms
//	c, err := ring.New(ctx, nw.Config(r))   // for each rank r, concurrently
//	nw.Kill(3)                              // rank 3's links all break
//
// Network.Dialer(-1) dials from outside the ring, for tests of strangers
// on a rank's port.
//
// Connections are net.Pipe pairs, so the network works inside a
// testing/synctest bubble (create it inside the bubble), where the ring's
// timeouts run on the fake clock.
package ringtest
