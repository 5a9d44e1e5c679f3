// Package collective is the communicator contract of ddprun: the small
// interface that the trainer (package ddp) uses to keep replicas identical,
// and that each backend implements: the pure-Go TCP ring (collective/ring,
// host memory, every machine), NCCL on NVIDIA GPUs (collective/nccl, loaded
// at run time), and Solo for a single rank. collective/hccl only probes
// Intel Gaudi's library: gotch has no HPU device, so nothing trains there.
//
// # Using a communicator
//
// A launcher gives each rank its identity and its peers. Open a Comm with a
// registered backend (or call the backend's own constructor, such as
// ring.New, for full control):
//
//	import _ "github.com/ddprun/ddprun/collective/ring" // registers "ring"
//
//	c, err := collective.Open(ctx, "ring", collective.Options{
//		Rank: rank, Size: size, Peers: peers, // rank -> "host:port"
//		JobID: job, Secret: secret,
//		WireDType: collective.BFloat16, // float32 buffers travel as bfloat16
//	})
//	if err != nil { ... }
//	defer c.Close()
//
// Describe rank-local memory with a Buffer: from a Go slice with Float32s,
// Int64s and friends, or from raw host memory (a contiguous libtorch CPU
// tensor's DataPtr) with NewBuffer. Then reduce it in place:
//
//	grads := collective.NewBuffer(t.DataPtr(), numel, collective.Float32)
//	err := c.AllReduce(ctx, grads, collective.Avg)
//
// Every rank must make the same calls in the same order. The result is
// identical on every rank, bit for bit, whatever the wire precision: with a
// bfloat16 wire the partial sums are rounded once per hop, the final value
// is rounded once more, and every rank ends with that same rounded value.
//
// # Failures
//
// Errors wrap an *OpError (rank, call, sequence number, peer) and one of the
// sentinel errors: ErrPeerLost, ErrTimeout, ErrMismatch, or the context's
// error. A failed call poisons the Comm; later calls return ErrAborted. The
// only way on is to Close every rank's Comm and build new ones (the
// launcher restarts the job from its last checkpoint).
//
// # Extras
//
// Barrier, AllGatherV and AllGatherCounts are helpers built on the Comm
// interface; Options.Integrity asks the ring to authenticate every message; VarAllGatherer and ReduceScatterer are optional interfaces
// that backends implement when they can do better than the helpers.
package collective
