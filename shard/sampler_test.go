package shard_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ddprun/ddprun/shard"
	"github.com/google/go-cmp/cmp"
)

// distributedSampler is PyTorch's DistributedSampler.__iter__ transcribed
// line by line, on a given permutation: the reference for Indices.
func distributedSampler(perm []int, rank, size int, dropLast bool) []int {
	n := len(perm)
	var numSamples int
	if dropLast && n%size != 0 {
		numSamples = (n - size + size - 1) / size // ceil((n - size) / size)
	} else {
		numSamples = (n + size - 1) / size
	}
	total := numSamples * size
	indices := slices.Clone(perm)
	if !dropLast {
		pad := total - n
		if pad <= n {
			indices = append(indices, indices[:pad]...)
		} else {
			for len(indices) < total {
				indices = append(indices, perm[:min(n, total-len(indices))]...)
			}
		}
	} else {
		indices = indices[:total]
	}
	var out []int
	for i := rank; i < total; i += size {
		out = append(out, indices[i])
	}
	return out
}

func TestIndices_MatchesDistributedSampler(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 5, 7, 10, 31, 100} {
		for _, size := range []int{1, 2, 3, 4, 8} {
			for _, dropLast := range []bool{false, true} {
				if n == 0 && !dropLast {
					continue // PyTorch pads an empty list with nothing either way
				}
				name := fmt.Sprintf("n=%d/size=%d/dropLast=%v", n, size, dropLast)
				t.Run(name, func(t *testing.T) {
					perm := shard.Permutation(n, 7+3)
					for r := range size {
						want := distributedSampler(perm, r, size, dropLast)
						got := shard.Indices(n, r, size, 7, 3, dropLast)
						if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
							t.Errorf("rank %d (-want +got):\n%s", r, diff)
						}
					}
				})
			}
		}
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []int) bool { return slices.Equal(a, b) })

func TestIndices_Properties(t *testing.T) {
	for _, n := range []int{0, 1, 5, 10, 97} {
		for _, size := range []int{1, 2, 3, 8} {
			for _, dropLast := range []bool{false, true} {
				t.Run(fmt.Sprintf("n=%d/size=%d/dropLast=%v", n, size, dropLast), func(t *testing.T) {
					checkIndices(t, n, size, dropLast)
				})
			}
		}
	}
}

// checkIndices checks equal counts, and that the ranks together cover
// 0..n-1 exactly, plus only the documented padding.
func checkIndices(t *testing.T, n, size int, dropLast bool) {
	t.Helper()
	perm := shard.Permutation(n, 11)
	want := (n + size - 1) / size
	if dropLast {
		want = n / size
	}
	seen := make([]int, n)
	for r := range size {
		got := shard.Indices(n, r, size, 5, 6, dropLast)
		if len(got) != want {
			t.Fatalf("rank %d got %d indices, want %d", r, len(got), want)
		}
		for _, i := range got {
			seen[i]++
		}
	}
	wantSeen := make([]int, n) // by position in perm
	for p := range want * size {
		wantSeen[p%max(n, 1)]++ // padding repeats perm from its head
	}
	for pos, i := range perm {
		if seen[i] != wantSeen[pos] {
			t.Fatalf("index %d (position %d) seen %d times, want %d", i, pos, seen[i], wantSeen[pos])
		}
	}
}

func TestIndices_Deterministic(t *testing.T) {
	a := shard.Indices(1000, 1, 4, 42, 2, false)
	b := shard.Indices(1000, 1, 4, 42, 2, false)
	if !slices.Equal(a, b) {
		t.Fatal("same arguments, different indices")
	}
	if slices.Equal(a, shard.Indices(1000, 1, 4, 42, 3, false)) {
		t.Fatal("epochs 2 and 3 give the same indices")
	}
}

// TestPermutation_Golden pins the shuffle: if it changes, every resumed run
// changes its data order. See Note [Permutation].
func TestPermutation_Golden(t *testing.T) {
	got := shard.Permutation(10, 42)
	want := []int{8, 3, 6, 5, 4, 0, 9, 2, 1, 7} // also from a Python transcription of Note [Permutation]
	if !slices.Equal(got, want) {
		t.Fatalf("Permutation(10, 42) = %v, want %v", got, want)
	}
}

func TestPermutation_Uniform(t *testing.T) {
	counts := map[[4]int]int{}
	const trials = 24000
	for seed := range uint64(trials) {
		counts[[4]int(shard.Permutation(4, seed))]++
	}
	if len(counts) != 24 {
		t.Fatalf("%d of 24 permutations seen", len(counts))
	}
	for p, c := range counts {
		if c < 850 || c > 1150 { // mean 1000, sd about 31
			t.Errorf("permutation %v seen %d times in %d", p, c, trials)
		}
	}
}
