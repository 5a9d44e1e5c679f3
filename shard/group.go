package shard

import "slices"

// Note [Length grouping]: with grouping on, the epoch's permutation is cut
// into megabatches of M consecutive samples, each megabatch is sorted by
// token length, longest first (stably, so ties keep their random order), and
// the longest sample of all is swapped to the very front so that a batch too
// big for memory fails at the first step. This is HuggingFace's
// get_length_grouped_indices (group_by_length). Which samples share a
// megabatch stays random; within one, neighbours have similar lengths, so
// dynamic padding wastes little. M is mult × the global batch (per-rank batch
// × world size), mult = min(n / (4 × global batch), 50), at least 1, as in
// HuggingFace. M is recorded in State and kept on Resume, so the global
// order does not change when the world size does. Every rank computes the
// same order from the same lengths, so every rank still gets the same
// number of batches.

// megabatchSize returns M for n samples and a global batch (see Note [Length
// grouping]); mult <= 0 picks HuggingFace's default.
func megabatchSize(n, globalBatch, mult int) int {
	if mult <= 0 {
		mult = min(n/(4*globalBatch), 50)
	}
	return max(mult, 1) * globalBatch
}

// groupByLength reorders order in place as Note [Length grouping] describes.
func groupByLength(order []int, lengths func(int) int, megabatch int) {
	if len(order) == 0 || megabatch <= 0 {
		return
	}
	longest := 0
	for start := 0; start < len(order); start += megabatch {
		mb := order[start:min(start+megabatch, len(order))]
		slices.SortStableFunc(mb, func(a, b int) int { return lengths(b) - lengths(a) })
		if lengths(mb[0]) > lengths(order[longest]) {
			longest = start
		}
	}
	order[0], order[longest] = order[longest], order[0]
}
