package bert

import (
	"fmt"

	"github.com/sugarme/gotch"
)

// SparseRows reads a parameter's sparse gradient (see
// SetSparseEmbeddingGrad) as row ids and their summed gradient rows
// ([len(ids)][width], row-major), duplicates added up. A parameter without
// a gradient gives no rows.
func (m *Model) SparseRows(name string) (ids []int64, rows []float32, err error) {
	p := m.tensor[name]
	if p == nil {
		return nil, nil, fmt.Errorf("bert: no parameter %s", name)
	}
	s := &scope{}
	defer s.free()
	defer catch(&err, "reading the sparse gradient of "+name)
	g := s.t(p.Grad(false))
	if !g.MustDefined() {
		return nil, nil, nil
	}
	if !g.MustIsSparse() {
		return nil, nil, fmt.Errorf("bert: the gradient of %s is dense", name)
	}
	c := s.t(g.Coalesce(false))
	idx := s.t(c.Indices(false))
	val := s.t(c.Values(false))
	if m.device != gotch.CPU {
		idx = s.t(idx.To(gotch.CPU, false))
		val = s.t(val.To(gotch.CPU, false))
	}
	idx = s.t(idx.Contiguous(false))
	val = s.t(val.Contiguous(false))
	n := idx.Numel()
	ids = make([]int64, n)
	rows = make([]float32, val.Numel())
	if n == 0 {
		return ids, rows, nil
	}
	if err := copyOut(idx, ids); err != nil {
		return nil, nil, err
	}
	if err := copyOut(val, rows); err != nil {
		return nil, nil, err
	}
	return ids, rows, nil
}
