package wordpiece

import (
	_ "embed"
	"strings"
)

// bert-base-uncased's WordPiece vocabulary (30,522 tokens, Apache-2.0, as
// shipped in github.com/sugarme/tokenizer's pretrained/model folder), built
// into the binary so that models trained from scratch (--preset) need no
// files and no network.
//
//go:embed vocab/bert-base-uncased-vocab.txt
var bertBaseUncased string

// BertBaseUncased returns the bert-base-uncased tokenizer (lowercasing,
// accent stripping, max length 512).
func BertBaseUncased() (*Tokenizer, error) {
	tokens := strings.Split(strings.TrimSuffix(bertBaseUncased, "\n"), "\n")
	return New(tokens, Options{ModelMaxLength: 512})
}
