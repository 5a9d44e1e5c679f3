package tblog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/ddprun/ddprun/internal/syncfile"
)

// ErrClosed is returned by a Writer's methods after Close.
var ErrClosed = errors.New("tblog: writer closed")

// fileSeq numbers the files this process opens, as PyTorch's global uid does.
var fileSeq atomic.Int64

// Writer appends scalar events to one event file. Its methods are safe for
// concurrent use.
type Writer struct {
	sf  *syncfile.File
	buf []byte           // the framed record; used under sf's lock
	now func() time.Time // the clock for wall_time; tests replace it
}

// Open creates dir if needed and a new event file in it, and writes the
// file_version event.
func Open(dir string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tblog: open: %w", err)
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	now := time.Now()
	name := fmt.Sprintf("events.out.tfevents.%010d.%s.%d.%d", now.Unix(), host, os.Getpid(), fileSeq.Add(1)-1)
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("tblog: open: %w", err)
	}
	w := &Writer{sf: syncfile.New(f, 64<<10, "tblog", ErrClosed), now: time.Now}
	if err := w.write(versionEvent(wallTime(now))); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// Path returns the event file's path.
func (w *Writer) Path() string { return w.sf.Path() }

func wallTime(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Scalar appends one scalar for tag at step, stamped with the current time.
// TensorBoard stores it as a float32. Events stay in a buffer until Flush
// or Close.
func (w *Writer) Scalar(tag string, step int64, v float64) error {
	return w.write(scalarEvent(wallTime(w.now()), step, tag, v))
}

// write frames and buffers one event.
func (w *Writer) write(event []byte) error {
	return w.sf.Append(func() []byte {
		w.buf = appendRecord(w.buf[:0], event)
		return w.buf
	})
}

// Flush writes buffered events to the file and fsyncs it.
func (w *Writer) Flush() error { return w.sf.Flush() }

// Close flushes and closes the file. Calling it again returns nil; other
// methods return ErrClosed after it.
func (w *Writer) Close() error { return w.sf.Close() }
