package baseline

import (
	"unicode"
	"unicode/utf8"
)

// The two characters whose lower case Python's str.lower() does not take
// from the simple one-to-one mapping. See Note [Lower-casing].
const (
	dottedCapitalI = '\u0130' // İ -> "i\u0307"
	capitalSigma   = '\u03a3' // Σ -> σ, or ς at the end of a word
	smallSigma     = '\u03c3'
	finalSigma     = '\u03c2'
)

// lower returns the lower case of r, the non-ASCII character text[start:end],
// as Python's str.lower() gives it, except for dottedCapitalI, which the
// caller handles.
func lower(text string, start, end int, r rune) rune {
	if r == capitalSigma {
		if isFinalSigma(text, start, end) {
			return finalSigma
		}
		return smallSigma
	}
	return unicode.ToLower(r)
}

// isFinalSigma reports whether the capital sigma text[start:end] is in
// Unicode's Final_Sigma context, the way CPython's handle_capital_sigma
// decides it: a cased letter before it and none after it, skipping
// case-ignorable characters both ways.
func isFinalSigma(text string, start, end int) bool {
	before := text[:start]
	for len(before) > 0 {
		r, size := utf8.DecodeLastRuneInString(before)
		before = before[:len(before)-size]
		if !isCaseIgnorable(r) {
			return isCased(r) && !casedFollows(text[end:])
		}
	}
	return false
}

// casedFollows reports whether the first character of after that is not
// case-ignorable is cased.
func casedFollows(after string) bool {
	for _, r := range after {
		if !isCaseIgnorable(r) {
			return isCased(r)
		}
	}
	return false
}

// isCased reports whether r has Unicode's Cased property: Lowercase,
// Uppercase or titlecase.
func isCased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// isCaseIgnorable reports whether r has Unicode's Case_Ignorable property:
// the categories Mn, Me, Cf, Lm and Sk, and the Word_Break classes
// MidLetter, MidNumLet and Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case ':', '\u00b7', '\u0387', '\u055f', '\u05f4', '\u2027', '\ufe13', '\ufe55', '\uff1a', // MidLetter
		'.', '\u2018', '\u2019', '\u2024', '\ufe52', '\uff07', '\uff0e', // MidNumLet
		'\'': // Single_Quote
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
