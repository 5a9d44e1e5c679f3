package baseline

import (
	"unicode"
	"unicode/utf8"
)

// Words returns the words of text as the classifier sees them: lower-cased,
// in order, repeats kept. It is scikit-learn's CountVectorizer().
// build_analyzer() with the default settings. See Note [Word characters]
// and Note [Lower-casing].
func Words(text string) []string {
	var words []string
	var s scanner
	s.each(text, func(w []byte) { words = append(words, string(w)) })
	return words
}

// asciiWord marks the ASCII word characters [0-9A-Za-z_].
var asciiWord = func() (t [utf8.RuneSelf]bool) {
	for c := range utf8.RuneSelf {
		t[c] = '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
	}
	return t
}()

// isWordRune reports whether r matches Python's \w on str patterns.
// See Note [Word characters].
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiWord[r]
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// A scanner splits texts into words, reusing one buffer. The zero value is
// ready to use.
type scanner struct {
	word  []byte // the word being read, lower-cased UTF-8
	runes int    // its length in code points
}

// each calls fn with every word of text, in order: the runs of two or more
// word characters of the lower-cased text. The slice passed to fn is only
// valid during the call.
func (s *scanner) each(text string, fn func(word []byte)) {
	s.word, s.runes = s.word[:0], 0
	for i := 0; i < len(text); {
		if c := text[i]; c < utf8.RuneSelf { // fast path: ASCII lowers to ASCII
			i++
			if !asciiWord[c] {
				s.end(fn)
				continue
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			s.word = append(s.word, c)
			s.runes++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == dottedCapitalI { // lowers to "i\u0307"; U+0307 is a mark
			s.add('i')
			s.end(fn)
			i += size
			continue
		}
		lr := lower(text, i, i+size, r)
		i += size
		if isWordRune(lr) {
			s.add(lr)
		} else {
			s.end(fn)
		}
	}
	s.end(fn)
}

func (s *scanner) add(r rune) {
	s.word = utf8.AppendRune(s.word, r)
	s.runes++
}

// end passes the word read so far to fn if it has two or more characters,
// and starts a new one.
func (s *scanner) end(fn func(word []byte)) {
	if s.runes >= 2 {
		fn(s.word)
	}
	s.word, s.runes = s.word[:0], 0
}
