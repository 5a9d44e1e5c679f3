package ddp

import (
	"slices"
	"testing"

	"github.com/ddprun/ddprun/shard/truncation"
)

// fakeTokenizer is a Tokenizer that is not WordPiece: ddp must need
// nothing more of a tokenizer than the interface.
type fakeTokenizer struct {
	mask  int32
	trunc truncation.Mode
}

func (f *fakeTokenizer) Encode(string, string, int, truncation.Mode) ([]int32, []int32, error) {
	return []int32{1}, []int32{0}, nil
}
func (f *fakeTokenizer) Fingerprint() string             { return "fake" }
func (f *fakeTokenizer) VocabSize() int                  { return 50 }
func (f *fakeTokenizer) PAD() int32                      { return 7 }
func (f *fakeTokenizer) MASK() int32                     { return f.mask }
func (f *fakeTokenizer) SpecialIDs() []int32             { return []int32{7, 8, f.mask} }
func (f *fakeTokenizer) Truncation() truncation.Mode     { return f.trunc }
func (f *fakeTokenizer) SetTruncation(m truncation.Mode) { f.trunc = m }
func (f *fakeTokenizer) Save(string) error               { return nil }

// Masked-LM masking takes its ids from the tokenizer, whichever it is.
func TestNewObjective_Tokenizer(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Objective, cfg.MLMProbability, cfg.Seed = ObjectiveMaskedLM, 0.15, 3
	obj, err := newObjective(&cfg, &fakeTokenizer{mask: 9})
	if err != nil {
		t.Fatal(err)
	}
	m := obj.masking()
	if m.MaskID != 9 || m.VocabSize != 50 || !slices.Equal(m.Special, []int64{7, 8, 9}) {
		t.Errorf("masking %+v, want the fake tokenizer's ids", m)
	}
	if _, err := newObjective(&cfg, &fakeTokenizer{mask: -1}); err == nil {
		t.Error("a vocabulary without [MASK] was accepted for pretraining")
	}
}

// A preset uses bert-base-uncased's vocabulary, with its special ids.
func TestLoadTokenizer_Preset(t *testing.T) {
	tok, err := loadTokenizer("")
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 30522 || tok.PAD() != 0 || tok.MASK() != 103 || !slices.Equal(tok.SpecialIDs(), []int32{101, 102, 0, 100, 103}) {
		t.Errorf("bert-base-uncased: vocab %d, PAD %d, MASK %d, special %v", tok.VocabSize(), tok.PAD(), tok.MASK(), tok.SpecialIDs())
	}
}
