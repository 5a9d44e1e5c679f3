package bert

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/ddprun/ddprun/internal/torchrt"
)

// The sparse word-embedding gradient holds exactly PyTorch's dense gradient
// (the fixture) in its rows; rows it lacks are zero there.
func TestSparseEmbeddingGrad(t *testing.T) {
	for _, c := range []string{"bert_cls", "distilbert_mean"} {
		t.Run(c, func(t *testing.T) {
			dir := filepath.Join("testdata", c)
			ref := loadReference(t, dir)
			withFixture(t, dir, func(_ *torchrt.Thread, m *Model) error {
				m.SetSparseEmbeddingGrad(true)
				if err := backwardPass(m, ref.input(), ref.Labels, false); err != nil {
					return err
				}
				ids, rows, err := m.SparseRows(m.WordEmbeddings())
				if err != nil {
					return err
				}
				want := flatten(t, ref.Grads[m.WordEmbeddings()])
				h := m.Config.HiddenSize
				dense := make([]float32, len(want))
				for i, id := range ids {
					copy(dense[int(id)*h:], rows[i*h:(i+1)*h])
				}
				d, scale := maxAbsDiff(dense, want)
				if d > ref.Tolerance.GradRel*math.Max(scale, 1e-6) || len(ids) == 0 {
					t.Errorf("sparse gradient (%d rows) differs from PyTorch's dense one by %g", len(ids), d)
				}
				for _, id := range ids {
					if id == int64(m.Config.PadTokenID) {
						t.Errorf("the padding row got a gradient")
					}
				}
				return nil
			})
		})
	}
}
