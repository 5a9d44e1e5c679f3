package shard_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/ddprun/ddprun/shard"
	"github.com/ddprun/ddprun/shard/truncation"
)

// wordTokenizer is a stand-in for a WordPiece tokenizer: one token per
// space-separated word, [CLS] = 101, [SEP] = 102.
type wordTokenizer struct{}

func (wordTokenizer) Fingerprint() string { return "words-v1" }

func (wordTokenizer) Encode(text, pair string, maxLen int, trunc truncation.Mode) (ids, typeIDs []int32, err error) {
	a, b := words(text), words(pair)
	special := 2
	if pair != "" {
		special = 3
	}
	ka, kb := len(a), len(b)
	for ka+kb+special > maxLen && ka+kb > 0 { // longest first
		if ka >= kb {
			ka--
		} else {
			kb--
		}
	}
	ids = append(append([]int32{101}, kept(a, ka, trunc)...), 102)
	typeIDs = make([]int32, len(ids))
	if pair != "" {
		ids = append(append(ids, kept(b, kb, trunc)...), 102)
		for len(typeIDs) < len(ids) {
			typeIDs = append(typeIDs, 1)
		}
	}
	return ids, typeIDs, nil
}

// kept returns the k of ids that trunc keeps.
func kept(ids []int32, k int, trunc truncation.Mode) []int32 {
	head, tail := trunc.Keep(len(ids), k)
	return append(ids[:head:head], ids[len(ids)-tail:]...)
}

func words(s string) []int32 {
	var ids []int32
	for _, w := range strings.Fields(s) {
		h := fnv.New32a()
		h.Write([]byte(w))
		ids = append(ids, int32(1000+h.Sum32()%5000))
	}
	return ids
}

func Example() {
	dir, err := os.MkdirTemp("", "shard-example") // an Example has no t.TempDir
	if err != nil {
		panic(err) // with dir "", the files would land in the package directory
	}
	defer os.RemoveAll(dir)
	train := filepath.Join(dir, "train.csv")
	err = os.WriteFile(train, []byte("text,label\n"+
		"a short one,ham\n"+
		"\"a longer text, with a comma\",spam\n"+
		"hi,ham\n"+
		"buy now buy now,spam\n"+
		"see you at noon,ham\n"), 0o644)
	if err != nil {
		panic(err)
	}

	// 1. Read and tokenize a split (tokens are cached in CacheDir).
	ctx := context.Background()
	ds, err := shard.Load(ctx, train, shard.Config{
		TokenizeConfig: shard.TokenizeConfig{Tokenizer: wordTokenizer{}, MaxLen: 128},
		CacheDir:       filepath.Join(dir, "cache"),
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}

	// 2. Map labels to ids (build the map from the training split; save it
	// as id2label in config.json; apply it to every split).
	labels, _ := shard.BuildLabelMap(ds.LabelValues(), nil)
	if err := ds.ApplyLabels(labels); err != nil {
		panic(err)
	}
	fmt.Println("labels:", labels.ID2Label())

	// 3. Deal the split out: this is rank 0 of 2, 2 rows per batch.
	cfg := shard.DefaultLoaderConfig()
	cfg.Rank, cfg.Size, cfg.BatchSize = 0, 2, 2
	ld, _ := shard.NewLoader(ds, cfg)
	defer ld.Close()
	fmt.Println("batches per epoch:", ld.BatchesPerEpoch())
	for {
		b, err := ld.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		fmt.Printf("B=%d T=%d rows=%v repeated=%v\n", b.B, b.T, b.Index, b.Repeated)
	}
	fmt.Printf("resume from: %+v\n", ld.State())
	// Output:
	// labels: map[0:ham 1:spam]
	// batches per epoch: 2
	// B=2 T=8 rows=[1 4] repeated=[]
	// B=1 T=6 rows=[3] repeated=[]
	// resume from: {Seed:42 Epoch:1 Offset:0 Rows:5 Megabatch:0 Shuffle:true}
}
