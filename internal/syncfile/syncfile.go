// Package syncfile is an append-only log file with a write buffer, synced
// to disk on Flush and Close, and safe for concurrent use: the shared part
// of the metrics log (ddp/runlog) and the TensorBoard writer (ddp/tblog).
package syncfile

import (
	"bufio"
	"fmt"
	"os"
	"sync"
)

// File appends records to an open file.
type File struct {
	mu     sync.Mutex
	f      *os.File
	bw     *bufio.Writer
	path   string
	pkg    string // error prefix: "runlog", "tblog"
	closed error  // returned after Close
}

// New wraps f (open for writing, positioned where records go). pkg
// prefixes errors; closed is the error calls return after Close.
func New(f *os.File, bufSize int, pkg string, closed error) *File {
	return &File{f: f, bw: bufio.NewWriterSize(f, bufSize), path: f.Name(), pkg: pkg, closed: closed}
}

// Path is the file's path.
func (s *File) Path() string { return s.path }

// Append buffers one record, built by fill into buf (reused under the
// lock, so fill may append to it without allocating).
func (s *File) Append(fill func() []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return s.closed
	}
	if _, err := s.bw.Write(fill()); err != nil {
		return fmt.Errorf("%s: write %s: %w", s.pkg, s.path, err)
	}
	return nil
}

// Flush writes the buffer to the file and syncs it.
func (s *File) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return s.closed
	}
	return s.flush()
}

func (s *File) flush() error {
	if err := s.bw.Flush(); err != nil {
		return fmt.Errorf("%s: flush %s: %w", s.pkg, s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("%s: sync %s: %w", s.pkg, s.path, err)
	}
	return nil
}

// Close flushes, syncs and closes the file. Calling it again returns nil;
// other methods return the closed error after it.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.flush()
	if cerr := s.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%s: close %s: %w", s.pkg, s.path, cerr)
	}
	s.f = nil
	return err
}
