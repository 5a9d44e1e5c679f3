package shard

import "math/bits"

// Note [Permutation]: the shuffle is ours, not math/rand's, so that the order
// of an epoch is fixed by this file alone and never changes with the Go
// version, the process or the platform. It is a Fisher–Yates shuffle
// (Durstenfeld's variant: for i from n-1 down to 1, swap p[i] with p[j],
// j uniform in [0, i]) driven by SplitMix64 (Steele, Lea and Flood 2014;
// state += 0x9e3779b97f4a7c15, then Stafford's "Mix13" variant of the
// MurmurHash3 finaliser: shifts 30, 27, 31 and the constants below), seeded
// with seed+epoch as PyTorch's DistributedSampler seeds its generator.
// Bounded integers use Lemire's multiply-and-shift with rejection, so they
// are exactly uniform. As in PyTorch, (seed, epoch) and (seed+1, epoch-1)
// give the same order.
//
// Only the seeding rule is PyTorch's, not the permutation: for the same
// seed torch.randperm gives another order (after manual_seed(42),
// randperm(10) is [2 6 1 8 4 5 0 9 3 7] in PyTorch 1.13; Permutation(10, 42)
// is [8 3 6 5 4 0 9 2 1 7]). So a run does not see its samples in the order
// that a PyTorch run with the same seed would, only in an order with the
// same structure (see Note [Sampler]).

// splitMix64 is the SplitMix64 generator. See Note [Permutation].
type splitMix64 struct{ state uint64 }

func (r *splitMix64) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// below returns a uniform integer in [0, n), n > 0 (Lemire 2019).
func (r *splitMix64) below(n uint64) uint64 {
	hi, lo := bits.Mul64(r.next(), n)
	if lo < n {
		threshold := -n % n
		for lo < threshold {
			hi, lo = bits.Mul64(r.next(), n)
		}
	}
	return hi
}

// Permutation returns a permutation of 0..n-1 determined by seed alone.
// See Note [Permutation].
func Permutation(n int, seed uint64) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	r := splitMix64{state: seed}
	for i := n - 1; i > 0; i-- {
		j := int(r.below(uint64(i + 1)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}
