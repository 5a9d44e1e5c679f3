package shard

import "fmt"

// Note [Sampler]: the sampler follows PyTorch's DistributedSampler. An epoch
// has a global order, a permutation of 0..n-1 from seed+epoch (see Note
// [Permutation]), optionally regrouped by length (see Note [Length
// grouping]). The global order depends on the seed and the epoch only, never
// on the number of ranks. The epoch's stream is the global order extended by
// repeating it from its head (position p holds order[p mod n]) and cut to a
// multiple of the world size: up (padding, the default) or down (dropLast).
// Rank r takes stream positions r, r+size, r+2*size, ...
//
// A stream may start at an offset o, a count of global samples already
// consumed (see State). The rest of the epoch is then positions o.. of the
// same extended order, cut so that its length is a multiple of the world
// size. With o = 0 this is exactly DistributedSampler, given the
// permutation (which is ours, not torch.randperm's); with the world size
// unchanged and o a multiple of it (always true for offsets that Loader
// records), it is exactly the tail of the uninterrupted stream.

// Indices returns the dataset indices that rank takes in an epoch, with the
// semantics of PyTorch's DistributedSampler(shuffle=True): a permutation of
// 0..n-1 from seed+epoch (Permutation, not torch.randperm, so not PyTorch's
// order: see Note [Permutation]), padded by repeating it from its head (or,
// with dropLast, cut) to a multiple of size, of which rank takes every
// size-th index starting at rank. Every rank gets the same count: ceil(n/size), or
// floor(n/size) with dropLast. Indices panics if size < 1, rank is not in
// [0, size) or n < 0. See Note [Sampler].
func Indices(n, rank, size int, seed, epoch uint64, dropLast bool) []int {
	checkWorld(n, rank, size)
	return rankIndices(Permutation(n, seed+epoch), 0, rank, size, dropLast)
}

// checkWorld panics on arguments that no caller should pass.
func checkWorld(n, rank, size int) {
	if size < 1 || rank < 0 || rank >= size || n < 0 {
		panic(fmt.Sprintf("shard: bad sampler arguments n=%d rank=%d size=%d", n, rank, size))
	}
}

// streamEnd returns the end (exclusive) of the epoch stream over n samples
// that starts at offset, for size ranks. See Note [Sampler].
func streamEnd(n, offset, size int, dropLast bool) int {
	rest := n - offset
	if rest <= 0 {
		return offset
	}
	if dropLast {
		return offset + rest/size*size
	}
	return offset + (rest+size-1)/size*size
}

// rankIndices returns what rank takes from the stream over order that starts
// at offset.
func rankIndices(order []int, offset, rank, size int, dropLast bool) []int {
	end := streamEnd(len(order), offset, size, dropLast)
	out := make([]int, 0, (end-offset)/size)
	for p := offset + rank; p < end; p += size {
		out = append(out, order[p%len(order)])
	}
	return out
}
