package shard_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ddprun/ddprun/shard"
	"github.com/ddprun/ddprun/shard/truncation"
)

// countingTokenizer counts Encode calls.
type countingTokenizer struct {
	wordTokenizer
	calls *atomic.Int64
}

func (c countingTokenizer) Encode(text, pair string, maxLen int, trunc truncation.Mode) ([]int32, []int32, error) {
	c.calls.Add(1)
	return c.wordTokenizer.Encode(text, pair, maxLen, trunc)
}

func testConfig(cacheDir string) shard.Config {
	return shard.Config{
		TokenizeConfig: shard.TokenizeConfig{Tokenizer: wordTokenizer{}, MaxLen: 16, Workers: 2},
		CacheDir:       cacheDir,
		Logger:         slog.New(slog.DiscardHandler),
	}
}

// writeCSV writes rows of n texts and returns the path.
func writeCSV(t *testing.T, dir string, n int, extra string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("text,label\n")
	for i := range n {
		b.WriteString(strings.Repeat("word ", 1+i%20) + extra + ",l" + string(rune('a'+i%3)) + "\n")
	}
	path := filepath.Join(dir, "train.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// load loads path and returns the dataset, the Encode calls and the log.
func load(t *testing.T, path string, cfg shard.Config) (*shard.Dataset, int64, string) {
	t.Helper()
	var calls atomic.Int64
	var log bytes.Buffer
	cfg.Tokenizer = countingTokenizer{calls: &calls}
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	ds, err := shard.Load(t.Context(), path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ds, calls.Load(), log.String()
}

func sameDataset(t *testing.T, a, b *shard.Dataset) {
	t.Helper()
	if a.Len() != b.Len() || a.Stats() != b.Stats() || !slices.Equal(a.LabelValues(), b.LabelValues()) {
		t.Fatalf("datasets differ: %d rows %+v %v, %d rows %+v %v", a.Len(), a.Stats(), a.LabelValues(), b.Len(), b.Stats(), b.LabelValues())
	}
	for i := range a.Len() {
		if !slices.Equal(a.Tokens(i), b.Tokens(i)) || a.Line(i) != b.Line(i) || a.LabelValue(i) != b.LabelValue(i) || !slices.Equal(a.TypeIDs(i), b.TypeIDs(i)) {
			t.Fatalf("row %d differs", i)
		}
	}
}

func TestLoad_CacheHitAndMiss(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	path := writeCSV(t, dir, 300, "")
	cfg := testConfig(cache)

	first, calls, _ := load(t, path, cfg)
	if calls != 300 {
		t.Fatalf("first load: %d Encode calls, want 300", calls)
	}
	second, calls, log := load(t, path, cfg)
	if calls != 0 || !strings.Contains(log, "cache hit") {
		t.Fatalf("second load: %d Encode calls, log %q; want a cache hit", calls, log)
	}
	sameDataset(t, first, second)

	cfg.MaxLen = 8 // another key
	if _, calls, _ = load(t, path, cfg); calls != 300 {
		t.Fatalf("changed max length: %d Encode calls, want 300", calls)
	}
	cfg.MaxLen = 16
	writeCSV(t, dir, 300, "changed")
	changed, calls, _ := load(t, path, cfg)
	if calls != 300 || changed.Length(0) == first.Length(0) {
		t.Fatalf("changed file: %d Encode calls, want 300 and new tokens", calls)
	}
	noCache, _, _ := load(t, path, testConfig(""))
	sameDataset(t, changed, noCache)
}

func TestLoad_CorruptCacheRebuilds(t *testing.T) {
	for _, damage := range []struct {
		name string
		fn   func([]byte) []byte
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)/3] }},
		{"empty", func(b []byte) []byte { return nil }},
		{"garbage", func(b []byte) []byte { return []byte("DDPSHARD\xff\xff\xff\xff") }},
	} {
		t.Run(damage.name, func(t *testing.T) {
			dir := t.TempDir()
			cache := filepath.Join(dir, "cache")
			path := writeCSV(t, dir, 50, "")
			want, _, _ := load(t, path, testConfig(cache))
			files, _ := filepath.Glob(filepath.Join(cache, "*.tok"))
			if len(files) != 1 {
				t.Fatalf("cache files %v, want one", files)
			}
			b, _ := os.ReadFile(files[0])
			os.WriteFile(files[0], damage.fn(b), 0o644)

			got, calls, log := load(t, path, testConfig(cache))
			if calls != 50 || !strings.Contains(log, "corrupt token cache") {
				t.Fatalf("%d Encode calls, log %q; want a rebuild with a warning", calls, log)
			}
			sameDataset(t, want, got)
			if _, calls, _ := load(t, path, testConfig(cache)); calls != 0 {
				t.Fatalf("after rebuild: %d Encode calls, want a hit", calls)
			}
		})
	}
}

func TestLoad_PairsAndNoLabelsThroughCache(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.jsonl")
	os.WriteFile(path, []byte("{\"q\":\"a b\",\"p\":\"c\"}\n{\"q\":\"d\",\"p\":\"\"}\n"), 0o644)
	cfg := testConfig(filepath.Join(dir, "cache"))
	cfg.Read = shard.ReadConfig{Text: "q", Pair: "p", NoLabel: true}
	a, _, _ := load(t, path, cfg)
	b, calls, _ := load(t, path, cfg)
	if calls != 0 {
		t.Fatal("no cache hit")
	}
	sameDataset(t, a, b)
	if a.TypeIDs(0) == nil || a.Label(0) != -1 || a.LabelValue(0) != "" {
		t.Fatalf("row 0: types %v label %d", a.TypeIDs(0), a.Label(0))
	}
}

func TestTokenize_CutsHugeRows(t *testing.T) {
	var seen atomic.Int64
	tok := lenTokenizer{maxSeen: &seen}
	huge := strings.Repeat("ab ", 1<<20)
	scan := func(fn func(shard.Record) error) (shard.ReadStats, error) {
		return shard.ReadStats{Rows: 1}, fn(shard.Record{Text: huge, Label: "x", Line: 2})
	}
	ds, err := shard.Tokenize(t.Context(), "huge", scan, shard.TokenizeConfig{Tokenizer: tok, MaxLen: 128})
	if err != nil {
		t.Fatal(err)
	}
	if seen.Load() > 128*50 || ds.Stats().CutRows != 1 || ds.Length(0) != 128 {
		t.Fatalf("Encode saw %d bytes, cut rows %d, length %d", seen.Load(), ds.Stats().CutRows, ds.Length(0))
	}
}

// lenTokenizer records the longest text it was given.
type lenTokenizer struct {
	wordTokenizer
	maxSeen *atomic.Int64
}

func (l lenTokenizer) Encode(text, pair string, maxLen int, trunc truncation.Mode) ([]int32, []int32, error) {
	if int64(len(text)) > l.maxSeen.Load() {
		l.maxSeen.Store(int64(len(text)))
	}
	return l.wordTokenizer.Encode(text, pair, maxLen, trunc)
}

// badTokenizer breaks the Tokenizer contract.
type badTokenizer struct{ wordTokenizer }

func (badTokenizer) Encode(text, pair string, maxLen int, trunc truncation.Mode) ([]int32, []int32, error) {
	return make([]int32, maxLen+1), make([]int32, maxLen+1), nil
}

func TestTokenize_ContractViolation(t *testing.T) {
	dir := t.TempDir()
	path := writeCSV(t, dir, 500, "")
	cfg := testConfig("")
	cfg.Tokenizer = badTokenizer{}
	_, err := shard.Load(t.Context(), path, cfg)
	if !errors.Is(err, shard.ErrTokenizer) || !strings.Contains(err.Error(), "train.csv:") {
		t.Fatalf("Load with a bad tokenizer: %v", err)
	}
}
