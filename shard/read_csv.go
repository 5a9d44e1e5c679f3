package shard

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// csv reads CSV or TSV: a header row naming the columns, then rows with as
// many fields. Quoting follows RFC 4180 (and Python's csv module for TSV). A
// UTF-8 byte order mark and CRLF line ends are accepted.
func (s *scanner) csv(r io.Reader) error {
	cr := csv.NewReader(skipBOM(r))
	cr.LazyQuotes = s.cfg.LazyQuotes
	cr.ReuseRecord = true
	if s.cfg.Format == FormatTSV {
		cr.Comma = '\t'
	}
	idx, err := s.header(cr)
	if err != nil {
		return err
	}
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s.csvError(err)
		}
		if err := s.csvRow(cr, row, idx); err != nil {
			return err
		}
	}
}

// csvIndex holds the field numbers of the configured columns (-1: none).
type csvIndex struct{ text, pair, label, id int }

// header reads the header row and finds the configured columns.
func (s *scanner) header(cr *csv.Reader) (csvIndex, error) {
	head, err := cr.Read()
	if err == io.EOF {
		return csvIndex{}, fmt.Errorf("read %s: %w", s.name, ErrEmpty)
	}
	if err != nil {
		return csvIndex{}, s.csvError(err)
	}
	text, pair, label := s.columns()
	var idx csvIndex
	for _, c := range []struct {
		name string
		to   *int
	}{{text, &idx.text}, {pair, &idx.pair}, {label, &idx.label}, {s.cfg.ID, &idx.id}} {
		if *c.to, err = s.column(head, c.name); err != nil {
			return idx, err
		}
	}
	return idx, nil
}

// column returns the field number of name in head, -1 if name is "".
func (s *scanner) column(head []string, name string) (int, error) {
	if name == "" {
		return -1, nil
	}
	found := -1
	for i, h := range head {
		if strings.TrimSpace(h) != name {
			continue
		}
		if found >= 0 {
			return -1, fmt.Errorf("read %s:1: column %q appears twice in the header", s.name, name)
		}
		found = i
	}
	if found < 0 {
		return -1, fmt.Errorf("read %s:1: column %q not in header %s: %w", s.name, name, clip(fmt.Sprintf("%q", head)), ErrMissingColumn)
	}
	return found, nil
}

// csvRow turns one CSV row into a Record.
func (s *scanner) csvRow(cr *csv.Reader, row []string, idx csvIndex) error {
	line, _ := cr.FieldPos(0)
	text, pair, label := s.columns()
	var rec Record
	var err error
	rec.Line = line
	if rec.Text, err = s.field(row[idx.text], line, text); err != nil {
		return err
	}
	if idx.pair >= 0 {
		if rec.Pair, err = s.field(row[idx.pair], line, pair); err != nil {
			return err
		}
	}
	if idx.label >= 0 {
		if rec.Label, err = s.field(row[idx.label], line, label); err != nil {
			return err
		}
	}
	if idx.id >= 0 {
		if rec.ID, err = s.field(row[idx.id], line, s.cfg.ID); err != nil {
			return err
		}
	}
	return s.emit(rec)
}

// csvError names the file in a csv.ParseError ("name:line:column: ...").
// An error found on a later line than its record starts on (typically a
// quote left open, found only at the end of the file) names the record's
// first line, where the quote was opened, and says where it was found.
func (s *scanner) csvError(err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("read %s: %w", s.name, err)
	}
	if pe.StartLine != pe.Line {
		return fmt.Errorf("read %s:%d: %w (in the record that starts on this line; found at line %d, column %d)",
			s.name, pe.StartLine, pe.Err, pe.Line, pe.Column)
	}
	return fmt.Errorf("read %s:%d:%d: %w", s.name, pe.Line, pe.Column, pe.Err)
}

// skipBOM drops a leading UTF-8 byte order mark.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		br.Discard(3)
	}
	return br
}
