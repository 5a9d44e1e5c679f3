package wordpiece

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ddprun/ddprun/shard/truncation"
)

// The method set another package's shard.Tokenizer declares.
var _ interface {
	Encode(text, pair string, maxLen int, trunc truncation.Mode) (ids, typeIDs []int32, err error)
	Fingerprint() string
} = (*Tokenizer)(nil)

var tinyVocab = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "##b", "##c", "ab"}

func tiny(t *testing.T, opts Options) *Tokenizer {
	t.Helper()
	tok, err := New(tinyVocab, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestEncodeMaxLen(t *testing.T) {
	tok := tiny(t, Options{})
	for _, tc := range []struct {
		text, pair string
		maxLen     int
		want       []int32
		err        bool
	}{
		{"a b c", "", 0, []int32{2, 5, 6, 7, 3}, false},
		{"a b c", "", 5, []int32{2, 5, 6, 7, 3}, false},
		{"a b c", "", 4, []int32{2, 5, 6, 3}, false},
		{"a b c", "", 3, []int32{2, 5, 3}, false},
		{"a b c", "", 2, nil, true}, // HF would log an error and not truncate
		{"", "", 2, []int32{2, 3}, false},
		{"a b c", "a", 3, []int32{2, 3, 3}, false},
		{"a b c", "a", 2, nil, true},
		{"a b c", "a b c", 6, []int32{2, 5, 6, 3, 5, 3}, false}, // the pair loses the odd token
		{"abc", "", 0, []int32{2, 10, 9, 3}, false},             // ab ##c
	} {
		ids, types, err := tok.Encode(tc.text, tc.pair, tc.maxLen, truncation.Mode{})
		if tc.err {
			if !errors.Is(err, ErrMaxLen) {
				t.Errorf("Encode(%q, %q, %d): err %v, want ErrMaxLen", tc.text, tc.pair, tc.maxLen, err)
			}
			continue
		}
		if err != nil || !slices.Equal(ids, tc.want) || len(types) != len(ids) {
			t.Errorf("Encode(%q, %q, %d) = %v, %v, %v; want %v", tc.text, tc.pair, tc.maxLen, ids, types, err, tc.want)
		}
	}
}

func TestSpecialIDs(t *testing.T) {
	tok := tiny(t, Options{})
	got := []int32{tok.PAD(), tok.UNK(), tok.CLS(), tok.SEP(), tok.MASK()}
	if !slices.Equal(got, []int32{0, 1, 2, 3, 4}) || tok.VocabSize() != len(tinyVocab) {
		t.Errorf("special ids %v, size %d", got, tok.VocabSize())
	}
	if id, ok := tok.ID("##b"); !ok || id != 8 || tok.Token(8) != "##b" {
		t.Errorf("ID(##b) = %d, %t", id, ok)
	}
	if all := tok.SpecialIDs(); !slices.Equal(all, []int32{2, 3, 0, 1, 4}) {
		t.Errorf("SpecialIDs() = %v, want [CLS] [SEP] [PAD] [UNK] [MASK]", all)
	}
	noMask, err := New(tinyVocab[:4], Options{})
	if err != nil || noMask.MASK() != -1 || len(noMask.SpecialIDs()) != 4 {
		t.Errorf("no [MASK]: %v, %d, special %v", err, noMask.MASK(), noMask.SpecialIDs())
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, content, want string
	}{
		{"utf8.txt", "[PAD]\n[UNK]\n\xff\xfe\n", "utf8.txt:3: invalid UTF-8"},
		{"crlf.txt", "[PAD]\r\n[UNK]\r\n", "crlf.txt:1: CRLF"},
		{"nounk.txt", "[PAD]\n[CLS]\n[SEP]\n", "no [UNK] token"},
		{"empty.txt", "", "empty file"},
		{"bad.json", "{\n \"model\": {\n  \"type\": \"WordPiece\",\n  \"vocab\": {\"a\": 0,}\n }\n}\n", "bad.json:4"},
		{"bpe.json", `{"model": {"type": "BPE", "vocab": {}}}`, `model type "BPE"`},
		{"gap.json", `{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 2}}}`, `has id 2`},
	} {
		_, err := Load(write(tc.name, tc.content), Options{})
		if !errors.Is(err, ErrVocab) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want ErrVocab containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.txt"), Options{}); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing file: %v", err)
	}
}

func TestSaveLoad(t *testing.T) {
	tok := tiny(t, Options{Lowercase: Bool(false), ModelMaxLength: 128})
	dir := filepath.Join(t.TempDir(), "tok")
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if back.Fingerprint() != tok.Fingerprint() || back.Lowercase() || back.StripAccents() || back.ModelMaxLength() != 128 {
		t.Errorf("after Save/Load: fingerprint %s (want %s), lower %t, strip %t, max %d",
			back.Fingerprint(), tok.Fingerprint(), back.Lowercase(), back.StripAccents(), back.ModelMaxLength())
	}
	data, err := os.ReadFile(filepath.Join(dir, "vocab.txt"))
	if err != nil || string(data) != strings.Join(tinyVocab, "\n")+"\n" {
		t.Errorf("vocab.txt = %q, %v", data, err)
	}
	var cfg map[string]any
	data, _ = os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err := json.Unmarshal(data, &cfg); err != nil || cfg["tokenizer_class"] != "BertTokenizer" || cfg["do_lower_case"] != false {
		t.Errorf("tokenizer_config.json = %s, %v", data, err)
	}
	if lower, _ := Load(dir, Options{Lowercase: Bool(true)}); lower.Fingerprint() == tok.Fingerprint() {
		t.Error("the fingerprint ignores Lowercase")
	}
}

func TestTokenizerJSON(t *testing.T) {
	vocab := map[string]int{}
	for i, tok := range tinyVocab {
		vocab[tok] = i
	}
	tj := map[string]any{
		"normalizer": map[string]any{"type": "BertNormalizer", "lowercase": false, "strip_accents": nil, "handle_chinese_chars": true, "clean_text": true},
		"model":      map[string]any{"type": "WordPiece", "vocab": vocab, "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 3},
	}
	data, _ := json.Marshal(tj)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Tokenize("A abc abcb"); !slices.Equal(got, []string{"[UNK]", "ab", "##c", "[UNK]"}) {
		t.Errorf("Tokenize = %q (cased, max 3 chars)", got)
	}
	if tok.Fingerprint() != mustNew(t, Options{Lowercase: Bool(false), MaxInputCharsPerWord: 3}).Fingerprint() {
		t.Error("tokenizer.json and vocab with the same options differ in fingerprint")
	}
}

func mustNew(t *testing.T, opts Options) *Tokenizer {
	t.Helper()
	return tiny(t, opts)
}

func TestConcurrentEncode(t *testing.T) {
	tok := tiny(t, Options{})
	want, _, _ := tok.Encode("a abc Äbc", "c b", 0, truncation.Mode{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				got, _, err := tok.Encode("a abc Äbc", "c b", 0, truncation.Mode{})
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("concurrent Encode = %v, %v; want %v", got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestInvalidUTF8(t *testing.T) {
	// Invalid bytes decode to U+FFFD, which clean_text removes, as HF does
	// with text read using errors="replace".
	tok := tiny(t, Options{})
	if got := tok.Tokenize("a\xffb c"); !slices.Equal(got, []string{"ab", "c"}) {
		t.Errorf("Tokenize = %q", got)
	}
}
