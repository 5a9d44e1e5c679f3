package truncation

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Side says which end of a text a Mode keeps.
type Side uint8

// The sides, as --truncation spells them.
const (
	Head     Side = iota // keep the first tokens (HF truncation_side "right")
	Tail                 // keep the last tokens (HF truncation_side "left")
	HeadTail             // keep the first Mode.Head tokens and the last ones
)

func (s Side) String() string {
	switch s {
	case Head:
		return "head"
	case Tail:
		return "tail"
	case HeadTail:
		return "head+tail"
	}
	return "Side(" + strconv.Itoa(int(s)) + ")"
}

// Mode is a truncation rule. The zero Mode is head.
type Mode struct {
	Side Side
	// Head is, with HeadTail, the most tokens a text keeps from its head;
	// the rest of the room goes to its tail. Other sides ignore it.
	Head int
}

// ErrSyntax is wrapped by Parse's errors.
var ErrSyntax = errors.New("truncation: want head, tail, head+tail or head+tail:H")

// Parse reads a --truncation value: "head", "tail", "head+tail" or
// "head+tail:H". A text of maxLen tokens in all has maxLen-2 for content
// ([CLS] and [SEP] take two): "head+tail" keeps the first (maxLen-2)/4 of
// them, rounded down, and "head+tail:H" the first H (at most maxLen-2). The
// result is normalised: a head+tail that keeps no head is Tail, one that
// keeps all of it is Head, so that HF's truncation_side can say it.
func Parse(s string, maxLen int) (Mode, error) {
	room := max(maxLen-2, 0)
	switch {
	case s == "head":
		return Mode{Side: Head}, nil
	case s == "tail":
		return Mode{Side: Tail}, nil
	case s == "head+tail":
		return headTail(room/4, room), nil
	}
	hs, ok := strings.CutPrefix(s, "head+tail:")
	if !ok {
		return Mode{}, fmt.Errorf("%w: %q", ErrSyntax, s)
	}
	h, err := strconv.Atoi(hs)
	if err != nil || h < 0 || hs[0] == '+' {
		return Mode{}, fmt.Errorf("%w: %q: H must be a whole number >= 0", ErrSyntax, s)
	}
	if h > room {
		return Mode{}, fmt.Errorf("truncation: %q: H %d is more than max length %d leaves for text (%d)", s, h, maxLen, room)
	}
	return headTail(h, room), nil
}

func headTail(h, room int) Mode {
	switch h {
	case 0:
		return Mode{Side: Tail}
	case room:
		return Mode{Side: Head}
	}
	return Mode{Side: HeadTail, Head: h}
}

// String returns m as Parse reads it: "head", "tail" or "head+tail:H".
func (m Mode) String() string {
	if m.Side == HeadTail {
		return "head+tail:" + strconv.Itoa(m.Head)
	}
	return m.Side.String()
}

// Validate reports a Mode that Keep cannot apply: an unknown Side or a
// negative Head.
func (m Mode) Validate() error {
	if m.Side > HeadTail || m.Side == HeadTail && m.Head < 0 {
		return fmt.Errorf("truncation: invalid mode %v (head %d)", m.Side, m.Head)
	}
	return nil
}

// Keep says which of n tokens to keep when only k fit: the first head and
// the last tail, head+tail = min(n, k).
func (m Mode) Keep(n, k int) (head, tail int) {
	k = max(min(n, k), 0)
	switch {
	case k == n || m.Side == Head:
		return k, 0
	case m.Side == Tail:
		return 0, k
	}
	head = min(max(m.Head, 0), k)
	return head, k - head
}
