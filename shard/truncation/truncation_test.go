package truncation

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		s      string
		maxLen int
		want   Mode
		err    string // "" for none; "syntax" for ErrSyntax
	}{
		{"head", 128, Mode{Side: Head}, ""},
		{"tail", 128, Mode{Side: Tail}, ""},
		{"head+tail", 128, Mode{Side: HeadTail, Head: 31}, ""}, // 126/4 rounded down
		{"head+tail", 512, Mode{Side: HeadTail, Head: 127}, ""},
		{"head+tail", 10, Mode{Side: HeadTail, Head: 2}, ""},
		{"head+tail", 6, Mode{Side: HeadTail, Head: 1}, ""}, // 4/4 = 1 of 4
		{"head+tail", 5, Mode{Side: Tail}, ""},              // 3/4 = 0: no head
		{"head+tail", 3, Mode{Side: Tail}, ""},
		{"head+tail", 2, Mode{Side: Tail}, ""},
		{"head+tail:10", 128, Mode{Side: HeadTail, Head: 10}, ""},
		{"head+tail:0", 128, Mode{Side: Tail}, ""},
		{"head+tail:126", 128, Mode{Side: Head}, ""}, // all of the room
		{"head+tail:125", 128, Mode{Side: HeadTail, Head: 125}, ""},
		{"head+tail:127", 128, Mode{}, "more than max length 128 leaves"},
		{"head+tail:1", 3, Mode{Side: Head}, ""},
		{"head+tail:-1", 128, Mode{}, "syntax"},
		{"head+tail:+3", 128, Mode{}, "syntax"},
		{"head+tail:", 128, Mode{}, "syntax"},
		{"head+tail:x", 128, Mode{}, "syntax"},
		{"Head", 128, Mode{}, "syntax"},
		{"", 128, Mode{}, "syntax"},
		{"tail+head", 128, Mode{}, "syntax"},
		{"head+tail:3 ", 128, Mode{}, "syntax"},
	} {
		got, err := Parse(tc.s, tc.maxLen)
		switch {
		case tc.err == "syntax" && !errors.Is(err, ErrSyntax):
			t.Errorf("Parse(%q, %d): err %v, want ErrSyntax", tc.s, tc.maxLen, err)
		case tc.err != "" && tc.err != "syntax" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Parse(%q, %d): err %v, want one containing %q", tc.s, tc.maxLen, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("Parse(%q, %d) = %+v, %v; want %+v", tc.s, tc.maxLen, got, err, tc.want)
		}
	}
}

func TestString_RoundTrip(t *testing.T) {
	for _, m := range []Mode{{Side: Head}, {Side: Tail}, {Side: HeadTail, Head: 31}} {
		back, err := Parse(m.String(), 128)
		if err != nil || back != m {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", m.String(), back, err, m)
		}
	}
	if s := (Mode{Side: HeadTail, Head: 7}).String(); s != "head+tail:7" {
		t.Errorf("String = %q", s)
	}
	if s := (Mode{}).String(); s != "head" {
		t.Errorf("the zero Mode is %q, want head", s)
	}
}

func TestKeep(t *testing.T) {
	for _, tc := range []struct {
		m          Mode
		n, k       int
		head, tail int
	}{
		{Mode{Side: Head}, 10, 4, 4, 0},
		{Mode{Side: Tail}, 10, 4, 0, 4},
		{Mode{Side: HeadTail, Head: 1}, 10, 4, 1, 3},
		{Mode{Side: HeadTail, Head: 3}, 10, 4, 3, 1},
		{Mode{Side: HeadTail, Head: 4}, 10, 4, 4, 0},  // H = k: head
		{Mode{Side: HeadTail, Head: 9}, 10, 4, 4, 0},  // H > k: head
		{Mode{Side: HeadTail, Head: 0}, 10, 4, 0, 4},  // H = 0: tail
		{Mode{Side: Tail}, 3, 4, 3, 0},                // everything fits: no cut
		{Mode{Side: HeadTail, Head: 1}, 4, 4, 4, 0},   // exactly fits
		{Mode{Side: HeadTail, Head: 1}, 10, 0, 0, 0},  // no room
		{Mode{Side: Tail}, 10, -1, 0, 0},              // less than none
		{Mode{Side: HeadTail, Head: -2}, 10, 4, 0, 4}, // invalid, read as 0
	} {
		h, tl := tc.m.Keep(tc.n, tc.k)
		if h != tc.head || tl != tc.tail {
			t.Errorf("%v.Keep(%d, %d) = %d, %d; want %d, %d", tc.m, tc.n, tc.k, h, tl, tc.head, tc.tail)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		m  Mode
		ok bool
	}{
		{Mode{}, true}, {Mode{Side: Tail, Head: -1}, true}, {Mode{Side: HeadTail, Head: 0}, true},
		{Mode{Side: HeadTail, Head: -1}, false}, {Mode{Side: 3}, false},
	} {
		if err := tc.m.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v", tc.m, err)
		}
	}
}
