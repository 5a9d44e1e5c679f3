package baseline

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Cases Python cannot state (invalid UTF-8) and the rules of doc.go in
// small; TestReference_Words compares many more texts with scikit-learn.
func TestWords(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"a I x 1 _", nil},
		{"Hello, WORLD!! hello", []string{"hello", "world", "hello"}},
		{"__init__ snake_case x_ _x", []string{"__init__", "snake_case", "x_", "_x"}},
		{"e-mail don't v2.1 10kg", []string{"mail", "don", "v2", "10kg"}},
		{"café NAÏVE Straße", []string{"café", "naïve", "straße"}},
		{"nai\u0308ve", []string{"nai", "ve"}},
		{"x² ½½ Ⅻ", []string{"x²", "½½"}},
		{"日本語 中文", []string{"日本語", "中文"}},
		{"KİTAP", []string{"ki", "tap"}},
		{"ΟΔΟΣ ΣΑΣ ΑΣ'ΑΑ", []string{"οδος", "σας", "ασ", "αα"}},
		{"ab\xffcd e\xc3", []string{"ab", "cd"}},
		{"\u212aelvin", []string{"kelvin"}},
	} {
		if diff := cmp.Diff(tc.want, Words(tc.text), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Words(%q) (-want +got):\n%s", tc.text, diff)
		}
	}
}
