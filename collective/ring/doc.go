// Package ring is the pure-Go TCP backend of package collective: a ring
// all-reduce (reduce-scatter, then all-gather) over persistent,
// authenticated connections to the two ring neighbours, with float32
// buffers optionally sent as bfloat16 or float16.
//
// # Joining a ring
//
// Each rank calls New with its identity and every rank's address. Ranks
// may start in any order: New keeps dialling its right neighbour until
// cfg.ConnectTimeout, and accepts its left neighbour on cfg.Listener.
//
//	ln, _ := net.Listen("tcp", ":0") // the launcher announces ln.Addr()
//	cfg := ring.DefaultConfig()
//	cfg.Rank, cfg.Size, cfg.Peers, cfg.Listener = rank, size, peers, ln
//	cfg.JobID, cfg.Secret = jobID, secret // the same on every rank
//	cfg.WireDType = collective.BFloat16    // float32 gradients travel as bf16
//	c, err := ring.New(ctx, cfg)
//	if err != nil { ... }                  // names the peer and the reason
//	defer c.Close()
//
//	err = c.AllReduce(ctx, collective.NewBuffer(ptr, n, collective.Float32), collective.Avg)
//
// # How data move
//
// Rank r sends only to rank r+1 and receives only from rank r-1, each on
// its own connection. A call announces itself with a 32-byte header on
// each link it uses (sequence number, kind, count, dtypes, op), so ranks
// that disagree get collective.ErrMismatch instead of each other's data as
// garbage. The buffer is split into one block per rank and each block
// into chunks of about cfg.ChunkBytes; a sender goroutine writes chunks
// while the calling goroutine reads and reduces the next ones, so
// sending, receiving and reducing overlap. Each rank sends 2(n-1)/n of the
// buffer (bandwidth-optimal). Buffers of at most cfg.SmallBytes on the wire
// take a latency path: one all-gather of every rank's input (n-1 hops
// instead of 2(n-1)), then the same local reduction on every rank.
//
// With a bfloat16 wire the partial sums are rounded at each hop and the
// final value once more, and every rank ends with the same bits (see Note
// [Bit-identical results] in kernels.go).
//
// # Failures
//
// Every read and write must make progress within cfg.Timeout; TCP
// keepalive notices a vanished host sooner. The first failure poisons the
// Comm and closes both of its connections, so the neighbours' calls fail
// with collective.ErrPeerLost, and theirs in turn: a dead or stalled rank
// stops the whole ring within the timeout. Errors are
// *collective.OpError values naming the rank, the call's sequence number
// and the peer.
//
// # Security
//
// Every connection starts with an HMAC-SHA256 challenge-response in both
// directions over the job secret, the job id, the world size and both
// ranks (see Note [Handshake]). Strangers on a ring port cannot abort the
// job: failed handshakes are dropped and New keeps waiting, each handshake
// within cfg.HandshakeTimeout and side by side with the others (see Note
// [Strangers]). Ranks with different secrets therefore fail only at
// cfg.ConnectTimeout, with an error wrapping ErrAuth. With cfg.Integrity,
// every message after the handshake carries a tag, so a tampered link
// fails the call with ErrIntegrity (see Note [Integrity]). Data are never
// encrypted: run the ring on a trusted network.
//
// Package ringtest provides an in-memory network with seeded faults for
// testing code that uses a ring.
package ring
