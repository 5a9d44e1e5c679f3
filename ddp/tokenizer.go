package ddp

import (
	"fmt"

	"github.com/ddprun/ddprun/bert/wordpiece"
	"github.com/ddprun/ddprun/shard"
	"github.com/ddprun/ddprun/shard/truncation"
)

// Tokenizer is what training, evaluation and prediction need of a model's
// tokenizer: shard's Encode and Fingerprint to tokenize the data, the ids
// that padding and masking use, the truncation rule the model folder
// records, and Save to write it next to the model. bert/wordpiece
// implements it; loadTokenizer picks the implementation a model folder
// holds (Note [Tokenizers]).
type Tokenizer interface {
	shard.Tokenizer
	// VocabSize is the number of token ids: a preset's vocab_size, and
	// the range of masking's random replacements.
	VocabSize() int
	// PAD is the id the loader pads batches with.
	PAD() int32
	// MASK is the id masking puts in a token's place, or -1 if the
	// vocabulary has none (then masked-LM pretraining is refused).
	MASK() int32
	// SpecialIDs are the ids masking never picks (HF's all_special_ids).
	SpecialIDs() []int32
	// Truncation is the truncation rule the tokenizer's folder records
	// (the one the model was trained with), or the one SetTruncation set.
	Truncation() truncation.Mode
	// SetTruncation sets what Truncation returns and Save records; it must
	// not run concurrently with either.
	SetTruncation(truncation.Mode)
	// Save writes the tokenizer's files into the model folder dir.
	Save(dir string) error
}

var _ Tokenizer = (*wordpiece.Tokenizer)(nil)

// Note [Tokenizers]: a model folder's tokenizer files say which tokenizer
// reads them, as HF's AutoTokenizer decides from the folder. ddprun has
// one, WordPiece (vocab.txt, or a tokenizer.json whose model is
// WordPiece), so every folder goes to it and wordpiece.Load says what a
// folder lacks. Another (a byte-level BPE for RoBERTa: vocab.json and
// merges.txt) is one more entry in tokenizerLoaders, ahead of WordPiece,
// whose match looks for its files.

// tokenizerLoaders are the tokenizer implementations, tried in order: the
// first that matches a model folder loads it.
var tokenizerLoaders = []struct {
	match func(dir string) bool
	load  func(dir string) (Tokenizer, error)
}{
	{func(string) bool { return true }, loadWordPiece}, // WordPiece: any folder
}

func loadWordPiece(dir string) (Tokenizer, error) {
	tok, err := wordpiece.Load(dir, wordpiece.Options{})
	if err != nil {
		return nil, err
	}
	return tok, nil
}

// loadTokenizer reads the model folder's tokenizer (Note [Tokenizers]),
// or the built-in bert-base-uncased vocabulary for a preset.
func loadTokenizer(modelDir string) (Tokenizer, error) {
	if modelDir == "" {
		tok, err := wordpiece.BertBaseUncased()
		if err != nil {
			return nil, err
		}
		return tok, nil
	}
	for _, l := range tokenizerLoaders {
		if !l.match(modelDir) {
			continue
		}
		tok, err := l.load(modelDir)
		if err != nil {
			return nil, fmt.Errorf("ddp: the model folder's tokenizer: %w", err)
		}
		return tok, nil
	}
	return nil, fmt.Errorf("ddp: %s: no tokenizer ddprun can read", modelDir)
}
