package shard_test

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ddprun/ddprun/shard"
)

// testMask is the masking of testDataset's rows: [CLS] 101, [SEP] 102,
// [PAD] 0, [MASK] 103, words 1000..5999.
func testMask(seed uint64) *shard.MaskConfig {
	return &shard.MaskConfig{Prob: 0.15, MaskID: 103, VocabSize: 6000, Special: []int64{0, 100, 101, 102, 103}, Seed: seed}
}

// noteMask is Note [Masking] written out again from its text, sharing no
// code with package shard: the reference Row is checked against.
func noteMask(c shard.MaskConfig, ids []int64, row int, epoch uint64) (out, targets []int64) {
	next := func(state *uint64) uint64 { // SplitMix64, Note [Permutation]
		*state += 0x9e3779b97f4a7c15
		z := *state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	mix := func(x uint64) uint64 { return next(&x) }
	s := mix(mix(mix(c.Seed^0x6d61736b2d6c6d21)+epoch) + uint64(row))
	draw := func() float64 { return float64(next(&s)>>11) / (1 << 53) }
	below := func(n uint64) uint64 { // Lemire: reject a low half below 2^64 mod n
		for {
			hi, lo := bits.Mul64(next(&s), n)
			if lo >= -n%n {
				return hi
			}
		}
	}
	out = slices.Clone(ids)
	for j, id := range ids {
		targets = append(targets, -100)
		u := draw()
		if slices.Contains(c.Special, id) || u >= c.Prob {
			continue
		}
		targets[j] = id
		if v := draw(); v < 0.8 {
			out[j] = c.MaskID
		} else if v < 0.9 {
			out[j] = int64(below(uint64(c.VocabSize)))
		}
	}
	return out, targets
}

func maskRow(c *shard.MaskConfig, ids []int64, row int, epoch uint64) (out, targets []int64) {
	out, targets = slices.Clone(ids), make([]int64, len(ids))
	c.Row(out, targets, row, epoch)
	return out, targets
}

// Row follows Note [Masking] exactly: against the note's own transcription
// on random rows and settings, and against one row written out in full.
func TestMask_Rule(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for k := range 2000 {
		c := testMask(r.Uint64())
		c.Prob = []float64{0.15, 0.5, 0.9}[k%3]
		c.VocabSize = 105 + r.IntN(3000)
		ids := []int64{101}
		for range r.IntN(40) {
			if r.IntN(10) == 0 {
				ids = append(ids, c.Special[r.IntN(len(c.Special))])
			} else {
				ids = append(ids, 104+r.Int64N(int64(c.VocabSize-104)))
			}
		}
		ids = append(ids, 102)
		row, epoch := r.IntN(1e6), r.Uint64N(5)
		gotIDs, gotT := maskRow(c, ids, row, epoch)
		wantIDs, wantT := noteMask(*c, ids, row, epoch)
		if !slices.Equal(gotIDs, wantIDs) || !slices.Equal(gotT, wantT) {
			t.Fatalf("seed %d row %d epoch %d: Row gives %v %v, Note [Masking] %v %v", c.Seed, row, epoch, gotIDs, gotT, wantIDs, wantT)
		}
	}
	// Row 1 of epoch 2, seed 42, p 0.5, written out: 8 selected, of which
	// 6 [MASK], one random (1010 -> 1686), one unchanged (1006).
	c := testMask(42)
	c.Prob = 0.5
	ids := []int64{101, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 102}
	gotIDs, gotT := maskRow(c, ids, 1, 2)
	wantIDs := []int64{101, 1001, 1002, 1003, 103, 103, 1006, 103, 1008, 103, 1686, 103, 103, 102}
	wantT := []int64{-100, -100, -100, -100, 1004, 1005, 1006, 1007, -100, 1009, 1010, 1011, 1012, -100}
	if diff := cmp.Diff([][]int64{wantIDs, wantT}, [][]int64{gotIDs, gotT}); diff != "" {
		t.Errorf("row 1, epoch 2, seed 42 (-want +got):\n%s", diff)
	}
}

// On a large sample the proportions are HF's: 15% of the eligible tokens
// selected; of those, 80% [MASK], 10% a random token, 10% unchanged. Each
// proportion must lie within 5 standard deviations of its binomial
// expectation (the sample is fixed, so the test is deterministic; the
// bound says how far a correct rule could land by chance). Special tokens
// are never selected.
func TestMask_Proportions(t *testing.T) {
	c := testMask(7)
	var eligible, selected, masked, random, kept int
	for row := range 4000 {
		ids := []int64{101}
		for j := range 60 {
			id := int64(1000 + (row*61+j*17)%5000)
			if j%20 == 19 {
				id = 100 // an [UNK] inside the text: special, never selected
			}
			ids = append(ids, id)
		}
		ids = append(ids, 102)
		out, targets := maskRow(c, ids, row, 0)
		for j, id := range ids {
			if slices.Contains(c.Special, id) {
				if targets[j] != -100 || out[j] != id {
					t.Fatalf("row %d: special token %d at %d selected (target %d, now %d)", row, id, j, targets[j], out[j])
				}
				continue
			}
			eligible++
			switch {
			case targets[j] == -100:
				if out[j] != id {
					t.Fatalf("row %d: unselected token %d at %d changed to %d", row, id, j, out[j])
				}
				continue
			case targets[j] != id:
				t.Fatalf("row %d: target %d at %d, the token was %d", row, targets[j], j, id)
			case out[j] == c.MaskID:
				masked++
			case out[j] == id:
				kept++ // or a random draw of the same token: 1 in 6000
			default:
				random++
			}
			selected++
		}
	}
	within := func(what string, k, n int, p float64) {
		got, sd := float64(k)/float64(n), math.Sqrt(p*(1-p)/float64(n))
		t.Logf("%s: %.4f of %d (expected %.2f, bound ±%.4f)", what, got, n, p, 5*sd)
		if math.Abs(got-p) > 5*sd {
			t.Errorf("%s: %.4f of %d, want %.2f ± %.4f", what, got, n, p, 5*sd)
		}
	}
	within("selected", selected, eligible, 0.15)
	within("[MASK]", masked, selected, 0.8)
	within("random", random, selected, 0.1)
	within("unchanged", kept, selected, 0.1)
}

// maskedEpoch is what a loader's epoch of masked batches holds per
// dataset row: its tokens after masking and its targets.
type maskedRow struct{ IDs, Targets []int64 }

func maskedEpoch(t *testing.T, l *shard.Loader, ds *shard.Dataset, into map[int]maskedRow) {
	t.Helper()
	for {
		b, err := l.Next(t.Context())
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		checkMaskedBatch(t, ds, b)
		for r, i := range b.Index {
			n := ds.Length(i)
			got := maskedRow{b.IDs[r*b.T : r*b.T+n], b.Targets[r*b.T : r*b.T+n]}
			if prev, ok := into[i]; ok && !cmp.Equal(prev, got) {
				t.Fatalf("row %d masked twice in one epoch, differently: %v and %v", i, prev, got)
			}
			into[i] = got
		}
	}
}

// checkMaskedBatch checks what masking may change: only selected tokens,
// never specials or padding, targets the original tokens.
func checkMaskedBatch(t *testing.T, ds *shard.Dataset, b *shard.Batch) {
	t.Helper()
	for r, i := range b.Index {
		toks := ds.Tokens(i)
		for j := range b.T {
			id, target := b.IDs[r*b.T+j], b.Targets[r*b.T+j]
			switch {
			case j >= len(toks):
				if id != 0 || target != -100 {
					t.Fatalf("row %d: padding at %d masked (id %d, target %d)", i, j, id, target)
				}
			case target == -100 && id != int64(toks[j]):
				t.Fatalf("row %d: unselected token at %d changed from %d to %d", i, j, toks[j], id)
			case target != -100 && (target != int64(toks[j]) || toks[j] == 101 || toks[j] == 102):
				t.Fatalf("row %d: target %d at %d, token %d", i, target, j, toks[j])
			}
		}
	}
}

// A row's masks depend on the seed, the epoch and the row only: the same
// at every world size and batch size, after a resume at another world
// size, and different from one epoch to the next.
func TestMask_SameAcrossWorldSizesAndResume(t *testing.T) {
	ds := testDataset(t, 103)
	epochs := func(size, batch int) [2]map[int]maskedRow {
		var out [2]map[int]maskedRow
		for e := range out {
			out[e] = map[int]maskedRow{}
		}
		for rank := range size {
			cfg := loaderConfig(rank, size, batch, false)
			cfg.Mask = testMask(5)
			l := newLoader(t, ds, cfg)
			for e := range out {
				maskedEpoch(t, l, ds, out[e])
			}
		}
		return out
	}
	want := epochs(1, 8)
	if len(want[0]) != ds.Len() {
		t.Fatalf("epoch 0 masked %d rows of %d", len(want[0]), ds.Len())
	}
	for _, w := range []struct{ size, batch int }{{2, 4}, {3, 5}, {8, 1}} {
		t.Run(fmt.Sprintf("size=%d/batch=%d", w.size, w.batch), func(t *testing.T) {
			if diff := cmp.Diff(want, epochs(w.size, w.batch)); diff != "" {
				t.Errorf("masks differ from one rank's (-want +got):\n%s", diff)
			}
		})
	}
	same := 0
	for i, m := range want[0] {
		if cmp.Equal(m, want[1][i]) {
			same++
		}
	}
	if same > ds.Len()/4 {
		t.Errorf("%d of %d rows masked the same in epochs 0 and 1", same, ds.Len())
	}
	// Two ranks stop after 3 batches; three ranks resume from their state.
	got := map[int]maskedRow{}
	var st shard.State
	for rank := range 2 {
		cfg := loaderConfig(rank, 2, 4, false)
		cfg.Mask = testMask(5)
		l := newLoader(t, ds, cfg)
		for range 3 {
			b, err := l.Next(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for r, i := range b.Index {
				n := ds.Length(i)
				got[i] = maskedRow{b.IDs[r*b.T : r*b.T+n], b.Targets[r*b.T : r*b.T+n]}
			}
		}
		st = l.State()
	}
	for rank := range 3 {
		cfg := loaderConfig(rank, 3, 4, false)
		cfg.Mask = testMask(5)
		l := newLoader(t, ds, cfg)
		if err := l.Resume(st); err != nil {
			t.Fatal(err)
		}
		maskedEpoch(t, l, ds, got)
	}
	if diff := cmp.Diff(want[0], got); diff != "" {
		t.Errorf("resumed at another world size, epoch 0's masks differ (-want +got):\n%s", diff)
	}
}

func TestMask_Validate(t *testing.T) {
	for _, c := range []shard.MaskConfig{
		{Prob: 0, MaskID: 3, VocabSize: 10},
		{Prob: 1, MaskID: 3, VocabSize: 10},
		{Prob: 0.15, MaskID: -1, VocabSize: 10},
		{Prob: 0.15, MaskID: 3, VocabSize: 0},
	} {
		cfg := loaderConfig(0, 1, 4, false)
		cfg.Mask = &c
		if _, err := shard.NewLoader(testDataset(t, 5), cfg); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
