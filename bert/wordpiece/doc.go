// Package wordpiece is a BERT WordPiece tokenizer that gives the same ids as
// HuggingFace transformers' BertTokenizer, in pure Go.
//
// Load a vocabulary (a vocab.txt, an HF tokenizer.json, or a model folder
// holding either plus tokenizer_config.json), then encode text or text pairs
// for the model:
//
//	tok, err := wordpiece.Load("models/bert-base-uncased", wordpiece.Options{})
//	if err != nil {
//		return err
//	}
//	ids, typeIDs, err := tok.Encode("How old are you?", "I am six.", 128, truncation.Mode{})
//	// ids:     [CLS] how old are you ? [SEP] i am six . [SEP]
//	// typeIDs:   0    0   0   0   0  0   0   1  1   1  1   1
//
// Options left nil follow the folder's tokenizer_config.json, then HF's
// defaults (lowercase, strip accents when lowercasing, split CJK ideographs,
// words over 100 characters become [UNK]). A Tokenizer is safe for
// concurrent use; Encode allocates little beyond its two results.
//
// The last argument of Encode says which tokens a text longer than maxLen
// keeps: the zero truncation.Mode keeps the first, as HF does by default.
// Truncation returns the mode a model folder records (HF's truncation_side,
// or ddprun's own key for head+tail), and Save records the one
// SetTruncation set, so that a model is applied as it was trained.
//
// Fingerprint identifies the vocabulary and options, so a cache of token ids
// can be checked against the tokenizer that reads it. Save writes a folder
// that HF's BertTokenizer loads.
//
// See Note [HF pipeline] in tokenizer.go for the exact steps, and
// Note [Unicode version] in charclass.go for the one known difference from
// Python. The parity test checks the ids of a set of tricky strings against
// bert/testdata/tokenizer_reference.json, written by
// bert/testdata/gen_tokenizer_fixture.py.
//
// Note [sugarme/tokenizer]: the project's tokenizer dependency,
// github.com/sugarme/tokenizer v0.3.0, is used only in a test. Its BERT
// normalizer and pre-tokenizer differ from HF on 15 of the reference strings:
// strip accents drops Mn without NFD first, so "Café" keeps its accent (and
// Hangul and kana are not decomposed); lowercasing panics when a lowercase
// letter is shorter in UTF-8 ("ẞ", "İ") and maps "İ" to "i" (Python: "i̇");
// only " \t\n\r" are whitespace (not Zs such as U+00A0 or U+3000, nor
// U+2028/U+2029); private-use and unassigned code points are kept; there is
// no NFC step. Its WordPiece model needs modules outside go.sum, logs fatally
// on a bad vocabulary and allocates per candidate piece. This package shares
// no code with it; TestSugarmeDifferences keeps the list above honest.
package wordpiece
