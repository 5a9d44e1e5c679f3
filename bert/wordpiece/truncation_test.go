package wordpiece

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/shard/truncation"
)

// letters is a vocabulary where a..j have ids 5..14, so that which tokens a
// truncation keeps can be read off the ids.
var letters = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}

var (
	head = truncation.Mode{Side: truncation.Head}
	tail = truncation.Mode{Side: truncation.Tail}
)

func headTail(h int) truncation.Mode { return truncation.Mode{Side: truncation.HeadTail, Head: h} }

func TestEncode_Truncation(t *testing.T) {
	tok, err := New(letters, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const ten = "a b c d e f g h i j" // 5 .. 14
	for _, tc := range []struct {
		name       string
		text, pair string
		maxLen     int
		trunc      truncation.Mode
		want       []int32 // nil: ErrMaxLen
		types      []int32 // nil: all 0
	}{
		{"head", ten, "", 6, head, []int32{2, 5, 6, 7, 8, 3}, nil},
		{"tail", ten, "", 6, tail, []int32{2, 11, 12, 13, 14, 3}, nil},
		{"head+tail:1", ten, "", 6, headTail(1), []int32{2, 5, 12, 13, 14, 3}, nil},
		{"head+tail:2 of 8", ten, "", 10, headTail(2), []int32{2, 5, 6, 9, 10, 11, 12, 13, 14, 3}, nil},
		{"head+tail:3 of 4", ten, "", 6, headTail(3), []int32{2, 5, 6, 7, 14, 3}, nil},
		{"H=0 is tail", ten, "", 6, headTail(0), []int32{2, 11, 12, 13, 14, 3}, nil},
		{"H=maxLen-2 is head", ten, "", 6, headTail(4), []int32{2, 5, 6, 7, 8, 3}, nil},
		{"H>maxLen-2 is head", ten, "", 6, headTail(9), []int32{2, 5, 6, 7, 8, 3}, nil},
		{"fits/tail", ten, "", 12, tail, []int32{2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 3}, nil},
		{"fits/head+tail", "a b c", "", 5, headTail(1), []int32{2, 5, 6, 7, 3}, nil},
		{"no limit/tail", "a b c", "", 0, tail, []int32{2, 5, 6, 7, 3}, nil},
		{"maxLen 3/head", ten, "", 3, head, []int32{2, 5, 3}, nil},
		{"maxLen 3/tail", ten, "", 3, tail, []int32{2, 14, 3}, nil},
		{"maxLen 3/head+tail:0", ten, "", 3, headTail(0), []int32{2, 14, 3}, nil},
		{"maxLen 3/head+tail:1", ten, "", 3, headTail(1), []int32{2, 5, 3}, nil},
		{"maxLen 2/head", ten, "", 2, head, nil, nil},
		{"maxLen 2/tail", ten, "", 2, tail, nil, nil},
		{"maxLen 2/head+tail", ten, "", 2, headTail(0), nil, nil},
		{"maxLen 2/empty text", "", "", 2, tail, []int32{2, 3}, nil},

		// Pairs: longest-first says how many each text keeps (here 3 and
		// 3 of 6 and 4), the side which ones, in each text on its own.
		{"pair/head", "a b c d e f", "g h i j", 9, head, []int32{2, 5, 6, 7, 3, 11, 12, 13, 3}, []int32{0, 0, 0, 0, 0, 1, 1, 1, 1}},
		{"pair/tail", "a b c d e f", "g h i j", 9, tail, []int32{2, 8, 9, 10, 3, 12, 13, 14, 3}, []int32{0, 0, 0, 0, 0, 1, 1, 1, 1}},
		{"pair/head+tail:1", "a b c d e f", "g h i j", 9, headTail(1), []int32{2, 5, 9, 10, 3, 11, 13, 14, 3}, []int32{0, 0, 0, 0, 0, 1, 1, 1, 1}},
		{"pair/head+tail:2", "a b c d e f", "g h i j", 9, headTail(2), []int32{2, 5, 6, 10, 3, 11, 12, 14, 3}, []int32{0, 0, 0, 0, 0, 1, 1, 1, 1}},
		// Only the long pair is cut (2 of 2 and 3 of 8 kept).
		{"pair/one cut/tail", "a b", "c d e f g h i j", 8, tail, []int32{2, 5, 6, 3, 12, 13, 14, 3}, []int32{0, 0, 0, 0, 1, 1, 1, 1}},
		{"pair/one cut/head+tail:1", "a b", "c d e f g h i j", 8, headTail(1), []int32{2, 5, 6, 3, 7, 13, 14, 3}, []int32{0, 0, 0, 0, 1, 1, 1, 1}},
		// Equal lengths: the pair loses the odd token (2 of 3 and 1 of 3).
		{"pair/odd/tail", "a b c", "d e f", 6, tail, []int32{2, 6, 7, 3, 10, 3}, []int32{0, 0, 0, 0, 1, 1}},
		{"pair/maxLen 3/tail", "a b c", "d e f", 3, tail, []int32{2, 3, 3}, []int32{0, 0, 1}},
		{"pair/maxLen 2/tail", "a b c", "d e f", 2, tail, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, types, err := tok.Encode(tc.text, tc.pair, tc.maxLen, tc.trunc)
			if tc.want == nil {
				if !errors.Is(err, ErrMaxLen) {
					t.Fatalf("Encode = %v, %v; want ErrMaxLen", ids, err)
				}
				return
			}
			wantTypes := tc.types
			if wantTypes == nil {
				wantTypes = make([]int32, len(tc.want))
			}
			if err != nil || !slices.Equal(ids, tc.want) || !slices.Equal(types, wantTypes) {
				t.Errorf("Encode(%q, %q, %d, %v) = %v, %v, %v; want %v, %v", tc.text, tc.pair, tc.maxLen, tc.trunc, ids, types, err, tc.want, wantTypes)
			}
		})
	}
	if _, _, err := tok.Encode(ten, "", 6, truncation.Mode{Side: 7}); err == nil {
		t.Error("Encode with an invalid mode: no error")
	}
}

// Save records the truncation in tokenizer_config.json as HF's
// truncation_side (plus ddprun's key for head+tail), and Load reads it back.
func TestSaveLoad_Truncation(t *testing.T) {
	for _, tc := range []struct {
		m            truncation.Mode
		side, ddprun string
	}{
		{head, "right", ""},
		{tail, "left", ""},
		{headTail(31), "right", "head+tail:31"},
	} {
		t.Run(tc.m.String(), func(t *testing.T) {
			tok, err := New(letters, Options{ModelMaxLength: 128})
			if err != nil {
				t.Fatal(err)
			}
			tok.SetTruncation(tc.m)
			dir := t.TempDir()
			if err := tok.Save(dir); err != nil {
				t.Fatal(err)
			}
			var cfg map[string]any
			data, _ := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
			if err := json.Unmarshal(data, &cfg); err != nil {
				t.Fatal(err)
			}
			if cfg["truncation_side"] != tc.side || (tc.ddprun == "") != (cfg["ddprun_truncation"] == nil) ||
				tc.ddprun != "" && cfg["ddprun_truncation"] != tc.ddprun {
				t.Errorf("tokenizer_config.json = %s; want truncation_side %q, ddprun_truncation %q", data, tc.side, tc.ddprun)
			}
			back, err := Load(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if back.Truncation() != tc.m {
				t.Errorf("Load: truncation %v, want %v", back.Truncation(), tc.m)
			}
		})
	}
}

func TestLoad_TruncationKeys(t *testing.T) {
	for _, tc := range []struct {
		config string
		want   truncation.Mode
		err    string
	}{
		{`{}`, head, ""},
		{`{"truncation_side": "right"}`, head, ""},
		{`{"truncation_side": "left"}`, tail, ""},
		{`{"truncation_side": "right", "ddprun_truncation": "head+tail:5"}`, headTail(5), ""},
		{`{"truncation_side": "left", "ddprun_truncation": "head"}`, head, ""}, // ddprun's key wins
		{`{"model_max_length": 130, "ddprun_truncation": "head+tail"}`, headTail(32), ""},
		{`{"truncation_side": "middle"}`, head, `truncation_side "middle"`},
		{`{"ddprun_truncation": "head+tail:600"}`, head, "more than max length 512"},
		{`{"ddprun_truncation": "both"}`, head, "want head, tail"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(letters, "\n")+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(tc.config), 0o644)
		tok, err := Load(dir, Options{})
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "tokenizer_config.json") {
				t.Errorf("%s: err %v, want one naming the file and containing %q", tc.config, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.config, err)
		case tok.Truncation() != tc.want:
			t.Errorf("%s: truncation %v, want %v", tc.config, tok.Truncation(), tc.want)
		}
	}
}
