package shard

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestClip checks that clip keeps short input, and cuts long input at a
// rune boundary near maxEcho bytes and gives its length.
func TestClip(t *testing.T) {
	short := strings.Repeat("a", maxEcho)
	if got := clip(short); got != short {
		t.Fatalf("clip of %d bytes changed it: %q", maxEcho, got)
	}
	long := strings.Repeat("é", 100) // 200 bytes; byte 80 starts a rune, byte 81 does not
	for _, s := range []string{long, "a" + long} {
		got := clip(s)
		tail := "… (" + strconv.Itoa(len(s)) + " bytes)"
		kept := len(got) - len(tail)
		if !utf8.ValidString(got) || !strings.HasSuffix(got, tail) || kept > maxEcho || kept < maxEcho-3 {
			t.Fatalf("clip(%d bytes) = %q: want valid UTF-8, %d bytes or a few less, then %q", len(s), got, maxEcho, tail)
		}
	}
}
