package tblog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrCorrupt is wrapped by ReadScalars errors for a record whose CRC does
// not match or whose Event does not decode.
var ErrCorrupt = errors.New("tblog: corrupt record")

// ErrTruncated is wrapped by ReadScalars errors when the file ends inside a
// record, as it does while a writer is running or after a crash. The
// records before it are returned with the error.
var ErrTruncated = errors.New("tblog: truncated record")

// Record is one scalar read from an event file.
type Record struct {
	WallTime float64 // seconds since the Unix epoch
	Step     int64
	Tag      string
	Value    float64 // a float32 widened; see Note [Event encoding]
}

// ReadScalars reads every scalar in the event file at path, checking both
// CRCs of each record. On a corrupt record it fails with an error naming
// the file and the record's offset; on a truncated last record it returns
// the records before it and an error wrapping ErrTruncated.
func ReadScalars(path string) ([]Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tblog: %w", err)
	}
	var recs []Record
	for off := 0; off < len(b); {
		data, next, err := nextRecord(b, off)
		if err != nil {
			return recs, fmt.Errorf("%s: offset %d: %w", path, off, err)
		}
		if recs, err = decodeEvent(data, recs); err != nil {
			return recs, fmt.Errorf("%s: offset %d: %w: %v", path, off, ErrCorrupt, err)
		}
		off = next
	}
	return recs, nil
}

// nextRecord returns the data of the record at off and the next offset.
func nextRecord(b []byte, off int) (data []byte, next int, err error) {
	rest := b[off:]
	if len(rest) < 12 {
		return nil, 0, ErrTruncated
	}
	if got, want := binary.LittleEndian.Uint32(rest[8:]), maskedCRC(rest[:8]); got != want {
		return nil, 0, fmt.Errorf("%w: length CRC %#08x, want %#08x", ErrCorrupt, got, want)
	}
	n := binary.LittleEndian.Uint64(rest)
	if len(rest) < 16 || n > uint64(len(rest)-16) {
		return nil, 0, fmt.Errorf("%w: record of %d bytes, %d left", ErrTruncated, n, len(rest)-12)
	}
	data = rest[12 : 12+n]
	if got, want := binary.LittleEndian.Uint32(rest[12+n:]), maskedCRC(data); got != want {
		return nil, 0, fmt.Errorf("%w: data CRC %#08x, want %#08x", ErrCorrupt, got, want)
	}
	return data, off + 16 + int(n), nil
}

// Files returns the event files in dir, oldest name first.
func Files(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("tblog: %w", err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasPrefix(e.Name(), "events.out.tfevents.") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}
