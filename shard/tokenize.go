package shard

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/ddprun/ddprun/shard/truncation"
)

// Tokenizer turns text into model input. Implementations must be safe for
// concurrent use: Load calls Encode from several goroutines.
type Tokenizer interface {
	// Encode tokenizes text (and pair, if non-empty) as [CLS] text [SEP]
	// (pair [SEP]), truncated to maxLen tokens in total (longest-first for
	// pairs: how many tokens each text keeps), returning token ids and
	// token type ids of equal length, at least 1 and at most maxLen. A text
	// that is cut keeps the tokens trunc.Keep says, of its own tokens.
	Encode(text, pair string, maxLen int, trunc truncation.Mode) (ids, typeIDs []int32, err error)
	// Fingerprint identifies the vocabulary and settings (for the token
	// cache key): two tokenizers with the same fingerprint must encode
	// every input the same way.
	Fingerprint() string
}

// TokenizeConfig says how to tokenize rows.
type TokenizeConfig struct {
	Tokenizer Tokenizer
	MaxLen    int // tokens per row, special tokens included (BERT: at most 512)
	// Truncation says which tokens a longer row keeps; the zero Mode keeps
	// the first (head).
	Truncation truncation.Mode
	Workers    int // parallel Encode calls; 0 means GOMAXPROCS
	// MaxBytesPerToken bounds the text handed to Encode: of a text (and
	// pair) longer than MaxLen*MaxBytesPerToken bytes, only that many bytes
	// from each end that Truncation keeps go to Encode (Note [Pre-cut]), so
	// a 100 MB row costs no more than a short one. 0 means 50, far above
	// English WordPiece's 4 to 6 bytes per token.
	MaxBytesPerToken int
}

// chunkRows is how many rows a tokenizing worker takes at a time.
const chunkRows = 64

// chunk is a run of consecutive rows and, once tokenized, their tokens.
type chunk struct {
	seq   int
	recs  []Record
	ids   [][]int32
	types [][]int32
	cut   int
}

// Tokenize reads rows with scan (a Scan bound to its input, for example)
// and tokenizes them on cfg.Workers goroutines while reading. name is used
// in errors.
func Tokenize(ctx context.Context, name string, scan func(func(Record) error) (ReadStats, error), cfg TokenizeConfig) (*Dataset, error) {
	if cfg.MaxLen < 2 {
		return nil, fmt.Errorf("shard: tokenize %s: max length %d: want at least 2", name, cfg.MaxLen)
	}
	if err := cfg.Truncation.Validate(); err != nil {
		return nil, fmt.Errorf("shard: tokenize %s: %w", name, err)
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	g, ctx := errgroup.WithContext(ctx)
	jobs := make(chan *chunk, 2*workers)
	b := newBuilder(name)
	g.Go(func() error {
		defer close(jobs)
		var err error
		b.stats.ReadStats, err = b.feed(ctx, scan, jobs)
		return err
	})
	for range workers {
		g.Go(func() error { return b.work(ctx, jobs, cfg) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return b.build(), nil
}

// builder collects a Dataset from the reader and the workers.
type builder struct {
	ds         Dataset
	stats      TokenStats
	labelIndex map[string]int32
	mu         sync.Mutex // guards done
	done       []*chunk
}

func newBuilder(name string) *builder {
	return &builder{ds: Dataset{name: name}, labelIndex: map[string]int32{}}
}

// feed reads rows, records their lines and labels, and sends them to the
// workers in chunks.
func (b *builder) feed(ctx context.Context, scan func(func(Record) error) (ReadStats, error), jobs chan<- *chunk) (ReadStats, error) {
	c := &chunk{}
	send := func() error {
		select {
		case jobs <- c:
			c = &chunk{seq: c.seq + 1}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	stats, err := scan(func(r Record) error {
		b.keep(r)
		if c.recs = append(c.recs, r); len(c.recs) == chunkRows {
			return send()
		}
		return nil
	})
	if err == nil && len(c.recs) > 0 {
		err = send()
	}
	return stats, err
}

// keep records what the dataset needs of r besides tokens.
func (b *builder) keep(r Record) {
	b.ds.lines = append(b.ds.lines, int32(r.Line))
	if r.Label == "" {
		return
	}
	j, ok := b.labelIndex[r.Label]
	if !ok {
		j = int32(len(b.ds.labelNames))
		b.labelIndex[r.Label] = j
		b.ds.labelNames = append(b.ds.labelNames, r.Label)
	}
	b.ds.labelIdx = append(b.ds.labelIdx, j)
}

// work tokenizes chunks until jobs closes.
func (b *builder) work(ctx context.Context, jobs <-chan *chunk, cfg TokenizeConfig) error {
	for c := range jobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.encode(c, cfg); err != nil {
			return err
		}
		b.mu.Lock()
		for len(b.done) <= c.seq {
			b.done = append(b.done, nil)
		}
		b.done[c.seq] = c
		b.mu.Unlock()
	}
	return nil
}

// encode tokenizes the rows of c.
func (b *builder) encode(c *chunk, cfg TokenizeConfig) error {
	limit := cfg.MaxLen * cmpOr(cfg.MaxBytesPerToken, 50)
	for _, r := range c.recs {
		text, cut1 := cutBytes(r.Text, limit, cfg.Truncation)
		pair, cut2 := cutBytes(r.Pair, limit, cfg.Truncation)
		if cut1 || cut2 {
			c.cut++
		}
		ids, types, err := cfg.Tokenizer.Encode(text, pair, cfg.MaxLen, cfg.Truncation)
		if err != nil {
			return fmt.Errorf("shard: tokenize %s:%d: %w", b.ds.name, r.Line, err)
		}
		if len(ids) == 0 || len(ids) > cfg.MaxLen || len(types) != len(ids) {
			return fmt.Errorf("shard: tokenize %s:%d: %d ids and %d type ids for max length %d: %w",
				b.ds.name, r.Line, len(ids), len(types), cfg.MaxLen, ErrTokenizer)
		}
		c.ids, c.types = append(c.ids, ids), append(c.types, types)
	}
	c.recs = nil
	return nil
}

// build flattens the chunks into the Dataset.
func (b *builder) build() *Dataset {
	d := &b.ds
	d.offsets = make([]int64, 1, len(d.lines)+1)
	total := 0
	for _, c := range b.done {
		for _, ids := range c.ids {
			total += len(ids)
		}
	}
	d.tokens = make([]int32, 0, total)
	var pairs bool
	for _, c := range b.done {
		b.stats.CutRows += c.cut
		for i, ids := range c.ids {
			d.tokens = append(d.tokens, ids...)
			d.offsets = append(d.offsets, int64(len(d.tokens)))
			for _, t := range c.types[i] {
				pairs = pairs || t != 0
			}
		}
	}
	if pairs {
		d.types = make([]uint8, 0, len(d.tokens))
		for _, c := range b.done {
			for _, ts := range c.types {
				for _, t := range ts {
					d.types = append(d.types, uint8(t))
				}
			}
		}
	}
	b.stats.Tokens = int64(len(d.tokens))
	d.stats = b.stats
	return d
}

// Note [Pre-cut]: a text longer than limit = MaxLen*MaxBytesPerToken bytes
// is cut before Encode, keeping the bytes whose tokens the truncation keeps:
// the first limit bytes (head), the last limit bytes (tail), or both joined
// by a space (head+tail, which leaves a text of up to 2*limit bytes whole).
// Cuts fall on rune boundaries, so a word that a cut splits gives other
// tokens than it would whole. Those are the last tokens of a head part and
// the first of a tail part, and Encode drops them: they come after what a
// head keeps, before what a tail keeps, and in the middle of a head+tail,
// where the joining space keeps them from merging with a whole word. So the
// tokens kept are exactly those of the uncut text when the whole words of
// each part make at least as many tokens as are kept from that end: a
// guarantee of about limit bytes per MaxLen tokens, which 50 bytes per
// token leaves to all but pathological text (one 10 KB word is one [UNK]).
// Tokenizing is word-local in WordPiece (words split on white space), which
// is what makes this hold. One more limit: when both texts of a pair are
// cut, longest-first compares the cut lengths, and if their order differs
// from the uncut one the odd token can go to the other text.

// cutBytes returns what the pre-cut passes to Encode of s for trunc, and
// whether it cut. See Note [Pre-cut].
func cutBytes(s string, limit int, trunc truncation.Mode) (string, bool) {
	switch {
	case trunc.Side == truncation.HeadTail && len(s) > 2*limit:
		return s[:runeStartBefore(s, limit)] + " " + s[runeStartAfter(s, len(s)-limit):], true
	case trunc.Side == truncation.Tail && len(s) > limit:
		return s[runeStartAfter(s, len(s)-limit):], true
	case trunc.Side == truncation.Head && len(s) > limit:
		return s[:runeStartBefore(s, limit)], true
	}
	return s, false
}

// runeStartBefore returns the last rune boundary of s at or before i.
func runeStartBefore(s string, i int) int {
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// runeStartAfter returns the first rune boundary of s at or after i.
func runeStartAfter(s string, i int) int {
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return i
}

// cmpOr returns v, or def if v <= 0.
func cmpOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}
