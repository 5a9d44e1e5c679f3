package shard_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/ddprun/ddprun/shard"
	"github.com/ddprun/ddprun/shard/truncation"
)

// longText returns about n bytes of distinct words, each ending in a
// rune of 1 to 4 bytes, so that cuts land inside runes and every token
// tells where it came from.
func longText(n int) string {
	var b strings.Builder
	ends := []string{"a", "é", "日", "😀"}
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "w%d%s ", i, ends[i%len(ends)])
	}
	return b.String()
}

var testModes = []truncation.Mode{
	{Side: truncation.Head},
	{Side: truncation.Tail},
	{Side: truncation.HeadTail, Head: 31}, // head+tail at max length 128
	{Side: truncation.HeadTail, Head: 1},
	{Side: truncation.HeadTail, Head: 120},
}

// tokenizeOne tokenizes one record and returns its tokens and type ids,
// the cut-row count and the longest text Encode saw. It fails the test if
// Encode is given invalid UTF-8 (a cut inside a rune).
func tokenizeOne(t *testing.T, r shard.Record, cfg shard.TokenizeConfig) ([]int32, []uint8, int, int64) {
	t.Helper()
	var seen atomic.Int64
	var invalid atomic.Bool
	cfg.Tokenizer = seeingTokenizer{lenTokenizer{maxSeen: &seen}, &invalid}
	scan := func(fn func(shard.Record) error) (shard.ReadStats, error) {
		return shard.ReadStats{Rows: 1}, fn(r)
	}
	ds, err := shard.Tokenize(t.Context(), "long", scan, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if invalid.Load() {
		t.Error("Encode was given invalid UTF-8")
	}
	return ds.Tokens(0), ds.TypeIDs(0), ds.Stats().CutRows, seen.Load()
}

// seeingTokenizer also records whether a text or pair was invalid UTF-8.
type seeingTokenizer struct {
	lenTokenizer
	invalid *atomic.Bool
}

func (s seeingTokenizer) Encode(text, pair string, maxLen int, trunc truncation.Mode) ([]int32, []int32, error) {
	if !utf8.ValidString(text) || !utf8.ValidString(pair) {
		s.invalid.Store(true)
	}
	return s.lenTokenizer.Encode(text, pair, maxLen, trunc)
}

// The pre-cut of a 100 KB text keeps exactly the tokens that truncating
// the whole text keeps, in every mode, down to a byte budget just above
// the text's bytes per token (about 10 here; see Note [Pre-cut]).
func TestTokenize_PreCutKeepsTheTokens(t *testing.T) {
	huge, short := longText(100_000), "a short pair"
	for _, m := range testModes {
		for _, bpt := range []int{12, 13, 14, 50} {
			for _, tc := range []struct {
				name string
				r    shard.Record
			}{
				{"text", shard.Record{Text: huge, Line: 2}},
				{"long text/short pair", shard.Record{Text: huge, Pair: short, Line: 2}},
				{"short text/long pair", shard.Record{Text: short, Pair: huge, Line: 2}},
			} {
				t.Run(fmt.Sprintf("%v/bytes per token=%d/%s", m, bpt, tc.name), func(t *testing.T) {
					want, _, _ := wordTokenizer{}.Encode(tc.r.Text, tc.r.Pair, 128, m)
					cfg := shard.TokenizeConfig{MaxLen: 128, Truncation: m, MaxBytesPerToken: bpt}
					got, _, cut, seen := tokenizeOne(t, tc.r, cfg)
					if !slices.Equal(got, want) {
						t.Errorf("tokens after the pre-cut differ from those of the whole text:\n got %v\nwant %v", got, want)
					}
					limit := int64(128 * bpt)
					if m.Side == truncation.HeadTail {
						limit = 2*limit + 1
					}
					if cut != 1 || (tc.r.Pair == "" && seen > limit) {
						t.Errorf("cut rows %d, Encode saw %d bytes; want 1 row cut to at most %d bytes", cut, seen, limit)
					}
				})
			}
		}
	}
}

// What each mode keeps of a long text, written out: the first, the last,
// or the first H and the last words.
func TestTokenize_PreCutWhichWords(t *testing.T) {
	text := longText(20_000)
	words := strings.Fields(text)
	n := len(words)
	for _, tc := range []struct {
		m    truncation.Mode
		want []string
	}{
		{truncation.Mode{Side: truncation.Head}, words[:6]},
		{truncation.Mode{Side: truncation.Tail}, words[n-6:]},
		{truncation.Mode{Side: truncation.HeadTail, Head: 2}, append(words[:2:2], words[n-4:]...)},
	} {
		got, _, cut, _ := tokenizeOne(t, shard.Record{Text: text, Line: 2}, shard.TokenizeConfig{MaxLen: 8, Truncation: tc.m, MaxBytesPerToken: 50})
		want := []int32{101}
		for _, w := range tc.want {
			want = append(want, words1(w))
		}
		want = append(want, 102)
		if cut != 1 || !slices.Equal(got, want) {
			t.Errorf("%v: cut %d, tokens %v; want those of %q", tc.m, cut, got, tc.want)
		}
	}
}

func words1(w string) int32 { return words(w)[0] }

// A text of up to 2*limit bytes is whole for head+tail, and cut above it.
func TestTokenize_PreCutHeadTailBound(t *testing.T) {
	m := truncation.Mode{Side: truncation.HeadTail, Head: 3}
	cfg := shard.TokenizeConfig{MaxLen: 8, Truncation: m, MaxBytesPerToken: 10} // limit 80 bytes
	for _, tc := range []struct {
		n   int
		cut int
	}{{160, 0}, {161, 1}} {
		text := strings.Repeat("x", tc.n)
		if _, _, cut, seen := tokenizeOne(t, shard.Record{Text: text, Line: 2}, cfg); cut != tc.cut || seen > 161 {
			t.Errorf("%d bytes: cut %d (want %d), Encode saw %d bytes", tc.n, cut, tc.cut, seen)
		}
	}
}

// Where the budget is just enough (whole words fill each kept part), the
// pre-cut still keeps the right tokens: the parts of a head+tail are
// joined with a space, so that a whole word at the end of the head does not
// merge with the first word of the tail.
func TestTokenize_PreCutExactFit(t *testing.T) {
	middle := strings.Repeat("m ", 50)
	for _, tc := range []struct {
		text   string
		maxLen int
		m      truncation.Mode
		want   string
	}{
		{"a b c " + middle + "x y z", 5, truncation.Mode{Side: truncation.Head}, "a b c"},
		{"a b c " + middle + "x y z", 5, truncation.Mode{Side: truncation.Tail}, "x y z"},
		{"aa bb cc " + middle + "xx yy zz", 8, truncation.Mode{Side: truncation.HeadTail, Head: 3}, "aa bb cc xx yy zz"},
	} {
		// MaxBytesPerToken 1: limit = maxLen bytes, which "a b c" and
		// "aa bb cc" fill.
		got, _, cut, _ := tokenizeOne(t, shard.Record{Text: tc.text, Line: 2}, shard.TokenizeConfig{MaxLen: tc.maxLen, Truncation: tc.m, MaxBytesPerToken: 1})
		want, _, _ := wordTokenizer{}.Encode(tc.want, "", tc.maxLen, tc.m)
		if cut != 1 || !slices.Equal(got, want) {
			t.Errorf("%v: cut %d, tokens %v; want those of %q, %v", tc.m, cut, got, tc.want, want)
		}
	}
}

// Cuts fall on rune boundaries in every mode: in a text of 4-byte runes
// a 21-byte limit lands inside one.
func TestTokenize_PreCutRuneBoundaries(t *testing.T) {
	text := strings.Repeat("😀", 100)
	for _, m := range testModes {
		cfg := shard.TokenizeConfig{MaxLen: 7, Truncation: m, MaxBytesPerToken: 3}
		_, _, cut, seen := tokenizeOne(t, shard.Record{Text: text, Line: 2}, cfg) // fails on invalid UTF-8
		want := int64(20)                                                         // 5 runes
		if m.Side == truncation.HeadTail {
			want = 20 + 1 + 20
		}
		if cut != 1 || seen != want {
			t.Errorf("%v: cut %d, Encode saw %d bytes; want %d", m, cut, seen, want)
		}
	}
}

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
