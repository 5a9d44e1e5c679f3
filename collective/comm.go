package collective

import "context"

// AllReducer is the interface that wraps the basic AllReduce method.
//
// AllReduce replaces buf on every rank with op applied element-wise over all
// ranks' buf. All ranks must make the same sequence of calls with equal Count,
// DType and Op; a backend that detects a difference returns an error wrapping
// ErrMismatch. Floating-point results are identical, bit for bit, on every
// rank. The caller owns buf: the backend uses it only during the call.
//
// If ctx ends first, AllReduce returns an error wrapping ctx.Err(). If the
// call fails for any reason (context, lost peer, timeout, mismatch) the
// contents of buf are undefined and the Comm is poisoned: later calls fail
// at once with an error wrapping ErrAborted and the first failure.
type AllReducer interface {
	AllReduce(ctx context.Context, buf Buffer, op Op) error
}

// Comm is a communicator over a fixed set of ranks 0..Size()-1.
//
// Calls must not overlap: a Comm runs one collective at a time, and every
// rank must issue the same collectives in the same order. Failure rules are
// those of AllReducer.
type Comm interface {
	AllReducer

	// Broadcast copies root's buf into buf on every other rank. Data travel
	// in buf's own dtype: no wire conversion applies.
	Broadcast(ctx context.Context, buf Buffer, root int) error

	// AllGather concatenates every rank's send, in rank order, into recv on
	// every rank. send.Count must be equal on all ranks, recv.Count must be
	// Size()*send.Count and both must have the same DType. Data travel in
	// their own dtype.
	AllGather(ctx context.Context, send, recv Buffer) error

	// Rank is this process's rank, in [0, Size()).
	Rank() int

	// Size is the number of ranks.
	Size() int

	// Close releases the connections and waits for the Comm's goroutines.
	// It may be called more than once; calls after Close return ErrClosed.
	Close() error
}

// VarAllGatherer is implemented by Comms that gather blocks of different
// sizes natively. Use the AllGatherV function, which falls back to padding
// for Comms without it.
type VarAllGatherer interface {
	// AllGatherV is AllGather where rank r contributes counts[r] elements:
	// send.Count == counts[Rank()], recv.Count == sum(counts). counts must be
	// equal on all ranks.
	AllGatherV(ctx context.Context, send, recv Buffer, counts []int) error
}

// ReduceScatterer is implemented by Comms with a native reduce-scatter.
// Callers test for it at run time.
type ReduceScatterer interface {
	// ReduceScatter reduces buf over all ranks like AllReduce, but only the
	// elements of this rank's block are defined afterwards. Blocks are
	// BlockRange(buf.Count, Size(), r).
	ReduceScatter(ctx context.Context, buf Buffer, op Op) error
}

// BlockRange is the element range [lo, hi) of block r when n elements are
// split into size blocks whose lengths differ by at most one (the first
// n%size blocks are one longer).
func BlockRange(n, size, r int) (lo, hi int) {
	q, rem := n/size, n%size
	lo = r*q + min(r, rem)
	hi = lo + q
	if r < rem {
		hi++
	}
	return lo, hi
}

// Sequencer is implemented by Comms that number their calls: Seq is the
// number of the last collective started, readable from any goroutine while
// a call runs, so that a progress report can say where a rank waits.
type Sequencer interface {
	Seq() uint64
}
