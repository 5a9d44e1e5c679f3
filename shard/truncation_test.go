package shard_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/shard"
	"github.com/ddprun/ddprun/truncation"
)

// The token cache keys on the truncation: the same file with two modes
// makes two cache files, each with its mode's tokens, and each hits after.
func TestLoad_CacheKeysOnTruncation(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	path := filepath.Join(dir, "long.csv")
	text := "a b c d e f g h i j"
	if err := os.WriteFile(path, []byte("text,label\n"+text+",x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[truncation.Mode][]int32{}
	var files []string
	modes := []truncation.Mode{{Side: truncation.Head}, {Side: truncation.Tail}, {Side: truncation.HeadTail, Head: 1}, {Side: truncation.HeadTail, Head: 2}}
	for _, m := range modes {
		cfg := testConfig(cache)
		cfg.MaxLen, cfg.Truncation = 5, m
		ds, calls, _ := load(t, path, cfg)
		ids, _, _ := wordTokenizer{}.Encode(text, "", 5, m)
		if calls != 1 || !slices.Equal(ds.Tokens(0), ids) {
			t.Fatalf("%v: %d Encode calls, tokens %v; want 1 and %v", m, calls, ds.Tokens(0), ids)
		}
		want[m] = ids
		files, _ = filepath.Glob(filepath.Join(cache, "*.tok"))
	}
	if len(files) != len(modes) {
		t.Fatalf("cache files %v, want one per mode", files)
	}
	for i := range modes {
		for _, m := range modes[i+1:] {
			if slices.Equal(want[modes[i]], want[m]) {
				t.Fatalf("%v and %v keep the same tokens: the test proves nothing", modes[i], m)
			}
		}
	}
	for m, ids := range want {
		cfg := testConfig(cache)
		cfg.MaxLen, cfg.Truncation = 5, m
		ds, calls, _ := load(t, path, cfg)
		if calls != 0 || !slices.Equal(ds.Tokens(0), ids) {
			t.Errorf("%v again: %d Encode calls, tokens %v; want a cache hit with %v", m, calls, ds.Tokens(0), ids)
		}
	}
}

func TestTokenize_InvalidTruncation(t *testing.T) {
	scan := func(fn func(shard.Record) error) (shard.ReadStats, error) { return shard.ReadStats{}, nil }
	_, err := shard.Tokenize(t.Context(), "x", scan, shard.TokenizeConfig{Tokenizer: wordTokenizer{}, MaxLen: 8, Truncation: truncation.Mode{Side: 9}})
	if err == nil || !strings.Contains(err.Error(), "invalid mode") {
		t.Errorf("Tokenize with Side 9: %v", err)
	}
}
