package shard

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Note [Token cache]: a split is tokenized once per (file content,
// tokenizer, settings). The cache file is
// <dir>/<file base>.<first 16 hex digits of the key>.tok, where the key is
// sha256 over the file's sha256, the tokenizer's fingerprint, MaxLen,
// Truncation, MaxBytesPerToken and every ReadConfig field (columns, format,
// policies).
// Layout, little-endian:
//
//	"DDPSHARD" | uint32 header length | header (JSON, cacheHeader)
//	| offsets int64[n+1] | tokens int32[T] | types uint8[T] if pairs
//	| lines int32[n] | label index int32[n] if labels | sha256 of all before
//
// It is written to a temporary file in the same directory, fsynced and
// renamed over the old one, so a reader sees a whole file or none. A file
// that fails its checksum or does not decode is ErrCorruptCache: Load logs
// a warning and tokenizes again. Changed settings give another key and so
// another file; old files are never removed.

const (
	cacheMagic   = "DDPSHARD"
	cacheVersion = 1
)

// cacheHeader is the JSON header of a cache file.
type cacheHeader struct {
	Version int        `json:"version"`
	Key     string     `json:"key"`
	Rows    int        `json:"rows"`
	Tokens  int        `json:"tokens"`
	Pairs   bool       `json:"pairs"`
	Labels  []string   `json:"labels"` // nil: read without labels
	Stats   TokenStats `json:"stats"`
}

// cacheKey returns the key of Note [Token cache].
func cacheKey(fileSum []byte, cfg Config) string {
	h := sha256.New()
	fmt.Fprintf(h, "ddprun shard cache v%d\n%x\n%q\n%d %s %d\n%#v\n", cacheVersion, fileSum,
		cfg.Tokenizer.Fingerprint(), cfg.MaxLen, cfg.Truncation, cmpOr(cfg.MaxBytesPerToken, 50), cfg.Read)
	return hex.EncodeToString(h.Sum(nil))
}

// cachePath returns the cache file of path under dir for key.
func cachePath(dir, path, key string) string {
	return filepath.Join(dir, filepath.Base(path)+"."+key[:16]+".tok")
}

// writeCache writes d to file atomically. See Note [Token cache].
func writeCache(file, key string, d *Dataset) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".tmp*")
	if err != nil {
		return fmt.Errorf("shard: write token cache: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := encodeCache(tmp, key, d); err != nil {
		return fmt.Errorf("shard: write token cache %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("shard: sync token cache %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("shard: close token cache %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("shard: rename token cache: %w", err)
	}
	syncDir(filepath.Dir(file))
	return nil
}

// syncDir makes a rename in dir durable, where the platform allows.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// encodeCache writes the layout of Note [Token cache] to w.
func encodeCache(w io.Writer, key string, d *Dataset) error {
	sum := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 1<<20)
	head, err := json.Marshal(cacheHeader{
		Version: cacheVersion, Key: key, Rows: d.Len(), Tokens: len(d.tokens),
		Pairs: d.types != nil, Labels: labelsOrNil(d), Stats: d.stats,
	})
	if err != nil {
		return err
	}
	bw.WriteString(cacheMagic)
	parts := []any{uint32(len(head)), head, d.offsets, d.tokens}
	if d.types != nil {
		parts = append(parts, d.types)
	}
	parts = append(parts, d.lines)
	if d.labelIdx != nil {
		parts = append(parts, d.labelIdx)
	}
	for _, p := range parts {
		if err := binary.Write(bw, binary.LittleEndian, p); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err = w.Write(sum.Sum(nil))
	return err
}

// labelsOrNil returns the label names, or nil for a dataset without labels
// (a non-nil empty slice would not survive JSON).
func labelsOrNil(d *Dataset) []string {
	if d.labelIdx == nil {
		return nil
	}
	return d.labelNames
}

// readCache reads a cache file written for key. A missing file is an
// fs.ErrNotExist error; anything else wrong is ErrCorruptCache.
func readCache(file, key, name string) (*Dataset, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	d, err := decodeCache(b, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", file, ErrCorruptCache, err)
	}
	d.name = name
	return d, nil
}

// decodeCache parses a whole cache file.
func decodeCache(b []byte, key string) (*Dataset, error) {
	if len(b) < len(cacheMagic)+4+sha256.Size || string(b[:len(cacheMagic)]) != cacheMagic {
		return nil, fmt.Errorf("not a token cache file")
	}
	body, want := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], want) {
		return nil, fmt.Errorf("checksum mismatch")
	}
	body = body[len(cacheMagic):]
	n := binary.LittleEndian.Uint32(body)
	body = body[4:]
	if uint64(n) > uint64(len(body)) {
		return nil, fmt.Errorf("header length %d past the end", n)
	}
	var h cacheHeader
	if err := json.Unmarshal(body[:n], &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if h.Version != cacheVersion || h.Key != key {
		return nil, fmt.Errorf("version %d key %.16s, want version %d key %.16s", h.Version, h.Key, cacheVersion, key)
	}
	return decodeArrays(body[n:], h)
}

// decodeArrays reads the arrays that follow the header.
func decodeArrays(b []byte, h cacheHeader) (*Dataset, error) {
	if h.Rows < 0 || h.Tokens < 0 {
		return nil, fmt.Errorf("negative sizes in header")
	}
	d := &Dataset{
		offsets: make([]int64, h.Rows+1), tokens: make([]int32, h.Tokens),
		lines: make([]int32, h.Rows), labelNames: h.Labels, stats: h.Stats,
	}
	parts := []any{d.offsets, d.tokens}
	if h.Pairs {
		d.types = make([]uint8, h.Tokens)
		parts = append(parts, d.types)
	}
	parts = append(parts, d.lines)
	if h.Labels != nil {
		d.labelIdx = make([]int32, h.Rows)
		parts = append(parts, d.labelIdx)
	}
	r := bytes.NewReader(b)
	for _, p := range parts {
		if binary.Size(p) > r.Len() {
			return nil, fmt.Errorf("arrays shorter than the header says")
		}
		if err := binary.Read(r, binary.LittleEndian, p); err != nil {
			return nil, err
		}
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%d bytes after the arrays", r.Len())
	}
	return d, checkDataset(d)
}

// checkDataset checks the invariants that indexing relies on.
func checkDataset(d *Dataset) error {
	if d.offsets[0] != 0 || d.offsets[len(d.offsets)-1] != int64(len(d.tokens)) || !slices.IsSorted(d.offsets) {
		return fmt.Errorf("bad row offsets")
	}
	for _, j := range d.labelIdx {
		if j < 0 || int(j) >= len(d.labelNames) {
			return fmt.Errorf("label index %d out of range", j)
		}
	}
	return nil
}
