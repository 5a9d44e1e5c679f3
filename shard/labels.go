package shard

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// LabelMap maps label names to class ids 0..K-1 and back, like HuggingFace's
// label2id and id2label. The zero value is empty; build one with
// NewLabelMap, BuildLabelMap or LabelMapFromHF. Its JSON form is
// {"id2label": {...}, "label2id": {...}}, the fields of a HF config.json.
type LabelMap struct {
	names []string       // id -> name
	ids   map[string]int // name -> id
}

// NewLabelMap returns the map with names[i] as class i. Names must be
// unique and non-empty.
func NewLabelMap(names []string) (*LabelMap, error) {
	m := &LabelMap{names: slices.Clone(names), ids: make(map[string]int, len(names))}
	for i, n := range names {
		if n == "" {
			return nil, fmt.Errorf("shard: label map: label %d is empty", i)
		}
		if _, dup := m.ids[n]; dup {
			return nil, fmt.Errorf("shard: label map: label %s appears twice", clip(strconv.Quote(n)))
		}
		m.ids[n] = i
	}
	return m, nil
}

// BuildLabelMap builds the label map for the training labels values (the
// Label of each row; see Dataset.LabelValues). If order is not empty it is
// the map, in that order, and every value must be in it. Otherwise, if every
// value is a non-negative integer, the integers are the ids directly (K is
// the largest plus one, names are the decimal digits); else the distinct
// values in sorted order get ids 0..K-1.
func BuildLabelMap(values, order []string) (*LabelMap, error) {
	if len(order) > 0 {
		m, err := NewLabelMap(order)
		if err != nil {
			return nil, err
		}
		for _, v := range values {
			if _, ok := m.ids[v]; !ok {
				return nil, fmt.Errorf("shard: label map: training label %s not in the given order %s: %w", clip(strconv.Quote(v)), clip(fmt.Sprintf("%q", order)), ErrUnknownLabel)
			}
		}
		return m, nil
	}
	if names, ok := integerNames(values); ok {
		return NewLabelMap(names)
	}
	names := slices.Clone(values)
	slices.Sort(names)
	return NewLabelMap(slices.Compact(names))
}

// integerNames returns "0".."max" if every value is a canonical
// non-negative integer.
func integerNames(values []string) ([]string, bool) {
	top := -1
	for _, v := range values {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || strconv.Itoa(n) != v || n > 1<<20 {
			return nil, false
		}
		top = max(top, n)
	}
	if top < 0 {
		return nil, false
	}
	names := make([]string, top+1)
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return names, true
}

// LabelMapFromHF rebuilds a label map from a HF config.json's id2label,
// whose keys must be exactly "0".."K-1".
func LabelMapFromHF(id2label map[string]string) (*LabelMap, error) {
	names := make([]string, len(id2label))
	for k, name := range id2label {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 || id >= len(names) || strconv.Itoa(id) != k {
			return nil, fmt.Errorf("shard: id2label: key %q is not an id in 0..%d", k, len(names)-1)
		}
		names[id] = name
	}
	return NewLabelMap(names)
}

// Len returns the number of classes K.
func (m *LabelMap) Len() int { return len(m.names) }

// Names returns the label names in id order.
func (m *LabelMap) Names() []string { return slices.Clone(m.names) }

// Name returns the name of class id.
func (m *LabelMap) Name(id int) string { return m.names[id] }

// ID returns the class id of name.
func (m *LabelMap) ID(name string) (int, bool) {
	id, ok := m.ids[name]
	return id, ok
}

// ID2Label returns HF config.json's id2label: {"0": name0, ...}.
func (m *LabelMap) ID2Label() map[string]string {
	out := make(map[string]string, len(m.names))
	for i, n := range m.names {
		out[strconv.Itoa(i)] = n
	}
	return out
}

// Label2ID returns HF config.json's label2id: {name0: 0, ...}.
func (m *LabelMap) Label2ID() map[string]int {
	out := make(map[string]int, len(m.names))
	for i, n := range m.names {
		out[n] = i
	}
	return out
}

// hfLabels is the JSON form of a LabelMap.
type hfLabels struct {
	ID2Label map[string]string `json:"id2label"`
	Label2ID map[string]int    `json:"label2id"`
}

// MarshalJSON writes {"id2label": ..., "label2id": ...}.
func (m *LabelMap) MarshalJSON() ([]byte, error) {
	return json.Marshal(hfLabels{m.ID2Label(), m.Label2ID()})
}

// UnmarshalJSON reads what MarshalJSON writes (id2label decides; label2id,
// if present, must agree).
func (m *LabelMap) UnmarshalJSON(b []byte) error {
	var h hfLabels
	if err := json.Unmarshal(b, &h); err != nil {
		return fmt.Errorf("shard: label map: %w", err)
	}
	got, err := LabelMapFromHF(h.ID2Label)
	if err != nil {
		return err
	}
	for name, id := range h.Label2ID {
		if want, ok := got.ids[name]; !ok || want != id {
			return fmt.Errorf("shard: label map: label2id[%q] = %d disagrees with id2label", name, id)
		}
	}
	*m = *got
	return nil
}
