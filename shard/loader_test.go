package shard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ddprun/ddprun/shard"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testDataset returns n rows; row i has 1 + (i*7)%13 words and label i%3.
func testDataset(t testing.TB, n int) *shard.Dataset {
	t.Helper()
	scan := func(fn func(shard.Record) error) (shard.ReadStats, error) {
		for i := range n {
			text := strings.Repeat(fmt.Sprintf("w%d ", i), 1+(i*7)%13)
			if err := fn(shard.Record{Text: text, Label: fmt.Sprint(i % 3), Line: i + 2}); err != nil {
				return shard.ReadStats{}, err
			}
		}
		return shard.ReadStats{Rows: n}, nil
	}
	ds, err := shard.Tokenize(t.Context(), "test", scan, shard.TokenizeConfig{Tokenizer: wordTokenizer{}, MaxLen: 12, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	labels, err := shard.BuildLabelMap(ds.LabelValues(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.ApplyLabels(labels); err != nil {
		t.Fatal(err)
	}
	return ds
}

// newLoader returns a loader that is closed at the end of the test.
func newLoader(t testing.TB, ds *shard.Dataset, cfg shard.LoaderConfig) *shard.Loader {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	l, err := shard.NewLoader(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// step is one batch as a test sees it.
type step struct {
	Index    []int
	Repeated []bool
	State    shard.State // after the batch
}

// epoch drains one epoch from l.
func epoch(t testing.TB, l *shard.Loader) []step {
	t.Helper()
	var steps []step
	for {
		b, err := l.Next(t.Context())
		if errors.Is(err, io.EOF) {
			return steps
		}
		if err != nil {
			t.Fatal(err)
		}
		steps = append(steps, step{b.Index, b.Repeated, l.State()})
	}
}

func loaderConfig(rank, size, batch int, group bool) shard.LoaderConfig {
	cfg := shard.DefaultLoaderConfig()
	cfg.Rank, cfg.Size, cfg.BatchSize, cfg.Seed, cfg.GroupByLength = rank, size, batch, 9, group
	cfg.Prefetch = 2
	return cfg
}

func TestLoader_EqualBatchesAndCoverage(t *testing.T) {
	ds := testDataset(t, 103)
	for _, size := range []int{1, 2, 3, 8} {
		for _, group := range []bool{false, true} {
			t.Run(fmt.Sprintf("size=%d/group=%v", size, group), func(t *testing.T) {
				seen := make([]int, ds.Len())
				var counts []int
				for r := range size {
					l := newLoader(t, ds, loaderConfig(r, size, 5, group))
					steps := epoch(t, l)
					if len(steps) != l.BatchesPerEpoch() || l.BatchesLeft() != l.BatchesPerEpoch() {
						t.Fatalf("rank %d: %d batches, BatchesPerEpoch %d", r, len(steps), l.BatchesPerEpoch())
					}
					counts = append(counts, len(steps))
					for _, s := range steps {
						for k, i := range s.Index {
							if s.Repeated == nil || !s.Repeated[k] {
								seen[i]++
							}
						}
					}
				}
				if slices.Min(counts) != slices.Max(counts) {
					t.Fatalf("batches per rank differ: %v", counts)
				}
				for i, c := range seen {
					if c != 1 {
						t.Fatalf("row %d seen %d times (not counting repeats)", i, c)
					}
				}
			})
		}
	}
}

// TestLoader_ResumeExact resumes from the state after every batch and
// checks the rest of the stream, into the next epoch, is the same.
func TestLoader_ResumeExact(t *testing.T) {
	ds := testDataset(t, 61)
	for _, group := range []bool{false, true} {
		for _, size := range []int{1, 3} {
			t.Run(fmt.Sprintf("group=%v/size=%d", group, size), func(t *testing.T) {
				cfg := loaderConfig(size-1, size, 4, group)
				full := newLoader(t, ds, cfg)
				want := append(epoch(t, full), epoch(t, full)...)
				for k := range want {
					l := newLoader(t, ds, cfg)
					if err := l.Resume(want[k].State); err != nil {
						t.Fatal(err)
					}
					if k < len(want)/2 && l.BatchesLeft() != len(want)/2-k-1 {
						t.Fatalf("after batch %d of %d: BatchesLeft %d", k, len(want)/2, l.BatchesLeft())
					}
					got := epoch(t, l)
					if k < len(want)/2 {
						got = append(got, epoch(t, l)...)
					}
					if !equalSteps(want[k+1:], got) {
						t.Fatalf("resume after batch %d: stream differs\nwant %v\ngot  %v", k, want[k+1:], got)
					}
				}
			})
		}
	}
}

func equalSteps(a, b []step) bool {
	return slices.EqualFunc(a, b, func(x, y step) bool {
		return slices.Equal(x.Index, y.Index) && slices.Equal(x.Repeated, y.Repeated) && x.State == y.State
	})
}

// TestLoader_ResumeResharded stops a run on sizeA ranks mid-epoch and
// resumes it on sizeB ranks: the rest of the epoch must hold exactly the
// remaining global samples, every rank the same number of batches, and with
// an unchanged global batch every global step the same samples.
func TestLoader_ResumeResharded(t *testing.T) {
	ds := testDataset(t, 97)
	for _, c := range []struct{ sizeA, batchA, sizeB, batchB int }{
		{2, 6, 4, 3}, {4, 3, 2, 6}, {3, 4, 2, 6}, {2, 5, 3, 2}, {1, 8, 8, 1}, {4, 2, 1, 3},
	} {
		for _, group := range []bool{false, true} {
			t.Run(fmt.Sprintf("%+v/group=%v", c, group), func(t *testing.T) {
				checkResharded(t, ds, c.sizeA, c.batchA, c.sizeB, c.batchB, group)
			})
		}
	}
}

func checkResharded(t *testing.T, ds *shard.Dataset, sizeA, batchA, sizeB, batchB int, group bool) {
	globalA := globalSteps(t, ds, sizeA, batchA, group, nil)
	stop := len(globalA) / 2
	st := globalA[stop-1].state
	globalB := globalSteps(t, ds, sizeB, batchB, group, &st)
	var wantRest, gotRest []int
	for _, g := range globalA[stop:] {
		wantRest = append(wantRest, g.real...)
	}
	for _, g := range globalB {
		gotRest = append(gotRest, g.real...)
	}
	slices.Sort(wantRest)
	slices.Sort(gotRest)
	if !slices.Equal(wantRest, gotRest) {
		t.Fatalf("remaining samples differ:\nwant %v\ngot  %v", wantRest, gotRest)
	}
	if sizeA*batchA != sizeB*batchB {
		return
	}
	for k := range len(globalB) - 1 { // the last step's padding may differ
		a, b := slices.Sorted(slices.Values(globalA[stop+k].all)), slices.Sorted(slices.Values(globalB[k].all))
		if !slices.Equal(a, b) {
			t.Fatalf("global step %d after resume: samples %v, uninterrupted %v", k, b, a)
		}
	}
}

// globalStep is what all ranks together took in one step.
type globalStep struct {
	all, real []int // every row; rows that are not repeats
	state     shard.State
}

// globalSteps runs size loaders for one epoch, from st if not nil, and
// checks that every rank gets the same number of batches.
func globalSteps(t *testing.T, ds *shard.Dataset, size, batch int, group bool, st *shard.State) []globalStep {
	t.Helper()
	var out []globalStep
	for r := range size {
		l := newLoader(t, ds, loaderConfig(r, size, batch, group))
		if st != nil {
			if err := l.Resume(*st); err != nil {
				t.Fatal(err)
			}
		}
		steps := epoch(t, l)
		if r > 0 && len(steps) != len(out) {
			t.Fatalf("rank %d: %d batches, rank 0: %d", r, len(steps), len(out))
		}
		for k, s := range steps {
			if r == 0 {
				out = append(out, globalStep{state: s.State})
			}
			if s.State != out[k].state {
				t.Fatalf("rank %d step %d: state %+v, rank 0 %+v", r, k, s.State, out[k].state)
			}
			out[k].all = append(out[k].all, s.Index...)
			for j, i := range s.Index {
				if s.Repeated == nil || !s.Repeated[j] {
					out[k].real = append(out[k].real, i)
				}
			}
		}
	}
	return out
}

func TestLoader_DynamicPadding(t *testing.T) {
	ds := testDataset(t, 20)
	cfg := loaderConfig(0, 1, 4, false)
	cfg.PadID = -7
	l := newLoader(t, ds, cfg)
	for {
		b, err := l.Next(t.Context())
		if err == io.EOF {
			break
		}
		checkBatch(t, ds, b, cfg.PadID)
	}
}

// checkBatch checks a batch against the dataset rows it names.
func checkBatch(t *testing.T, ds *shard.Dataset, b *shard.Batch, padID int64) {
	t.Helper()
	longest := 0
	for r, i := range b.Index {
		toks, types := ds.Tokens(i), ds.TypeIDs(i)
		longest = max(longest, len(toks))
		for j := range b.T {
			id, mask, ty := b.IDs[r*b.T+j], b.Mask[r*b.T+j], b.TypeIDs[r*b.T+j]
			switch {
			case j < len(toks) && (id != int64(toks[j]) || mask != 1):
				t.Fatalf("row %d token %d: id %d mask %d, want %d 1", i, j, id, mask, toks[j])
			case j >= len(toks) && (id != padID || mask != 0 || ty != 0):
				t.Fatalf("row %d pad %d: id %d mask %d type %d", i, j, id, mask, ty)
			case j < len(types) && ty != int64(types[j]):
				t.Fatalf("row %d token %d: type %d, want %d", i, j, ty, types[j])
			}
		}
		if b.Labels[r] != int64(ds.Label(i)) {
			t.Fatalf("row %d: label %d, want %d", i, b.Labels[r], ds.Label(i))
		}
	}
	if b.T != longest || b.B != len(b.Index) || len(b.IDs) != b.B*b.T {
		t.Fatalf("batch B=%d T=%d len=%d, longest row %d", b.B, b.T, len(b.IDs), longest)
	}
}

func TestLoader_Pairs(t *testing.T) {
	scan := func(fn func(shard.Record) error) (shard.ReadStats, error) {
		fn(shard.Record{Text: "a b c", Pair: "d e", Line: 2})
		fn(shard.Record{Text: "f", Pair: "g h i j k l m n o p", Line: 3})
		return shard.ReadStats{Rows: 2}, nil
	}
	ds, err := shard.Tokenize(t.Context(), "pairs", scan, shard.TokenizeConfig{Tokenizer: wordTokenizer{}, MaxLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	if got := ds.TypeIDs(0); !slices.Equal(got, []uint8{0, 0, 0, 0, 0, 1, 1, 1}) {
		t.Fatalf("type ids of row 0: %v", got)
	}
	if ds.Length(1) != 8 {
		t.Fatalf("row 1 has %d tokens, want 8 (truncated)", ds.Length(1))
	}
	cfg := loaderConfig(0, 1, 2, false)
	cfg.Shuffle = false
	b, err := newLoader(t, ds, cfg).Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	checkBatch(t, ds, b, 0)
	if b.Labels[0] != -1 {
		t.Fatalf("label without labels: %d, want -1", b.Labels[0])
	}
}

// TestLoader_GroupByLength checks that grouping cuts padding and still
// starts with the longest row.
func TestLoader_GroupByLength(t *testing.T) {
	ds := testDataset(t, 2000)
	padding := func(group bool) (pad int, first *shard.Batch) {
		l := newLoader(t, ds, loaderConfig(0, 1, 8, group))
		for {
			b, err := l.Next(t.Context())
			if err == io.EOF {
				return pad, first
			}
			if first == nil {
				first = b
			}
			pad += b.B*b.T - b.Tokens()
		}
	}
	plain, _ := padding(false)
	grouped, first := padding(true)
	if grouped*4 > plain {
		t.Fatalf("padding tokens: %d grouped, %d plain", grouped, plain)
	}
	if first.T != 12 || ds.Length(first.Index[0]) != 12 {
		t.Fatalf("first batch T=%d, want the longest row (12) first", first.T)
	}
}

func TestLoader_CloseStopsGoroutines(t *testing.T) {
	ds := testDataset(t, 500)
	before := runtime.NumGoroutine()
	var loaders []*shard.Loader
	for range 10 {
		cfg := loaderConfig(0, 1, 2, false)
		cfg.Logger = slog.New(slog.DiscardHandler)
		l, err := shard.NewLoader(ds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Next(t.Context()); err != nil { // starts the producer, which fills its queue
			t.Fatal(err)
		}
		loaders = append(loaders, l)
	}
	for _, l := range loaders {
		l.Close()
		l.Close()
		if _, err := l.Next(t.Context()); !errors.Is(err, shard.ErrClosed) {
			t.Fatalf("Next after Close: %v, want ErrClosed", err)
		}
	}
	for try := 0; runtime.NumGoroutine() > before; try++ { // Close waited; allow the runtime a moment
		if try == 100 {
			t.Fatalf("%d goroutines after Close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLoader_CloseUnblocksNext(t *testing.T) {
	ds := testDataset(t, 10)
	l := newLoader(t, ds, loaderConfig(0, 1, 2, false))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for { // a cancelled ctx still gets batches that are ready, then EOF or an error
		_, err := l.Next(ctx)
		if err != nil {
			if !errors.Is(err, context.Canceled) && err != io.EOF {
				t.Fatalf("Next: %v", err)
			}
			break
		}
	}
	go func() { time.Sleep(10 * time.Millisecond); l.Close() }()
	l.Close()
}

// TestLoader_Stats checks the bounds that hold whatever the scheduling: a
// stall is a batch that was not ready, so there are at most as many stalls
// as batches (a Next that returns io.EOF is never a stall, though it may
// wait for the producer to close its queue), and without stalls nothing
// was waited for. TestLoader_StatsExact counts them exactly.
func TestLoader_Stats(t *testing.T) {
	ds := testDataset(t, 50)
	l := newLoader(t, ds, loaderConfig(0, 1, 5, false))
	for range 3 {
		epoch(t, l)
	}
	s := l.Stats()
	if s.Batches != 30 || s.Stalls < 0 || s.Stalls > s.Batches || s.Wait < 0 || (s.Stalls == 0 && s.Wait != 0) {
		t.Fatalf("stats %+v, want 30 batches, 0 <= stalls <= batches, no wait without stalls", s)
	}
}

// TestLoader_EpochOrder runs a loader over several epochs: each epoch must
// be Note [Sampler]'s stream over Permutation(n, seed+epoch) (Note
// [Permutation]), dealt out round-robin and cut into batches, and no two
// consecutive epochs may be in the same order.
func TestLoader_EpochOrder(t *testing.T) {
	const n, size, batch, epochs = 23, 3, 4, 3
	ds := testDataset(t, n)
	for r := range size {
		cfg := loaderConfig(r, size, batch, false)
		l := newLoader(t, ds, cfg)
		var prev []int
		for e := range uint64(epochs) {
			got := epoch(t, l)
			want := samplerBatches(shard.Permutation(n, cfg.Seed+e), r, size, batch)
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(step{}, "State")); diff != "" {
				t.Fatalf("rank %d epoch %d (-want +got):\n%s", r, e, diff)
			}
			idx := flatIndex(got)
			if slices.Equal(prev, idx) {
				t.Fatalf("rank %d: epochs %d and %d in the same order %v", r, e-1, e, idx)
			}
			prev = idx
		}
	}
}

// samplerBatches is Note [Sampler] written out for one rank without
// DropLast or grouping: the stream is perm extended by repeating it from
// its head up to a multiple of size; rank takes positions rank, rank+size,
// ...; a position past the end of perm is a repeat; every batch rows make
// a batch, the last one possibly short.
func samplerBatches(perm []int, rank, size, batch int) []step {
	n := len(perm)
	total := (n + size - 1) / size * size
	var out []step
	for k, p := 0, rank; p < total; k, p = k+1, p+size {
		if k%batch == 0 {
			out = append(out, step{})
		}
		s := &out[len(out)-1]
		s.Index = append(s.Index, perm[p%n])
		s.Repeated = append(s.Repeated, p >= n)
	}
	for i := range out {
		if !slices.Contains(out[i].Repeated, true) {
			out[i].Repeated = nil // Batch.Repeated is nil when no row repeats
		}
	}
	return out
}

func flatIndex(steps []step) []int {
	var out []int
	for _, s := range steps {
		out = append(out, s.Index...)
	}
	return out
}

// TestLoader_EpochOrderGolden pins a tiny loader's batches over three
// epochs, so that a change of the permutation itself (Note [Permutation])
// is noticed too. The expectation is PyTorch 1.13's DistributedSampler
// (seed 9, n 7, 2 ranks, set_epoch 0, 1, 2; batches of 2) with
// torch.randperm replaced by a Python transcription of Note [Permutation],
// which gives Permutation(7, 9) = [5 2 0 3 1 6 4], (7, 10) = [5 1 2 3 6 4
// 0] and (7, 11) = [4 5 0 6 3 1 2].
func TestLoader_EpochOrderGolden(t *testing.T) {
	want := [2][3][][]int{ // [rank][epoch][batch]
		{{{5, 0}, {1, 4}}, {{5, 2}, {6, 0}}, {{4, 0}, {3, 2}}},
		{{{2, 3}, {6, 5}}, {{1, 3}, {4, 5}}, {{5, 6}, {1, 4}}},
	}
	ds := testDataset(t, 7)
	for r := range 2 {
		l := newLoader(t, ds, loaderConfig(r, 2, 2, false))
		for e := range 3 {
			var got [][]int
			for _, s := range epoch(t, l) {
				got = append(got, s.Index)
			}
			if diff := cmp.Diff(want[r][e], got); diff != "" {
				t.Errorf("rank %d epoch %d (-want +got):\n%s", r, e, diff)
			}
		}
	}
}

func TestLoader_ResumeRejectsOtherDataset(t *testing.T) {
	l := newLoader(t, testDataset(t, 10), loaderConfig(0, 1, 2, false))
	st := l.State()
	st.Rows = 11
	if err := l.Resume(st); !errors.Is(err, shard.ErrBadState) {
		t.Fatalf("Resume: %v, want ErrBadState", err)
	}
	st = l.State()
	st.Megabatch = 16
	if err := l.Resume(st); !errors.Is(err, shard.ErrBadState) {
		t.Fatalf("Resume with grouping into a loader without: %v, want ErrBadState", err)
	}
}
