// Package truncation says which tokens a text keeps when it is longer than
// a model's input: its head (the default), its tail, or both (Sun et al.
// 2019, "How to Fine-Tune BERT for Text Classification": on long documents
// the first 128 and the last 382 of 510 tokens beat either end alone).
//
// It is a leaf package so that the tokenizer (bert/wordpiece) and the data
// path (shard) share one type without depending on each other. Parse reads
// the --truncation flag; Keep tells a tokenizer how many tokens to keep from
// each end:
//
//	m, err := truncation.Parse("head+tail", 512) // the first 127, the last 383
//	if err != nil {
//		return err
//	}
//	head, tail := m.Keep(len(ids), 510)
//	kept := append(ids[:head:head], ids[len(ids)-tail:]...)
//
// The zero Mode is head: a text loses tokens at its end, as HF's
// truncation_side "right" does. Tail is HF's truncation_side "left".
// HeadTail has no HF equivalent.
package truncation
