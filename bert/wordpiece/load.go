package wordpiece

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ddprun/ddprun/shard/truncation"
)

// Options change how text is split. A nil pointer means "as the tokenizer's
// files say, else HF's default".
type Options struct {
	// Lowercase lowercases the text (HF do_lower_case). Default: the
	// folder's tokenizer_config.json or tokenizer.json, else true.
	Lowercase *bool
	// StripAccents removes accents (NFD, then drop Mn). Default: the files'
	// strip_accents, else the value of Lowercase, as in HF.
	StripAccents *bool
	// TokenizeChineseChars puts every CJK ideograph in its own word.
	// Default: the files' tokenize_chinese_chars, else true.
	TokenizeChineseChars *bool
	// MaxInputCharsPerWord: longer words become [UNK]. Default 100.
	MaxInputCharsPerWord int
	// ModelMaxLength is written to tokenizer_config.json by Save. Default:
	// the files' model_max_length, else 512.
	ModelMaxLength int
}

// Bool returns a pointer to v, for Options.
func Bool(v bool) *bool { return &v }

// ErrVocab is wrapped by every error about a malformed vocabulary.
var ErrVocab = errors.New("wordpiece: bad vocabulary")

// Load reads a tokenizer from path: a vocab.txt (one token per line, the id is
// the line number from 0), an HF tokenizer.json with a WordPiece model, or a
// folder holding either (vocab.txt preferred) and optionally
// tokenizer_config.json, whose do_lower_case, strip_accents,
// tokenize_chinese_chars and model_max_length are used where opts leaves them
// unset, and whose truncation_side and ddprun_truncation give Truncation
// (a head+tail without H there is a quarter of model_max_length-2).
func Load(path string, opts Options) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("wordpiece: load: %w", err)
	}
	var cfg fileConfig
	file := path
	if st.IsDir() {
		if cfg, err = readTokenizerConfig(filepath.Join(path, "tokenizer_config.json")); err != nil {
			return nil, err
		}
		file = filepath.Join(path, "vocab.txt")
		if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
			file = filepath.Join(path, "tokenizer.json")
		}
	}
	var tokens []string
	if strings.HasSuffix(file, ".json") {
		tokens, err = readTokenizerJSON(file, &cfg)
	} else {
		tokens, err = readVocabFile(file)
	}
	if err != nil {
		return nil, err
	}
	t, err := newTokenizer(file, tokens, resolve(opts, cfg))
	if err != nil {
		return nil, err
	}
	t.trunc = cfg.trunc
	return t, nil
}

// fileConfig holds the settings found in tokenizer files; nil means unset.
type fileConfig struct {
	lower, strip, chinese *bool
	maxChars, maxLength   int
	trunc                 truncation.Mode
}

func resolve(o Options, c fileConfig) settings {
	s := settings{lower: true, chinese: true, maxChars: 100, maxLength: 512}
	s.lower = pick(o.Lowercase, c.lower, true)
	s.strip = pick(o.StripAccents, c.strip, s.lower)
	s.chinese = pick(o.TokenizeChineseChars, c.chinese, true)
	s.maxChars = firstPositive(o.MaxInputCharsPerWord, c.maxChars, 100)
	s.maxLength = firstPositive(o.ModelMaxLength, c.maxLength, 512)
	return s
}

type settings struct {
	lower, strip, chinese bool
	maxChars, maxLength   int
}

func pick(a, b *bool, def bool) bool {
	if a != nil {
		return *a
	}
	if b != nil {
		return *b
	}
	return def
}

func firstPositive(v ...int) int {
	for _, x := range v {
		if x > 0 {
			return x
		}
	}
	return 0
}

// New builds a tokenizer from the tokens of a vocabulary in id order, for
// tests and for vocabularies built in memory. Unset options take HF's
// defaults.
func New(tokens []string, opts Options) (*Tokenizer, error) {
	return newTokenizer("vocabulary", tokens, resolve(opts, fileConfig{}))
}

func newTokenizer(file string, tokens []string, s settings) (*Tokenizer, error) {
	loadTables()
	t := &Tokenizer{
		tokens:         tokens,
		ids:            make(map[string]int32, len(tokens)),
		lower:          s.lower,
		strip:          s.strip,
		chinese:        s.chinese,
		maxChars:       s.maxChars,
		modelMaxLength: s.maxLength,
	}
	for i, tok := range tokens {
		t.ids[tok] = int32(i)
		t.maxBytes = max(t.maxBytes, len(tok))
	}
	var missing []string
	for _, sp := range []struct {
		name string
		id   *int32
	}{{CLSToken, &t.cls}, {SEPToken, &t.sep}, {PADToken, &t.pad}, {UNKToken, &t.unk}, {MASKToken, &t.mask}} {
		id, ok := t.ids[sp.name]
		switch {
		case ok:
			*sp.id = id
		case sp.name == MASKToken:
			*sp.id = -1
		default:
			missing = append(missing, sp.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s: no %s token", ErrVocab, file, strings.Join(missing, ", "))
	}
	t.fingerprint = fingerprint(tokens, s)
	return t, nil
}

func fingerprint(tokens []string, s settings) string {
	h := sha256.New()
	fmt.Fprintf(h, "wordpiece v1 lower=%t strip=%t chinese=%t maxchars=%d\n", s.lower, s.strip, s.chinese, s.maxChars)
	for _, tok := range tokens {
		h.Write([]byte(tok))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// readVocabFile reads vocab.txt as HF's load_vocab does: every line, minus its
// "\n", is a token (an empty line too).
func readVocabFile(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("wordpiece: load: %w", err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: %s: empty file", ErrVocab, file)
	}
	data = bytes.TrimSuffix(data, []byte{'\n'})
	tokens := make([]string, 0, bytes.Count(data, []byte{'\n'})+1)
	for line := 1; ; line++ {
		tok, rest, more := bytes.Cut(data, []byte{'\n'})
		if !utf8.Valid(tok) {
			return nil, fmt.Errorf("%w: %s:%d: invalid UTF-8", ErrVocab, file, line)
		}
		if bytes.HasSuffix(tok, []byte{'\r'}) {
			return nil, fmt.Errorf("%w: %s:%d: CRLF line ending (tokens would end in \\r)", ErrVocab, file, line)
		}
		tokens = append(tokens, string(tok))
		if !more {
			return tokens, nil
		}
		data = rest
	}
}

// readTokenizerJSON reads the vocabulary of an HF tokenizer.json whose model
// is WordPiece, and the BertNormalizer settings into cfg where cfg has none.
func readTokenizerJSON(file string, cfg *fileConfig) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("wordpiece: load: %w", err)
	}
	var tj struct {
		Normalizer *struct {
			Type               string `json:"type"`
			Lowercase          *bool  `json:"lowercase"`
			StripAccents       *bool  `json:"strip_accents"`
			HandleChineseChars *bool  `json:"handle_chinese_chars"`
		} `json:"normalizer"`
		Model struct {
			Type                 string           `json:"type"`
			Vocab                map[string]int64 `json:"vocab"`
			MaxInputCharsPerWord int              `json:"max_input_chars_per_word"`
			Prefix               *string          `json:"continuing_subword_prefix"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &tj); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrVocab, jsonPos(file, data, err), err)
	}
	m := tj.Model
	if m.Type != "WordPiece" {
		return nil, fmt.Errorf("%w: %s: model type %q, want WordPiece", ErrVocab, file, m.Type)
	}
	if m.Prefix != nil && *m.Prefix != "##" {
		return nil, fmt.Errorf("%w: %s: continuing_subword_prefix %q, want \"##\"", ErrVocab, file, *m.Prefix)
	}
	if n := tj.Normalizer; n != nil {
		if n.Type != "BertNormalizer" {
			return nil, fmt.Errorf("%w: %s: normalizer %q, want BertNormalizer", ErrVocab, file, n.Type)
		}
		cfg.lower = orBool(cfg.lower, n.Lowercase)
		cfg.strip = orBool(cfg.strip, n.StripAccents)
		cfg.chinese = orBool(cfg.chinese, n.HandleChineseChars)
	}
	cfg.maxChars = firstPositive(cfg.maxChars, m.MaxInputCharsPerWord)
	return denseTokens(file, m.Vocab)
}

func orBool(a, b *bool) *bool {
	if a != nil {
		return a
	}
	return b
}

// denseTokens turns a token -> id map into an id -> token slice; the ids must
// be 0..n-1.
func denseTokens(file string, vocab map[string]int64) ([]string, error) {
	tokens := make([]string, len(vocab))
	seen := make([]bool, len(vocab))
	for tok, id := range vocab {
		if id < 0 || id >= int64(len(vocab)) || seen[id] {
			return nil, fmt.Errorf("%w: %s: model.vocab: token %q has id %d; ids must be 0..%d, each once", ErrVocab, file, tok, id, len(vocab)-1)
		}
		tokens[id], seen[id] = tok, true
	}
	return tokens, nil
}

// jsonPos returns "file:line" for a JSON decoding error.
func jsonPos(file string, data []byte, err error) string {
	var off int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return file
	}
	off = min(off, int64(len(data)))
	return file + ":" + strconv.Itoa(bytes.Count(data[:off], []byte{'\n'})+1)
}

// readTokenizerConfig reads the settings of an HF tokenizer_config.json; a
// missing file is no error.
func readTokenizerConfig(file string) (fileConfig, error) {
	var cfg fileConfig
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("wordpiece: load: %w", err)
	}
	var tc struct {
		DoLowerCase          *bool    `json:"do_lower_case"`
		StripAccents         *bool    `json:"strip_accents"`
		TokenizeChineseChars *bool    `json:"tokenize_chinese_chars"`
		ModelMaxLength       *float64 `json:"model_max_length"` // HF writes 1e30 for "no limit"
		TruncationSide       string   `json:"truncation_side"`
		DDPRunTruncation     string   `json:"ddprun_truncation"`
	}
	if err := json.Unmarshal(data, &tc); err != nil {
		return cfg, fmt.Errorf("wordpiece: %s: %v", jsonPos(file, data, err), err)
	}
	cfg.lower, cfg.strip, cfg.chinese = tc.DoLowerCase, tc.StripAccents, tc.TokenizeChineseChars
	if l := tc.ModelMaxLength; l != nil && *l > 0 && *l < 1<<31 {
		cfg.maxLength = int(*l)
	}
	cfg.trunc, err = readTruncation(tc.TruncationSide, tc.DDPRunTruncation, firstPositive(cfg.maxLength, 512))
	if err != nil {
		return cfg, fmt.Errorf("wordpiece: %s: %w", file, err)
	}
	return cfg, nil
}

// readTruncation reads the keys that Save's truncationConfig writes:
// ddprun's own, else HF's truncation_side.
func readTruncation(side, ddprun string, maxLen int) (truncation.Mode, error) {
	if ddprun != "" {
		return truncation.Parse(ddprun, maxLen)
	}
	switch side {
	case "", "right":
		return truncation.Mode{Side: truncation.Head}, nil
	case "left":
		return truncation.Mode{Side: truncation.Tail}, nil
	}
	return truncation.Mode{}, fmt.Errorf("truncation_side %q: want left or right", side)
}
