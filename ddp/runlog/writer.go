package runlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ddprun/ddprun/internal/syncfile"
)

// ErrClosed is returned by a Writer's methods after Close.
var ErrClosed = errors.New("runlog: writer closed")

// Writer appends entries to a log file. Its methods are safe for
// concurrent use.
type Writer struct {
	sf  *syncfile.File
	now func() time.Time
}

// Open opens the log at path for appending, creating it if needed. If the
// file ends in a torn line (a crash mid-write), Open cuts that line off
// first so that appended entries start on a line of their own.
func Open(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("runlog: open: %w", err)
	}
	if err := cutTornTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("runlog: open %s: %w", path, err)
	}
	return &Writer{sf: syncfile.New(f, 4096, "runlog", ErrClosed), now: time.Now}, nil
}

// cutTornTail truncates f after its last newline and seeks to its end.
func cutTornTail(f *os.File) error {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	end := size
	buf := make([]byte, 4096)
	for end > 0 {
		n := min(int64(len(buf)), end)
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return err
		}
		for i := n - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				return truncate(f, size, end-n+i+1)
			}
		}
		end -= n
	}
	return truncate(f, size, 0)
}

func truncate(f *os.File, size, at int64) error {
	if at == size {
		return nil
	}
	if err := f.Truncate(at); err != nil {
		return err
	}
	_, err := f.Seek(at, io.SeekStart)
	return err
}

// Path returns the log file's path.
func (w *Writer) Path() string { return w.sf.Path() }

// Write appends e as one line. A zero e.Time is set to the current time.
// The line stays in a buffer until Flush or Close.
func (w *Writer) Write(e Entry) error {
	if e.Time.IsZero() {
		e.Time = w.now()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("runlog: write %s step %d: %w", e.Kind, e.Step, err)
	}
	return w.sf.Append(func() []byte { return append(b, '\n') })
}

// Log is Write for an entry stamped with the current time.
func (w *Writer) Log(kind Kind, step int64, epoch float64, fields map[string]any) error {
	return w.Write(Entry{Kind: kind, Step: step, Epoch: epoch, Fields: fields})
}

// Flush writes buffered lines to the file and fsyncs it.
func (w *Writer) Flush() error { return w.sf.Flush() }

// Close flushes and closes the file. Calling it again returns nil; other
// methods return ErrClosed after it.
func (w *Writer) Close() error { return w.sf.Close() }
