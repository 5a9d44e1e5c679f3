package shard

// Batch is one rank's share of a training step: B rows padded to T tokens,
// the length of its longest row (dynamic padding). Matrices are row-major
// [B][T] and int64, as libtorch's embeddings want.
type Batch struct {
	IDs     []int64 // token ids; PadID after each row's end
	TypeIDs []int64 // token type ids (segment ids); 0 in padding
	Mask    []int64 // attention mask: 1 for tokens, 0 for padding
	Labels  []int64 // [B] class ids; -1 for a dataset without labels
	B, T    int
	Index   []int // dataset row of each batch row (for predictions, debugging)
	// Repeated marks rows that repeat a sample only to give every rank the
	// same count (see Note [Sampler]): leave them out of evaluation
	// metrics. nil when no row is repeated.
	Repeated []bool
	// Targets are the masked-LM targets, [B][T]: the original token where
	// the Loader masked one, IgnoreIndex elsewhere (padding included). nil
	// unless LoaderConfig.Mask is set; IDs then hold the masked tokens.
	Targets []int64
}

// Tokens returns the number of real (unpadded) tokens in the batch.
func (b *Batch) Tokens() int {
	n := 0
	for _, m := range b.Mask {
		n += int(m)
	}
	return n
}

// collate builds a Batch of dataset rows rows. repeated[i] marks a row that
// is sampler padding (nil: none).
func collate(d *Dataset, rows []int, repeated []bool, padID int64) *Batch {
	t := 0
	for _, i := range rows {
		t = max(t, d.Length(i))
	}
	b := &Batch{
		IDs: make([]int64, len(rows)*t), TypeIDs: make([]int64, len(rows)*t),
		Mask: make([]int64, len(rows)*t), Labels: make([]int64, len(rows)),
		B: len(rows), T: t, Index: rows, Repeated: repeated,
	}
	for r, i := range rows {
		fillRow(b, r, d, i, padID)
	}
	return b
}

// fillRow writes dataset row i into batch row r.
func fillRow(b *Batch, r int, d *Dataset, i int, padID int64) {
	ids, mask, types := b.IDs[r*b.T:(r+1)*b.T], b.Mask[r*b.T:(r+1)*b.T], b.TypeIDs[r*b.T:(r+1)*b.T]
	toks := d.Tokens(i)
	for j, tok := range toks {
		ids[j], mask[j] = int64(tok), 1
	}
	for j := len(toks); j < len(ids); j++ {
		ids[j] = padID
	}
	for j, ty := range d.TypeIDs(i) {
		types[j] = int64(ty)
	}
	b.Labels[r] = int64(d.Label(i))
}
