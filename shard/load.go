package shard

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"time"
)

// Config says how Load reads, tokenizes and caches a split.
type Config struct {
	Read ReadConfig
	TokenizeConfig
	// CacheDir holds token caches (see Note [Token cache]); "" means no
	// cache. It is created if missing.
	CacheDir string
	Logger   *slog.Logger // nil means slog.Default()
}

// Load reads the data file at path and tokenizes it, or takes its tokens
// from the cache. Labels stay as written until Dataset.ApplyLabels.
func Load(ctx context.Context, path string, cfg Config) (*Dataset, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Tokenizer == nil {
		return nil, fmt.Errorf("shard: load %s: no tokenizer", path)
	}
	if cfg.CacheDir == "" {
		d, _, err := tokenizeLogged(ctx, path, cfg, log)
		return d, err
	}
	sum, err := fileSum(path)
	if err != nil {
		return nil, err
	}
	key := cacheKey(sum, cfg)
	file := cachePath(cfg.CacheDir, path, key)
	d, err := readCache(file, key, path)
	switch {
	case err == nil:
		log.Info("shard: token cache hit", "file", path, "cache", file, "rows", d.Len())
		return d, nil
	case !errors.Is(err, fs.ErrNotExist):
		log.Warn("shard: token cache unusable, tokenizing again", "file", path, "err", err)
	}
	return loadAndCache(ctx, path, file, key, sum, cfg, log)
}

// loadAndCache tokenizes path and writes the cache, unless the file
// changed while being read.
func loadAndCache(ctx context.Context, path, file, key string, sum []byte, cfg Config, log *slog.Logger) (*Dataset, error) {
	d, got, err := tokenizeLogged(ctx, path, cfg, log)
	if err != nil {
		return nil, err
	}
	if string(got) != string(sum) {
		log.Warn("shard: file changed while being read; not caching its tokens", "file", path)
		return d, nil
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
		log.Warn("shard: cannot create token cache dir", "dir", cfg.CacheDir, "err", err)
		return d, nil
	}
	if err := writeCache(file, key, d); err != nil {
		log.Warn("shard: token cache not written", "file", path, "err", err)
	}
	return d, nil
}

// tokenizeLogged is tokenizeFile with a log line for the result.
func tokenizeLogged(ctx context.Context, path string, cfg Config, log *slog.Logger) (*Dataset, []byte, error) {
	start := time.Now()
	d, sum, err := tokenizeFile(ctx, path, cfg)
	if err != nil {
		return nil, nil, err
	}
	log.Info("shard: tokenized", "file", path, "rows", d.Len(), "tokens", d.stats.Tokens,
		"skipped_empty", d.stats.SkippedEmpty, "replaced_utf8", d.stats.ReplacedUTF8,
		"cut_rows", d.stats.CutRows, "took", time.Since(start).Round(time.Millisecond))
	return d, sum, nil
}

// tokenizeFile reads and tokenizes path, returning the sha256 of the bytes
// it read.
func tokenizeFile(ctx context.Context, path string, cfg Config) (*Dataset, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("shard: load: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	r := io.TeeReader(f, h)
	scan := func(fn func(Record) error) (ReadStats, error) {
		return Scan(r, path, cfg.Read, fn)
	}
	d, err := Tokenize(ctx, path, scan, cfg.TokenizeConfig)
	if err != nil {
		return nil, nil, err
	}
	io.Copy(h, f) // hash whatever the reader left unread
	return d, sumOf(h), nil
}

// fileSum returns the sha256 of the file at path.
func fileSum(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("shard: load: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("shard: load: hash %s: %w", path, err)
	}
	return sumOf(h), nil
}

func sumOf(h hash.Hash) []byte { return h.Sum(nil) }
