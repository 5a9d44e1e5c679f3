package wordpiece

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ddprun/ddprun/shard/truncation"
)

// The embedded vocabulary is the one sugarme/tokenizer ships, and loads to
// the same tokenizer as the file.
func TestBertBaseUncasedEmbedded(t *testing.T) {
	emb, err := BertBaseUncased()
	if err != nil {
		t.Fatal(err)
	}
	if emb.VocabSize() != 30522 || emb.CLS() != 101 || emb.SEP() != 102 || emb.PAD() != 0 {
		t.Fatalf("vocab %d, CLS %d, SEP %d, PAD %d", emb.VocabSize(), emb.CLS(), emb.SEP(), emb.PAD())
	}
	file, err := Load(filepath.Join("vocab", "bert-base-uncased-vocab.txt"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err := emb.Encode("Héllo, wörld! Unbelievably tokenized.", "", 64, truncation.Mode{})
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := file.Encode("Héllo, wörld! Unbelievably tokenized.", "", 64, truncation.Mode{})
	if !slices.Equal(ids, want) || emb.Fingerprint() != file.Fingerprint() {
		t.Errorf("embedded %v (%s), file %v (%s)", ids, emb.Fingerprint(), want, file.Fingerprint())
	}
	if _, err := os.Stat(filepath.Join("vocab", "bert-base-uncased-vocab.txt")); err != nil {
		t.Fatal(err)
	}
}
