package shard

import (
	"fmt"
	"slices"
	"strconv"
)

// Dataset is a tokenized split: for each row its token ids, token type ids,
// label and source line. Rows are in file order. Build one with Load (or
// Tokenize); it is read-only afterwards except for ApplyLabels, and safe
// for concurrent reads.
type Dataset struct {
	name       string
	offsets    []int64 // row i is tokens[offsets[i]:offsets[i+1]]
	tokens     []int32
	types      []uint8 // same layout as tokens; nil when every type id is 0
	lines      []int32 // source line of each row
	labelNames []string
	labelIdx   []int32 // index into labelNames per row; nil without labels
	labels     []int32 // class ids; nil until ApplyLabels
	stats      TokenStats
}

// TokenStats counts what reading and tokenizing a split did.
type TokenStats struct {
	ReadStats
	Tokens  int64 `json:"tokens"`   // tokens over all rows, special tokens included
	CutRows int   `json:"cut_rows"` // rows whose text was cut to the byte bound before tokenizing
}

// Name returns the file the dataset was read from.
func (d *Dataset) Name() string { return d.name }

// Len returns the number of rows.
func (d *Dataset) Len() int { return len(d.lines) }

// Stats returns the reading and tokenizing counts.
func (d *Dataset) Stats() TokenStats { return d.stats }

// Tokens returns row i's token ids. The slice aliases the dataset: do not
// modify it.
func (d *Dataset) Tokens(i int) []int32 { return d.tokens[d.offsets[i]:d.offsets[i+1]] }

// TypeIDs returns row i's token type ids, or nil if they are all zero.
func (d *Dataset) TypeIDs(i int) []uint8 {
	if d.types == nil {
		return nil
	}
	return d.types[d.offsets[i]:d.offsets[i+1]]
}

// Length returns the number of tokens of row i.
func (d *Dataset) Length(i int) int { return int(d.offsets[i+1] - d.offsets[i]) }

// Line returns the line of the file where row i starts.
func (d *Dataset) Line(i int) int { return int(d.lines[i]) }

// LabelValue returns row i's label as written in the file ("" without labels).
func (d *Dataset) LabelValue(i int) string {
	if d.labelIdx == nil {
		return ""
	}
	return d.labelNames[d.labelIdx[i]]
}

// LabelValues returns the distinct labels of the file, in order of first
// appearance: what BuildLabelMap takes.
func (d *Dataset) LabelValues() []string { return slices.Clone(d.labelNames) }

// Label returns row i's class id, or -1 before ApplyLabels or without labels.
func (d *Dataset) Label(i int) int {
	if d.labels == nil {
		return -1
	}
	return int(d.labels[i])
}

// ApplyLabels maps every row's label through m. A label m lacks is an error
// wrapping ErrUnknownLabel that names the file and line of its first row.
// Call it before handing the dataset to a Loader.
func (d *Dataset) ApplyLabels(m *LabelMap) error {
	if d.labelIdx == nil {
		return fmt.Errorf("shard: apply labels to %s: the dataset was read without labels", d.name)
	}
	ids := make([]int32, len(d.labelNames))
	for j, name := range d.labelNames {
		id, ok := m.ID(name)
		if !ok {
			line := d.lines[slices.Index(d.labelIdx, int32(j))]
			return fmt.Errorf("shard: %s:%d: label %s not in the label map %s: %w", d.name, line, clip(strconv.Quote(name)), clip(fmt.Sprintf("%q", m.Names())), ErrUnknownLabel)
		}
		ids[j] = int32(id)
	}
	labels := make([]int32, len(d.labelIdx))
	for i, j := range d.labelIdx {
		labels[i] = ids[j]
	}
	d.labels = labels
	return nil
}
