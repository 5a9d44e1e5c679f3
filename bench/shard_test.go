package bench_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/bert/wordpiece"
	"github.com/ddprun/ddprun/shard"
)

// BenchmarkShard measures the data path on the SpamAssassin training split
// (go run ./shard/cmd/spamassassin writes it): reading, WordPiece
// tokenization and batching one epoch (batch 32, dynamic padding), without
// the token cache. Set DDPRUN_SPAMASSASSIN to the directory holding
// train.csv (default ../data/spamassassin) and DDPRUN_VOCAB to a vocab.txt
// or model folder (default: sugarme/tokenizer's bert-base-uncased vocab in
// the module cache). See bench/RESULTS-shard.md.
func BenchmarkShard(b *testing.B) {
	train, tok := benchInputs(b)
	for _, maxLen := range []int{128, 512} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("maxlen=%d/workers=%d", maxLen, workers), func(b *testing.B) {
				var rows, tokens int64
				for b.Loop() {
					ds := load(b, train, tok, maxLen, workers)
					rows += int64(ds.Len())
					tokens += ds.Stats().Tokens
					drain(b, ds)
				}
				report(b, rows, tokens, workers)
			})
		}
	}
}

// BenchmarkShardBatching measures batching alone (collate and prefetch) on
// the tokenized split: what a training step waits for once tokens are cached.
func BenchmarkShardBatching(b *testing.B) {
	train, tok := benchInputs(b)
	for _, maxLen := range []int{128, 512} {
		ds := load(b, train, tok, maxLen, 2)
		b.Run(fmt.Sprintf("maxlen=%d", maxLen), func(b *testing.B) {
			var rows int64
			for b.Loop() {
				drain(b, ds)
				rows += int64(ds.Len())
			}
			report(b, rows, ds.Stats().Tokens*int64(b.N), 1)
		})
	}
}

func report(b *testing.B, rows, tokens int64, workers int) {
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(rows)/sec, "samples/s")
	b.ReportMetric(float64(tokens)/sec, "tokens/s")
	b.ReportMetric(float64(rows)/sec/float64(workers), "samples/s/core")
}

func load(b *testing.B, train string, tok shard.Tokenizer, maxLen, workers int) *shard.Dataset {
	b.Helper()
	ds, err := shard.Load(b.Context(), train, shard.Config{
		TokenizeConfig: shard.TokenizeConfig{Tokenizer: tok, MaxLen: maxLen, Workers: workers},
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	labels, err := shard.BuildLabelMap(ds.LabelValues(), nil)
	if err == nil {
		err = ds.ApplyLabels(labels)
	}
	if err != nil {
		b.Fatal(err)
	}
	return ds
}

// drain batches one epoch of ds.
func drain(b *testing.B, ds *shard.Dataset) {
	cfg := shard.DefaultLoaderConfig()
	ld, err := shard.NewLoader(ds, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer ld.Close()
	for {
		if _, err := ld.Next(b.Context()); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			b.Fatal(err)
		}
	}
}

// benchInputs finds the training split and a tokenizer, or skips.
func benchInputs(b *testing.B) (string, shard.Tokenizer) {
	dir := cmpEnv("DDPRUN_SPAMASSASSIN", "../data/spamassassin")
	train := filepath.Join(dir, "train.csv")
	if _, err := os.Stat(train); err != nil {
		b.Skipf("no %s: run go run ./shard/cmd/spamassassin first", train)
	}
	vocab := os.Getenv("DDPRUN_VOCAB")
	if vocab == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			b.Skip("no DDPRUN_VOCAB and no go env GOMODCACHE")
		}
		vocab = filepath.Join(strings.TrimSpace(string(out)), "github.com/sugarme/tokenizer@v0.3.0/pretrained/model/bert-base-uncased-vocab.txt")
	}
	tok, err := wordpiece.Load(vocab, wordpiece.Options{})
	if err != nil {
		b.Skipf("vocabulary: %v", err)
	}
	return train, tok
}

func cmpEnv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
