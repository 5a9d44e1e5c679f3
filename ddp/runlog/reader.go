package runlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrMalformed is wrapped by Read's error for a line that is not an entry.
var ErrMalformed = errors.New("runlog: malformed line")

// Read reads every entry of the log at path. A last line with no newline
// that does not parse is a write torn by a crash and is skipped; any other
// bad line fails the read with an error naming the file and line number,
// returned with the entries before it. Blank lines are skipped.
func Read(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("runlog: %w", err)
	}
	defer f.Close()
	return read(bufio.NewReader(f), path)
}

func read(r *bufio.Reader, path string) ([]Entry, error) {
	var out []Entry
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return out, fmt.Errorf("runlog: %s:%d: %w", path, n, err)
		}
		torn := err == io.EOF
		if len(bytes.TrimSpace(line)) > 0 {
			var e Entry
			if jerr := json.Unmarshal(line, &e); jerr != nil {
				if torn {
					return out, nil
				}
				return out, fmt.Errorf("%w %s:%d: %v", ErrMalformed, path, n, jerr)
			}
			out = append(out, e)
		}
		if torn {
			return out, nil
		}
	}
}
