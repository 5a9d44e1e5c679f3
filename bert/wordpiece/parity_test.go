package wordpiece

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ddprun/ddprun/shard/truncation"
)

// reference is bert/testdata/tokenizer_reference.json.
type reference struct {
	VocabFiles  map[string]string `json:"vocab_files"`
	VocabSHA256 map[string]string `json:"vocab_sha256"`
	Cases       []refCase         `json:"cases"`
}

type refCase struct {
	Name         string   `json:"name"`
	Why          string   `json:"why"`
	Vocab        string   `json:"vocab"`
	Lowercase    bool     `json:"lowercase"`
	StripAccents *bool    `json:"strip_accents"`
	Text         string   `json:"text"`
	Pair         *string  `json:"pair"`
	MaxLen       int      `json:"max_len"`
	Tokens       []string `json:"tokens"`
	PairTokens   []string `json:"pair_tokens"`
	InputIDs     []int32  `json:"input_ids"`
	TokenTypeIDs []int32  `json:"token_type_ids"`
}

var (
	vocabDirOnce sync.Once
	vocabDir     string
	vocabDirErr  error
)

// sugarmeVocabDir returns the folder of the vocabularies that
// github.com/sugarme/tokenizer ships, from the module cache (no network).
func sugarmeVocabDir(t testing.TB) string {
	t.Helper()
	vocabDirOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/sugarme/tokenizer").Output()
		dir := strings.TrimSpace(string(out))
		if err != nil || dir == "" {
			vocabDirErr = err
			return
		}
		vocabDir = filepath.Join(dir, "pretrained", "model")
	})
	if vocabDir == "" {
		t.Skipf("github.com/sugarme/tokenizer is not in the module cache (go mod download fetches it): %v", vocabDirErr)
	}
	return vocabDir
}

func loadReference(t testing.TB) reference {
	t.Helper()
	data, err := os.ReadFile("../testdata/tokenizer_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// refTokenizer loads the reference vocabulary of c with c's options,
// checking that the file is the one the reference was made from.
func refTokenizer(t testing.TB, ref reference, c refCase) *Tokenizer {
	t.Helper()
	path := filepath.Join(sugarmeVocabDir(t), ref.VocabFiles[c.Vocab])
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != ref.VocabSHA256[c.Vocab] {
		t.Fatalf("%s: sha256 differs from the one the reference was made with", path)
	}
	tok, err := Load(path, Options{Lowercase: Bool(c.Lowercase), StripAccents: c.StripAccents})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestParity(t *testing.T) {
	ref := loadReference(t)
	if len(ref.Cases) < 50 {
		t.Fatalf("reference has %d cases, want the full set", len(ref.Cases))
	}
	for _, c := range ref.Cases {
		t.Run(c.Name, func(t *testing.T) {
			tok := refTokenizer(t, ref, c)
			if got := tok.Tokenize(c.Text); !slices.Equal(got, c.Tokens) && len(got)+len(c.Tokens) > 0 {
				t.Errorf("Tokenize(%q) (%s):\n got %q\nwant %q", c.Text, c.Why, got, c.Tokens)
			}
			pair := ""
			if c.Pair != nil {
				pair = *c.Pair
				if got := tok.Tokenize(pair); !slices.Equal(got, c.PairTokens) {
					t.Errorf("Tokenize(%q):\n got %q\nwant %q", pair, got, c.PairTokens)
				}
			}
			ids, types, err := tok.Encode(c.Text, pair, c.MaxLen, truncation.Mode{})
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !slices.Equal(ids, c.InputIDs) || !slices.Equal(types, c.TokenTypeIDs) {
				t.Errorf("Encode(%q, %q, %d):\n got %v %v\nwant %v %v", c.Text, pair, c.MaxLen, ids, types, c.InputIDs, c.TokenTypeIDs)
			}
		})
	}
}
