package shard

import (
	"fmt"
	"slices"
)

// IgnoreIndex is the target of a position that a masked-LM loss leaves
// out: PyTorch's cross-entropy ignore_index default, which HF's
// DataCollatorForLanguageModeling writes into its labels.
const IgnoreIndex = -100

// MaskConfig makes a Loader mask its batches for masked-language-model
// training, as HF's DataCollatorForLanguageModeling does (mlm=True):
// every eligible token is selected with probability Prob; a selected token
// becomes [MASK] 80% of the time, a uniformly random token 10%, and stays
// itself 10%; its target is the original token, every other position's
// IgnoreIndex. The randomness is a function of (Seed, epoch, row) alone:
// see Note [Masking].
type MaskConfig struct {
	// Prob is the chance that an eligible token is selected (HF's
	// mlm_probability, default 0.15).
	Prob float64
	// MaskID is the id of [MASK].
	MaskID int64
	// VocabSize bounds the random replacements, uniform over
	// 0..VocabSize-1 as HF's randint(len(tokenizer)) (special tokens
	// included).
	VocabSize int
	// Special lists the ids never selected: HF's all_special_ids ([CLS],
	// [SEP], [PAD], [UNK], [MASK] for BERT). Padding is never selected
	// either: only a row's own tokens are masked.
	Special []int64
	// Seed, with the epoch and the row, decides every draw.
	Seed uint64
}

// Note [Masking]: the masks of a sample must not depend on which rank holds
// it, on the batch it lands in or on where a run was resumed, so that N ranks
// see the masks one process sees and a resumed run the masks of an
// uninterrupted one. So a row's masks are drawn from a SplitMix64 stream (see
// Note [Permutation]) of its own, seeded with
//
//	s = mix(mix(mix(Seed ^ 0x6d61736b2d6c6d21) + epoch) + row)
//
// where mix(x) is SplitMix64's first output from state x and row is the
// dataset row (Batch.Index), not the position in a batch. Then, position by
// position along the row's tokens: one draw u (the top 53 bits of a 64-bit
// output, as a float in [0, 1)) for every position; the token is selected
// if it is eligible and u < Prob. For a selected token only, a second draw
// v: v < 0.8 writes MaskID, v < 0.9 writes a token drawn uniformly from
// 0..VocabSize-1 (Lemire's bounded draw, one or more outputs), otherwise the
// token stays. HF draws the same three Bernoulli choices (0.15; then 0.8;
// then 0.5 of the rest) from torch's generator, so the proportions are HF's
// and the particular masks are not. Evaluation loaders run epoch 0 every
// time, so every evaluation of a run scores the same masks.

// maskDomain separates the mask streams from the sampler's (seeded with
// seed+epoch): the bytes of "mask-lm!".
const maskDomain = 0x6d61736b2d6c6d21

func mix(x uint64) uint64 {
	r := splitMix64{state: x}
	return r.next()
}

// uniform returns a float64 in [0, 1) from the top 53 bits of one output.
func (r *splitMix64) uniform() float64 { return float64(r.next()>>11) / (1 << 53) }

// Validate checks that the settings make sense.
func (c *MaskConfig) Validate() error {
	switch {
	case !(c.Prob > 0 && c.Prob < 1):
		return fmt.Errorf("shard: mask probability %g: want 0 < p < 1", c.Prob)
	case c.VocabSize < 1:
		return fmt.Errorf("shard: mask vocabulary size %d", c.VocabSize)
	case c.MaskID < 0 || c.MaskID >= int64(c.VocabSize):
		return fmt.Errorf("shard: mask token id %d outside the vocabulary of %d (does the vocabulary have [MASK]?)", c.MaskID, c.VocabSize)
	}
	return nil
}

// Row masks one row's tokens in place (Note [Masking]) and writes its
// targets: the original token where one was selected, IgnoreIndex
// elsewhere. targets must be as long as ids. It returns how many tokens it
// selected.
func (c *MaskConfig) Row(ids, targets []int64, row int, epoch uint64) int {
	r := splitMix64{state: mix(mix(mix(c.Seed^maskDomain)+epoch) + uint64(row))}
	n := 0
	for j, id := range ids {
		targets[j] = IgnoreIndex
		if r.uniform() >= c.Prob || slices.Contains(c.Special, id) {
			continue
		}
		n++
		targets[j] = id
		switch v := r.uniform(); {
		case v < 0.8:
			ids[j] = c.MaskID
		case v < 0.9:
			ids[j] = int64(r.below(uint64(c.VocabSize)))
		}
	}
	return n
}

// mask masks every row of b, a batch of epoch: its tokens (not its
// padding) and b.Targets.
func (c *MaskConfig) mask(b *Batch, epoch uint64) {
	b.Targets = make([]int64, len(b.IDs))
	for i := range b.Targets {
		b.Targets[i] = IgnoreIndex
	}
	for r := range b.B {
		n := 0
		for _, m := range b.Mask[r*b.T : (r+1)*b.T] {
			n += int(m)
		}
		lo := r * b.T
		c.Row(b.IDs[lo:lo+n], b.Targets[lo:lo+n], b.Index[r], epoch)
	}
}

// MaskedPositions returns the flat positions (row*T + column) of b's
// masked tokens, in order, and their targets: what a masked-LM head is
// computed on. Both are empty for a batch without Targets.
func (b *Batch) MaskedPositions() (pos, targets []int64) {
	for i, t := range b.Targets {
		if t != IgnoreIndex {
			pos = append(pos, int64(i))
			targets = append(targets, t)
		}
	}
	return pos, targets
}
