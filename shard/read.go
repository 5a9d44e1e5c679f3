package shard

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ReadConfig says how to read a data file. The zero value reads columns
// "text" and "label" and stops at the first bad row.
type ReadConfig struct {
	Format Format // FormatAuto: from the file name, see FormatOf
	Text   string // text column; "" means "text"
	Pair   string // optional second text column (sentence pairs); "" means none
	Label  string // label column; "" means "label"
	// ID is an optional column copied as it is into Record.ID (a row's
	// identifier for predictions); "" reads none.
	ID string
	// NoLabel reads files without a label column (prediction); rows then
	// have Label "" and the dataset has no label ids.
	NoLabel bool
	// EmptyText is PolicyError (default) or PolicySkip for a row whose text
	// is empty or white space only.
	EmptyText Policy
	// InvalidUTF8 is PolicyError (default) or PolicyReplace for a field that
	// is not valid UTF-8.
	InvalidUTF8 Policy
	// LazyQuotes accepts a quote inside an unquoted CSV/TSV field.
	LazyQuotes bool
}

// DefaultReadConfig returns the zero ReadConfig with its defaults spelled out.
func DefaultReadConfig() ReadConfig {
	return ReadConfig{Text: "text", Label: "label", EmptyText: PolicyError, InvalidUTF8: PolicyError}
}

// withDefaults fills in the defaults and checks the policies.
func (c ReadConfig) withDefaults(name string) (ReadConfig, error) {
	if c.Text == "" {
		c.Text = "text"
	}
	if c.Label == "" {
		c.Label = "label"
	}
	if c.Format == FormatAuto {
		c.Format = FormatOf(name)
	}
	if c.EmptyText == PolicyReplace {
		return c, fmt.Errorf("shard: empty-text policy %v: want error or skip", c.EmptyText)
	}
	if c.InvalidUTF8 == PolicySkip {
		return c, fmt.Errorf("shard: invalid-UTF-8 policy %v: want error or replace", c.InvalidUTF8)
	}
	return c, nil
}

// Record is one row of a data file.
type Record struct {
	Text, Pair string
	ID         string // the ReadConfig.ID column, if any
	Label      string // as written in the file; integers in JSONL as their digits
	Line       int    // 1-based line where the row starts
}

// ReadStats counts what reading did besides returning rows.
type ReadStats struct {
	Rows         int `json:"rows"`          // rows returned
	SkippedEmpty int `json:"skipped_empty"` // rows dropped for an empty text (PolicySkip)
	ReplacedUTF8 int `json:"replaced_utf8"` // rows with invalid UTF-8 repaired (PolicyReplace)
}

// Scan reads rows from r and calls fn for each, in file order. name is used
// in errors ("name:line:column: ..."). It returns ErrEmpty for a file
// without rows, and stops at the first error of fn.
func Scan(r io.Reader, name string, cfg ReadConfig, fn func(Record) error) (ReadStats, error) {
	cfg, err := cfg.withDefaults(name)
	if err != nil {
		return ReadStats{}, err
	}
	s := &scanner{name: name, cfg: cfg, fn: fn}
	if cfg.Format == FormatJSONL {
		err = s.jsonl(r)
	} else {
		err = s.csv(r)
	}
	if err == nil && s.stats.Rows == 0 {
		err = fmt.Errorf("read %s: %w", name, ErrEmpty)
	}
	return s.stats, err
}

// ReadAll reads every row of r. See Scan.
func ReadAll(r io.Reader, name string, cfg ReadConfig) ([]Record, ReadStats, error) {
	var recs []Record
	stats, err := Scan(r, name, cfg, func(rec Record) error {
		recs = append(recs, rec)
		return nil
	})
	return recs, stats, err
}

// scanner holds the state shared by the CSV and JSONL readers.
type scanner struct {
	name     string
	cfg      ReadConfig
	fn       func(Record) error
	stats    ReadStats
	replaced bool // the current row had a field repaired
}

// field checks a field's UTF-8 under the policy. col names it in errors.
func (s *scanner) field(v string, line int, col string) (string, error) {
	if utf8.ValidString(v) {
		return v, nil
	}
	if s.cfg.InvalidUTF8 != PolicyReplace {
		return "", fmt.Errorf("read %s:%d: column %q: %w", s.name, line, col, ErrInvalidUTF8)
	}
	s.replaced = true
	return strings.ToValidUTF8(v, "\uFFFD"), nil
}

// emit applies the row policies to rec and hands it on.
func (s *scanner) emit(rec Record) error {
	if s.replaced {
		s.stats.ReplacedUTF8++
		s.replaced = false
	}
	if strings.TrimSpace(rec.Text) == "" {
		if s.cfg.EmptyText != PolicySkip {
			return fmt.Errorf("read %s:%d: column %q: %w", s.name, rec.Line, s.cfg.Text, ErrEmptyText)
		}
		s.stats.SkippedEmpty++
		return nil
	}
	rec.Label = strings.TrimSpace(rec.Label)
	if !s.cfg.NoLabel && rec.Label == "" {
		return fmt.Errorf("read %s:%d: column %q: empty: %w", s.name, rec.Line, s.cfg.Label, ErrBadLabel)
	}
	if i := strings.IndexFunc(rec.Label, unicode.IsControl); i >= 0 {
		// A NUL or a line break inside a label would silently make a class of
		// its own; a line break is often a quote left open (LazyQuotes).
		r, _ := utf8.DecodeRuneInString(rec.Label[i:])
		return fmt.Errorf("read %s:%d: column %q: label %s holds control character %U: %w",
			s.name, rec.Line, s.cfg.Label, clip(strconv.Quote(rec.Label)), r, ErrBadLabel)
	}
	s.stats.Rows++
	return s.fn(rec)
}

// columns returns the configured column names: text, pair ("" if none) and
// label ("" if none).
func (s *scanner) columns() (text, pair, label string) {
	label = s.cfg.Label
	if s.cfg.NoLabel {
		label = ""
	}
	return s.cfg.Text, s.cfg.Pair, label
}
