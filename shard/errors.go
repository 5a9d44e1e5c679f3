package shard

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Sentinel errors. Errors returned by this package wrap them with the file,
// line and action, so test for them with errors.Is.
var (
	// ErrEmpty means a file has no data rows (an empty file, or a header only).
	ErrEmpty = errors.New("shard: no rows")
	// ErrMissingColumn means a configured column is not in the file's header
	// (CSV, TSV) or not in a row (JSONL).
	ErrMissingColumn = errors.New("shard: missing column")
	// ErrEmptyText means a row's text is empty or only white space and the
	// policy is PolicyError.
	ErrEmptyText = errors.New("shard: empty text")
	// ErrInvalidUTF8 means a field is not valid UTF-8 and the policy is
	// PolicyError.
	ErrInvalidUTF8 = errors.New("shard: invalid UTF-8")
	// ErrBadLabel means a label is missing, has the wrong JSON type or
	// holds a control character (a NUL, a line break).
	ErrBadLabel = errors.New("shard: bad label")
	// ErrUnknownLabel means a label is not in the label map (typically a
	// label in the validation or test split that the training split lacks).
	ErrUnknownLabel = errors.New("shard: unknown label")
	// ErrTokenizer means the tokenizer broke its contract (see Tokenizer).
	ErrTokenizer = errors.New("shard: tokenizer contract violated")
	// ErrCorruptCache means a token cache file failed its checksum or could
	// not be decoded. Load never returns it: it logs a warning and rebuilds.
	ErrCorruptCache = errors.New("shard: corrupt token cache")
	// ErrClosed is returned by Loader.Next after Close.
	ErrClosed = errors.New("shard: loader closed")
	// ErrBadState means a State does not fit the loader it is given to.
	ErrBadState = errors.New("shard: bad loader state")
)

// maxEcho is how many bytes of input an error message quotes.
const maxEcho = 80

// clip shortens s, text from the input that an error message echoes, to
// maxEcho bytes (at a rune boundary) and says how long it was, so that a
// huge field or a whole file on one line does not end up in the message.
func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}
