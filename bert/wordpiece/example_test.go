package wordpiece_test

import (
	"fmt"

	"github.com/ddprun/ddprun/bert/wordpiece"
	"github.com/ddprun/ddprun/shard/truncation"
)

func Example() {
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
		"how", "old", "are", "you", "?", "i", "am", "six", ".", "un", "##aff", "##able"}
	tok, err := wordpiece.New(vocab, wordpiece.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.Tokenize("Unaffable? Ünaffable!"))
	ids, typeIDs, err := tok.Encode("How old are you?", "I am six.", 0, truncation.Mode{})
	if err != nil {
		panic(err)
	}
	fmt.Println(ids)
	fmt.Println(typeIDs)
	ids, _, _ = tok.Encode("How old are you?", "I am six.", 8, truncation.Mode{})
	fmt.Println(ids)
	// Output:
	// [un ##aff ##able ? un ##aff ##able [UNK]]
	// [2 5 6 7 8 9 3 10 11 12 13 3]
	// [0 0 0 0 0 0 0 1 1 1 1 1]
	// [2 5 6 7 3 10 11 3]
}
