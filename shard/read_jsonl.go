package shard

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"unicode/utf8"
)

// jsonl reads one JSON object per line. Blank lines are skipped. Text
// columns must be JSON strings; the label a string or an integer.
func (s *scanner) jsonl(r io.Reader) error {
	br := bufio.NewReaderSize(skipBOM(r), 64<<10)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			if err := s.jsonRow(b, line); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s:%d: %w", s.name, line, err)
		}
	}
}

// jsonRow turns one JSON line into a Record.
func (s *scanner) jsonRow(b []byte, line int) error {
	if !utf8.Valid(b) {
		if s.cfg.InvalidUTF8 != PolicyReplace {
			return fmt.Errorf("read %s:%d: %w", s.name, line, ErrInvalidUTF8)
		}
		s.replaced = true
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("read %s:%d: %w", s.name, line, jsonError(err))
	}
	rec := Record{Line: line}
	text, pair, label := s.columns()
	var err error
	if rec.Text, err = s.jsonString(obj, text, line, true); err != nil {
		return err
	}
	if pair != "" {
		if rec.Pair, err = s.jsonString(obj, pair, line, false); err != nil {
			return err
		}
	}
	if label != "" {
		if rec.Label, err = s.jsonLabel(obj, label, line); err != nil {
			return err
		}
	}
	if s.cfg.ID != "" { // a string or an integer, like a label
		if rec.ID, err = s.jsonLabel(obj, s.cfg.ID, line); err != nil {
			return err
		}
	}
	return s.emit(rec)
}

// jsonError rewords errors that would name a Go type.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("want a JSON object, got %s", te.Value)
	}
	return err
}

// jsonString returns obj[col] as a string; a missing or null column is an
// error when required, else "".
func (s *scanner) jsonString(obj map[string]json.RawMessage, col string, line int, required bool) (string, error) {
	raw, ok := obj[col]
	if !ok || string(raw) == "null" {
		if required {
			return "", fmt.Errorf("read %s:%d: column %q: %w", s.name, line, col, ErrMissingColumn)
		}
		return "", nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("read %s:%d: column %q: want a string, got %s", s.name, line, col, clip(string(raw)))
	}
	return v, nil
}

var jsonInteger = regexp.MustCompile(`^-?[0-9]+$`)

// jsonLabel returns obj[col], a string or an integer, as a string.
func (s *scanner) jsonLabel(obj map[string]json.RawMessage, col string, line int) (string, error) {
	raw, ok := obj[col]
	if !ok {
		return "", fmt.Errorf("read %s:%d: column %q: %w", s.name, line, col, ErrMissingColumn)
	}
	if jsonInteger.Match(raw) {
		return string(raw), nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("read %s:%d: column %q: want a string or an integer, got %s: %w", s.name, line, col, clip(string(raw)), ErrBadLabel)
	}
	return v, nil
}
