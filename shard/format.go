package shard

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Format is a data file format.
type Format int

// Formats. FormatAuto picks one from the file name (see FormatOf).
const (
	FormatAuto  Format = iota
	FormatCSV          // RFC 4180: comma separated, "quoted" fields, embedded newlines
	FormatTSV          // as FormatCSV with tab separators (what Python's csv module writes)
	FormatJSONL        // one JSON object per line
)

var formatNames = [...]string{"auto", "csv", "tsv", "jsonl"}

func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return fmt.Sprintf("Format(%d)", int(f))
	}
	return formatNames[f]
}

// Set parses a format name, so that a Format can be bound to a flag.
func (f *Format) Set(s string) error {
	for i, name := range formatNames {
		if strings.EqualFold(s, name) {
			*f = Format(i)
			return nil
		}
	}
	return fmt.Errorf("shard: unknown format %q (want auto, csv, tsv or jsonl)", s)
}

// FormatOf returns the format that a file name's extension implies: .csv,
// .tsv or .tab, .jsonl or .ndjson. Other names give FormatCSV.
func FormatOf(name string) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".tsv", ".tab":
		return FormatTSV
	case ".jsonl", ".ndjson":
		return FormatJSONL
	}
	return FormatCSV
}

// Policy says what to do with a bad row.
type Policy int

// Policies. Not every policy fits every knob: see ReadConfig.
const (
	PolicyError   Policy = iota // stop with an error naming file and line
	PolicySkip                  // drop the row, count it, go on
	PolicyReplace               // repair the field (invalid UTF-8 becomes U+FFFD), count it, go on
)

var policyNames = [...]string{"error", "skip", "replace"}

func (p Policy) String() string {
	if p < 0 || int(p) >= len(policyNames) {
		return fmt.Sprintf("Policy(%d)", int(p))
	}
	return policyNames[p]
}

// Set parses a policy name, so that a Policy can be bound to a flag.
func (p *Policy) Set(s string) error {
	for i, name := range policyNames {
		if strings.EqualFold(s, name) {
			*p = Policy(i)
			return nil
		}
	}
	return fmt.Errorf("shard: unknown policy %q (want error, skip or replace)", s)
}
