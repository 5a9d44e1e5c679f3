package wordpiece

import (
	"sync"
	"unicode"
)

// Character classes of HF's BasicTokenizer, one table lookup per rune.
//
// Note [Unicode version]: HF's rules are defined on Python's unicodedata
// (Unicode 14.0 in Python 3.11); Go's unicode package is Unicode 15.0. Code
// points assigned in 15.0 only (a few CJK extension and emoji code points) are
// "unassigned" (category Cn, removed) in Python and kept here. Nothing else
// differs: the classes below are the same Unicode categories.

const (
	classControl uint8 = 1 << iota // removed by clean_text: C* except \t \n \r
	classSpace                     // becomes a word break: " ", \t, \n, \r, Zs, U+2028, U+2029
	classPunct                     // split off: ASCII 33-47, 58-64, 91-96, 123-126, or P*
	classChinese                   // spaced by tokenize_chinese_chars
	classMark                      // Mn: dropped by strip accents
)

var (
	bmpOnce  sync.Once
	bmpClass []uint8 // class of every BMP code point
)

func loadTables() {
	bmpOnce.Do(func() {
		t := make([]uint8, 0x10000)
		for r := range rune(0x10000) {
			t[r] = computeClass(r)
		}
		bmpClass = t
	})
}

// class returns the class bits of r. loadTables must have run.
func class(r rune) uint8 {
	if r < 0x10000 {
		return bmpClass[r]
	}
	return computeClass(r)
}

func computeClass(r rune) uint8 {
	var c uint8
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == ' ':
		return classSpace
	case unicode.Is(unicode.Zs, r) || r == '\u2028' || r == '\u2029':
		// Zs is _is_whitespace; U+2028 (Zl) and U+2029 (Zp) survive
		// clean_text but str.split() breaks words on them.
		c |= classSpace
	case unicode.In(r, unicode.C) || !assigned(r):
		c |= classControl
	}
	if isASCIIPunct(r) || unicode.Is(unicode.P, r) {
		c |= classPunct
	}
	if isChinese(r) {
		c |= classChinese
	}
	if unicode.Is(unicode.Mn, r) {
		c |= classMark
	}
	return c
}

// assigned reports whether r has a category other than Cn.
func assigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C)
}

func isASCIIPunct(r rune) bool {
	return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126)
}

// isChinese is HF's _is_chinese_char: the CJK Unified Ideographs blocks and
// their extensions (not kana, not Hangul).
func isChinese(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) ||
		(r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) ||
		(r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) ||
		(r >= 0x2F800 && r <= 0x2FA1F)
}

// asciiClass is class for r < 0x80, without the table.
var asciiClass = func() (t [128]uint8) {
	for r := range rune(128) {
		t[r] = computeClass(r)
	}
	return t
}()
