package launcher

import (
	"bufio"
	"io"
	"sync"
)

// Note [Rank output]: each rank's stdout and stderr are pipes read line by
// line: a line is written whole, prefixed with "[rank N] ", to the
// launcher's stdout or stderr (one mutex per destination, so lines of
// different ranks never interleave mid-line) or, with --log-dir, to files.
// Rank 0's stdout is the exception: it is the job's result (train --json,
// bench allreduce's rows), so its lines reach the launcher's stdout as the
// rank wrote them, and `ddprun --nproc 2 train --json | jq` works as it
// does with one rank; other ranks' stdout lines keep their prefix.
// The last tailLines lines of stderr are kept for the root-cause summary.
// Rank 0's stderr goes straight to a terminal instead, so its progress bar
// redraws in place; its tail is then unknown.

const tailLines = 20

// syncWriter serialises whole-line writes to one destination.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) writeLine(prefix string, line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if prefix != "" {
		io.WriteString(s.w, prefix)
	}
	s.w.Write(line)
}

// tail keeps the last n lines written to it.
type tail struct {
	mu    sync.Mutex
	lines []string
	n     int
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > t.n {
		t.lines = append(t.lines[:0:0], t.lines[len(t.lines)-t.n:]...)
	}
}

// Lines returns a copy of the kept lines, oldest first.
func (t *tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}

// stream copies r to dst line by line with prefix, recording lines in tl
// (if not nil). divert, when it returns a writer, receives the lines instead
// of dst (stack dumps of a stalled rank go to a file). stream returns at
// EOF.
func stream(r io.Reader, dst *syncWriter, prefix string, tl *tail, divert func() io.Writer) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if line[len(line)-1] != '\n' && err != bufio.ErrBufferFull {
				line = append(line, '\n') // last line without newline
			}
			if tl != nil {
				tl.add(trimEOL(line))
			}
			if w := divert(); w != nil {
				w.Write(line)
			} else {
				dst.writeLine(prefix, line)
			}
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

func trimEOL(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return string(b)
}
