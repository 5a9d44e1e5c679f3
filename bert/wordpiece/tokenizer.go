package wordpiece

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/ddprun/ddprun/shard/truncation"
)

// The special tokens of a BERT vocabulary.
const (
	CLSToken  = "[CLS]"
	SEPToken  = "[SEP]"
	PADToken  = "[PAD]"
	UNKToken  = "[UNK]"
	MASKToken = "[MASK]"
)

var specialTokens = [...]string{CLSToken, SEPToken, PADToken, UNKToken, MASKToken}

// ErrMaxLen is returned by Encode when maxLen leaves no room for the text.
var ErrMaxLen = errors.New("wordpiece: max length too small")

// Tokenizer is a BERT WordPiece tokenizer. It is safe for concurrent use.
type Tokenizer struct {
	tokens   []string         // id -> token, one per vocab line
	ids      map[string]int32 // token -> id; a repeated token maps to its last line, as in HF
	maxBytes int              // longest token in bytes: no longer match can exist

	lower, strip, chinese bool
	maxChars              int
	modelMaxLength        int

	cls, sep, pad, unk, mask int32
	fingerprint              string
	trunc                    truncation.Mode // what the files record; see Truncation

	pool sync.Pool // *scratch
}

// scratch holds the buffers of one Encode call.
type scratch struct {
	norm []byte  // a chunk of text after clean, lowercase and CJK spacing
	nfc  []byte  // norm in NFC, when it was not already
	nfd  []byte  // one word after NFD
	word []byte  // one word after accent stripping
	key  []byte  // "##" + piece, for map lookups
	a, b []int32 // the ids of text and pair
}

// VocabSize returns the number of vocabulary entries (lines of vocab.txt):
// one more than the largest id.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// ID returns the id of token, and whether the vocabulary has it.
func (t *Tokenizer) ID(token string) (int32, bool) {
	id, ok := t.ids[token]
	return id, ok
}

// Token returns the token with id, or "" if id is out of range.
func (t *Tokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// CLS returns the id of [CLS].
func (t *Tokenizer) CLS() int32 { return t.cls }

// SEP returns the id of [SEP].
func (t *Tokenizer) SEP() int32 { return t.sep }

// PAD returns the id of [PAD].
func (t *Tokenizer) PAD() int32 { return t.pad }

// UNK returns the id of [UNK].
func (t *Tokenizer) UNK() int32 { return t.unk }

// MASK returns the id of [MASK], or -1 if the vocabulary has none.
func (t *Tokenizer) MASK() int32 { return t.mask }

// SpecialIDs returns the ids of the special tokens, as HF's
// all_special_ids: [CLS], [SEP], [PAD], [UNK] and, if the vocabulary has
// it, [MASK]. Masked-LM masking never picks them.
func (t *Tokenizer) SpecialIDs() []int32 {
	ids := []int32{t.cls, t.sep, t.pad, t.unk}
	if t.mask >= 0 {
		ids = append(ids, t.mask)
	}
	return ids
}

// Lowercase reports whether the tokenizer lowercases its input.
func (t *Tokenizer) Lowercase() bool { return t.lower }

// StripAccents reports whether the tokenizer strips accents.
func (t *Tokenizer) StripAccents() bool { return t.strip }

// ModelMaxLength returns the model_max_length written by Save.
func (t *Tokenizer) ModelMaxLength() int { return t.modelMaxLength }

// Fingerprint returns a short hex digest of the vocabulary and every option
// that changes the ids, so that a cache of token ids can tell whether it was
// made by an equivalent tokenizer.
func (t *Tokenizer) Fingerprint() string { return t.fingerprint }

// Truncation returns the truncation that the tokenizer's
// tokenizer_config.json records (truncation_side "left" is tail, "right" or
// none is head; ddprun_truncation, when present, says head+tail:H), or what
// SetTruncation set: the rule the model was trained with, for callers to
// pass to Encode. Encode itself follows only its argument.
func (t *Tokenizer) Truncation() truncation.Mode { return t.trunc }

// SetTruncation sets what Truncation returns and Save records. It must not
// run concurrently with either; Encode may run.
func (t *Tokenizer) SetTruncation(m truncation.Mode) { t.trunc = m }

// Tokenize returns the WordPiece tokens of text, without [CLS] and [SEP].
func (t *Tokenizer) Tokenize(text string) []string {
	s := t.getScratch()
	defer t.pool.Put(s)
	s.a = t.appendIDs(s.a[:0], text, s)
	out := make([]string, len(s.a))
	for i, id := range s.a {
		out[i] = t.tokens[id]
	}
	return out
}

// Encode returns the model inputs for text, or for the pair (text, pair) when
// pair is not empty: [CLS] text [SEP] (pair [SEP]), with token type 0 up to
// and including the first [SEP] and 1 after it.
//
// If maxLen > 0 the result is truncated to at most maxLen ids as HF's
// truncation=True (strategy "longest_first") does: a single text keeps
// maxLen-2 tokens; for a pair, the longer side is cut down to the shorter
// one and what is still over is split evenly, the pair losing the odd token.
// trunc says which tokens a text that is cut keeps: its first (the zero
// Mode, head: HF's truncation_side "right"), its last (tail: "left"), or its
// first trunc.Head and then its last (head+tail). See Note [Pair
// truncation]. Encode returns an error wrapping ErrMaxLen if a pair gets
// maxLen < 3, or if a text would lose all its tokens (where HF logs an error
// and does not truncate).
//
// Unlike HF, an empty pair means "no pair": HF would encode ("a", "") as
// [CLS] a [SEP] [SEP].
func (t *Tokenizer) Encode(text, pair string, maxLen int, trunc truncation.Mode) (ids, typeIDs []int32, err error) {
	if err := trunc.Validate(); err != nil {
		return nil, nil, fmt.Errorf("wordpiece: encode: %w", err)
	}
	s := t.getScratch()
	defer t.pool.Put(s)
	isPair := pair != ""
	s.a = t.appendIDs(s.a[:0], text, s)
	s.b = s.b[:0]
	if isPair {
		s.b = t.appendIDs(s.b, pair, s)
	}
	ka, kb, err := keepCounts(len(s.a), len(s.b), isPair, maxLen)
	if err != nil {
		return nil, nil, err
	}
	return t.assemble(s.a, s.b, ka, kb, isPair, trunc), types(ka, kb, isPair), nil
}

// Note [Pair truncation]: a text pair is truncated in two steps. How many
// tokens each text keeps is HF's longest_first rule (keepCounts), whatever
// the side; which ones is the side rule applied to each text on its own
// (truncation.Mode.Keep): head keeps each text's first tokens, tail its
// last, and head+tail:H the first H of each text that is cut (all it keeps,
// if it keeps no more than H) and then its last. A short question paired
// with a long passage thus keeps the whole question and the passage's first
// H and last tokens; two long texts keep H from the head of each. HF's
// truncation_side "left" (tail) does the same for pairs.

// keepCounts returns how many of na and nb tokens a text and its pair keep
// in maxLen ids, as HF's truncate_sequences with "longest_first" does.
func keepCounts(na, nb int, isPair bool, maxLen int) (ka, kb int, err error) {
	if maxLen <= 0 {
		return na, nb, nil
	}
	special := 2
	if isPair {
		special = 3
	}
	remove := na + nb + special - maxLen
	switch {
	case remove <= 0:
		return na, nb, nil
	case isPair && maxLen < 3:
		return 0, 0, fmt.Errorf("%w: %d for a text pair, need at least 3", ErrMaxLen, maxLen)
	case !isPair && remove >= na:
		return 0, 0, fmt.Errorf("%w: %d leaves no room for any of the %d tokens", ErrMaxLen, maxLen, na)
	case !isPair:
		return na - remove, nb, nil
	}
	first := min(abs(nb-na), remove)
	second := remove - first
	var ra, rb int
	if na > nb {
		ra, rb = first+second/2, second-second/2
	} else {
		ra, rb = second/2, first+second-second/2
	}
	return na - ra, nb - rb, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// assemble returns [CLS] a [SEP] (b [SEP]), keeping ka tokens of a and kb
// of b as trunc says.
func (t *Tokenizer) assemble(a, b []int32, ka, kb int, isPair bool, trunc truncation.Mode) []int32 {
	n := ka + 2
	if isPair {
		n += kb + 1
	}
	ids := make([]int32, 0, n)
	ids = append(ids, t.cls)
	ids = appendKept(ids, a, ka, trunc)
	ids = append(ids, t.sep)
	if isPair {
		ids = appendKept(ids, b, kb, trunc)
		ids = append(ids, t.sep)
	}
	return ids
}

// appendKept appends the k of ids that trunc keeps to dst.
func appendKept(dst, ids []int32, k int, trunc truncation.Mode) []int32 {
	head, tail := trunc.Keep(len(ids), k)
	return append(append(dst, ids[:head]...), ids[len(ids)-tail:]...)
}

func types(na, nb int, isPair bool) []int32 {
	n := na + 2
	if isPair {
		n += nb + 1
	}
	ts := make([]int32, n)
	for i := na + 2; i < n; i++ {
		ts[i] = 1
	}
	return ts
}

func (t *Tokenizer) getScratch() *scratch {
	if s, ok := t.pool.Get().(*scratch); ok {
		return s
	}
	return &scratch{key: make([]byte, 0, 64)}
}

// appendIDs appends the WordPiece ids of text to dst.
//
// Note [HF pipeline]: this follows the slow transformers BertTokenizer:
//  1. PreTrainedTokenizer.tokenize lowercases every character outside special
//     tokens one at a time (so "Σ" is always "σ", never the final "ς"), then
//     splits out the special tokens, which pass through unchanged;
//  2. BasicTokenizer, on each other chunk: clean_text (drop U+0000, U+FFFD
//     and C* but \t \n \r; whitespace and Zs to " "), spaces around CJK
//     ideographs, NFC, split on whitespace, per word NFD + drop Mn (strip
//     accents), split off punctuation;
//  3. WordpieceTokenizer: greedy longest match, "##" for continuations,
//     [UNK] for a word with no match or longer than MaxInputCharsPerWord.
//
// The second lower() BasicTokenizer applies per word is left out: after step
// 1 it changes nothing.
func (t *Tokenizer) appendIDs(dst []int32, text string, s *scratch) []int32 {
	for text != "" {
		i, special := t.nextSpecial(text)
		dst = t.appendChunk(dst, text[:i], s)
		if special < 0 {
			break
		}
		dst = append(dst, special)
		text = text[i+len(t.tokens[special]):]
	}
	return dst
}

// nextSpecial returns the byte offset of the first special token in text and
// its id, or len(text) and -1.
func (t *Tokenizer) nextSpecial(text string) (int, int32) {
	off := 0
	for {
		i := strings.IndexByte(text[off:], '[')
		if i < 0 {
			return len(text), -1
		}
		off += i
		for _, tok := range specialTokens {
			if id, ok := t.ids[tok]; ok && strings.HasPrefix(text[off:], tok) {
				return off, id
			}
		}
		off++
	}
}

// appendChunk runs BasicTokenizer and WordpieceTokenizer on a text with no
// special tokens.
func (t *Tokenizer) appendChunk(dst []int32, text string, s *scratch) []int32 {
	buf, ascii := t.clean(s.norm[:0], text)
	s.norm = buf
	if !ascii && !norm.NFC.IsNormal(buf) {
		s.nfc = norm.NFC.Append(s.nfc[:0], buf...)
		buf = s.nfc
	}
	for len(buf) > 0 {
		i := 0
		for i < len(buf) && buf[i] == ' ' {
			i++
		}
		j := i
		for j < len(buf) && buf[j] != ' ' {
			j++
		}
		if j > i {
			dst = t.appendWord(dst, buf[i:j], ascii, s)
		}
		buf = buf[j:]
	}
	return dst
}

// clean appends text to dst lowercased (if enabled), with control characters
// removed, every whitespace character as ' ' and spaces around CJK
// ideographs. It reports whether the result is ASCII.
func (t *Tokenizer) clean(dst []byte, text string) ([]byte, bool) {
	ascii := true
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			switch cl := asciiClass[c]; {
			case c == 0 || cl&classControl != 0:
			case cl&classSpace != 0:
				dst = append(dst, ' ')
			case t.lower && 'A' <= c && c <= 'Z':
				dst = append(dst, c+'a'-'A')
			default:
				dst = append(dst, c)
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		i += n
		if t.lower {
			if r == 'İ' {
				// Python: "İ".lower() == "i̇" (i + U+0307), where
				// unicode.ToLower gives "i".
				dst = append(dst, "i\u0307"...)
				ascii = false
				continue
			}
			r = unicode.ToLower(r)
		}
		cl := class(r)
		switch {
		case r == utf8.RuneError || cl&classControl != 0:
		case cl&classSpace != 0:
			dst = append(dst, ' ')
		case t.chinese && cl&classChinese != 0:
			dst = append(dst, ' ')
			dst = utf8.AppendRune(dst, r)
			dst = append(dst, ' ')
			ascii = false
		default:
			dst = utf8.AppendRune(dst, r)
			ascii = false
		}
	}
	return dst, ascii
}

// appendWord strips accents from one whitespace-separated word, splits off
// punctuation and appends the WordPiece ids of each piece.
func (t *Tokenizer) appendWord(dst []int32, w []byte, ascii bool, s *scratch) []int32 {
	if !ascii && t.strip && !isASCII(w) {
		w = t.stripAccents(w, s)
	}
	start := 0
	for i := 0; i < len(w); {
		r, n := rune(w[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(w[i:])
		}
		if isPunct(r) {
			dst = t.appendPieces(dst, w[start:i], s)
			dst = t.appendPieces(dst, w[i:i+n], s)
			start = i + n
		}
		i += n
	}
	return t.appendPieces(dst, w[start:], s)
}

func isPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r]&classPunct != 0
	}
	return class(r)&classPunct != 0
}

func isASCII(w []byte) bool {
	for _, c := range w {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// stripAccents returns w in NFD without nonspacing marks (Mn).
func (t *Tokenizer) stripAccents(w []byte, s *scratch) []byte {
	d := w
	if !norm.NFD.IsNormal(w) {
		s.nfd = norm.NFD.Append(s.nfd[:0], w...)
		d = s.nfd
	}
	out := s.word[:0]
	for i := 0; i < len(d); {
		r, n := utf8.DecodeRune(d[i:])
		if class(r)&classMark == 0 {
			out = append(out, d[i:i+n]...)
		}
		i += n
	}
	s.word = out
	return out
}

// appendPieces appends the greedy longest-match WordPiece ids of word, or
// [UNK] if word is too long or has no decomposition.
func (t *Tokenizer) appendPieces(dst []int32, word []byte, s *scratch) []int32 {
	if len(word) == 0 {
		return dst
	}
	if len(word) > t.maxChars && utf8.RuneCount(word) > t.maxChars {
		return append(dst, t.unk)
	}
	mark := len(dst)
	for start := 0; start < len(word); {
		id, end := t.longestMatch(word, start, s)
		if id < 0 {
			return append(dst[:mark], t.unk)
		}
		dst = append(dst, id)
		start = end
	}
	return dst
}

// longestMatch returns the id and end of the longest vocabulary entry that
// starts at word[start:] ("##"-prefixed when start > 0), or -1.
func (t *Tokenizer) longestMatch(word []byte, start int, s *scratch) (int32, int) {
	limit := t.maxBytes
	if start > 0 {
		limit -= 2
	}
	end := min(len(word), start+limit)
	for end < len(word) && !utf8.RuneStart(word[end]) {
		end--
	}
	for end > start {
		var id int32
		var ok bool
		if start == 0 {
			id, ok = t.ids[string(word[:end])]
		} else {
			s.key = append(append(s.key[:0], "##"...), word[start:end]...)
			id, ok = t.ids[string(s.key)]
		}
		if ok {
			return id, end
		}
		end--
		for end > start && !utf8.RuneStart(word[end]) {
			end--
		}
	}
	return -1, start
}
