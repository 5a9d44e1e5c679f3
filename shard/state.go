package shard

import "fmt"

// State is a Loader's position in its stream of batches: enough to resume
// exactly where a checkpoint was taken, on any rank and at any world size.
// It is the same on every rank and JSON-serialisable.
//
// Offset counts the global samples of the epoch already consumed by all
// ranks together: after k batches of B rows per rank on size ranks it is
// k*B*size. Resuming at the same world size and batch size continues the
// uninterrupted run's batches exactly. At another world size the remaining
// global samples are re-split: see Note [Resharding].
type State struct {
	Seed   uint64 `json:"seed"`
	Epoch  uint64 `json:"epoch"`
	Offset int    `json:"offset"`
	// Rows is the dataset's length, checked on Resume.
	Rows int `json:"rows"`
	// Megabatch is the length-grouping megabatch in samples (see Note
	// [Length grouping]); 0 without grouping.
	Megabatch int  `json:"megabatch,omitempty"`
	Shuffle   bool `json:"shuffle"`
}

// Note [Resharding]: because the global order of an epoch depends only on
// the seed, the epoch and the megabatch size (recorded in State), a run
// resumed at world size S' with per-rank batch B' continues with the same
// remaining global samples, positions Offset.. of the epoch's order (plus
// padding to a multiple of S', see Note [Sampler]). Each global step takes
// the next B'*S' consecutive positions of that order and deals them out
// round-robin (position p goes to rank p mod S'). So:
//   - if the global batch B'*S' equals B*S, every later global step holds
//     exactly the same samples as in the uninterrupted run; only which rank
//     holds which sample changes, and the rest of the epoch may need
//     different padding at its end;
//   - if the global batch changes, step boundaries move, but no sample is
//     skipped or seen twice in the rest of the epoch (apart from padding).
// Later epochs start from offset 0 at the new world size.

// check reports whether s fits a dataset of n rows.
func (s State) check(n int) error {
	if s.Rows != n {
		return fmt.Errorf("%w: state is for %d rows, dataset has %d", ErrBadState, s.Rows, n)
	}
	if s.Offset < 0 || s.Megabatch < 0 {
		return fmt.Errorf("%w: offset %d megabatch %d", ErrBadState, s.Offset, s.Megabatch)
	}
	return nil
}
