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
//	ids, typeIDs, err := tok.Encode("How old are you?", "I am six.", 128)
//	// ids:     [CLS] how old are you ? [SEP] i am six . [SEP]
//	// typeIDs:   0    0   0   0   0  0   0   1  1   1  1   1
//
// Options left nil follow the folder's tokenizer_config.json, then HF's
// defaults (lowercase, strip accents when lowercasing, split CJK ideographs,
// words over 100 characters become [UNK]). A Tokenizer is safe for
// concurrent use; Encode allocates only its two results for ASCII text.
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
// github.com/sugarme/tokenizer v0.3.0, is not used at run time. Its BERT
// normalizer and pre-tokenizer differ from HF: they treat only " \t\n\r" as
// whitespace (not Zs such as U+00A0 or U+3000, nor U+2028/U+2029), remove
// only Cc and Cf (not private-use or unassigned code points), skip the NFC
// step, and lowercase "İ" to "i" (Python: "i̇"); its WordPiece model cannot
// be built without extra modules, logs fatally on a bad vocabulary, and
// allocates per candidate piece. TestSugarmeDifferences records on which
// reference strings it differs.
package wordpiece
