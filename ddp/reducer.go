package ddp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/bert/torchrt"
	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/ddp/optim"
)

// reducer owns the gradient buckets: one flat fp32 tensor per bucket whose
// slices are the trainable parameters' .grad tensors (Note [Gradient
// views]), so backward writes gradients straight into the buffers the
// all-reduce sends, and the optimizer reads them there.
type reducer struct {
	buckets  []Bucket
	flat     []*ts.Tensor  // one per bucket
	views    []*ts.Tensor  // the .grad views, kept alive with the model
	mem      [][]float32   // flat buffers as Go slices over the tensors' memory
	params   []optim.Param // trainable parameters, bucket order; Grad slices into mem
	sparse   *sparseGrad   // the word embeddings, when synchronised sparsely
	wireSize int           // bytes per gradient element on the wire (4 fp32, 2 bf16)
	overlap  *overlapper   // reduces buckets behind backward (Note [Overlap]); nil: after it
	stats    reduceStats
}

type reduceStats struct {
	Bytes int64 // wire bytes this rank sent, estimated as 2(n-1)/n of the buffer
}

// Note [Gradient views]: PyTorch DDP's gradient_as_bucket_view. Each
// trainable parameter's grad is set, once, to a view of its bucket's flat
// buffer. Autograd's AccumulateGrad adds into a defined grad in place, so
// after backward the bucket holds the gradients with no copy; zeroing the
// bucket replaces zero_grad. The parameters themselves stay separate tensors
// so that autocast may cache their bf16 copies.

// newReducer plans and allocates the gradient buckets. With sparse, the
// word embeddings get a buffer of their own, synchronised as Note [Sparse
// embedding gradients] says.
func newReducer(m *bert.Model, firstBytes, capBytes int, sparse bool) (_ *reducer, err error) {
	var infos []ParamInfo
	var emb *ParamInfo
	shapes := map[string][]int64{}
	for _, p := range m.Params() {
		shapes[p.Name] = p.Shape
		if !p.Trainable {
			continue
		}
		pi := ParamInfo{Name: p.Name, Numel: int(numel(p.Shape))}
		if sparse && isWordEmbedding(p.Name) {
			emb = &pi
			continue
		}
		infos = append(infos, pi)
	}
	r := &reducer{buckets: PlanBuckets(infos, firstBytes, capBytes)}
	defer func() {
		if err != nil {
			r.drop()
		}
	}()
	for _, b := range r.buckets {
		if err := r.addBucket(m, b, shapes); err != nil {
			return nil, err
		}
	}
	if emb != nil {
		if err := r.addSparse(m, *emb, shapes[emb.Name]); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *reducer) addSparse(m *bert.Model, p ParamInfo, shape []int64) error {
	data, err := hostFloats(m.Tensor(p.Name))
	if err != nil {
		return fmt.Errorf("ddp: %s: %w", p.Name, err)
	}
	m.SetSparseEmbeddingGrad(true)
	r.sparse = &sparseGrad{name: p.Name, dim: int(shape[1]), mem: make([]float32, p.Numel), param: len(r.params)}
	r.params = append(r.params, optim.Param{Name: p.Name, Data: data, Grad: r.sparse.mem, Decay: decays(p.Name)})
	return nil
}

// lazyRows makes the optimizer update only the word-embedding rows this
// step touched on any rank (optim's Note [Lazy rows]).
func (r *reducer) lazyRows() {
	if r.sparse == nil {
		return
	}
	ids := append([]int64{}, r.sparse.dirty...) // not nil: no row touched means no row updated
	slices.Sort(ids)
	p := &r.params[r.sparse.param]
	p.Rows, p.RowLen = slices.Compact(ids), r.sparse.dim
}

func (r *reducer) addBucket(m *bert.Model, b Bucket, shapes map[string][]int64) error {
	flat, err := ts.Zeros([]int64{int64(max(b.Numel, 1))}, gotch.Float, m.Device())
	if err != nil {
		return fmt.Errorf("ddp: allocating a gradient bucket of %d floats: %w", b.Numel, err)
	}
	r.flat = append(r.flat, flat)
	mem := unsafe.Slice((*float32)(flat.MustDataPtr()), max(b.Numel, 1))[:b.Numel]
	r.mem = append(r.mem, mem)
	for i, p := range b.Params {
		off := b.Offsets[i]
		v, err := flat.Narrow(0, int64(off), int64(p.Numel), false)
		if err == nil {
			v, err = v.View(shapes[p.Name], true)
		}
		if err == nil {
			err = torchrt.SetGrad(m.Tensor(p.Name), v)
		}
		if err != nil {
			return fmt.Errorf("ddp: making %s's gradient a bucket view: %w", p.Name, err)
		}
		r.views = append(r.views, v)
		data, err := hostFloats(m.Tensor(p.Name))
		if err != nil {
			return fmt.Errorf("ddp: %s: %w", p.Name, err)
		}
		r.params = append(r.params, optim.Param{Name: p.Name, Data: data, Grad: mem[off : off+p.Numel], Decay: decays(p.Name)})
	}
	return nil
}

// hostFloats views a contiguous fp32 CPU tensor's memory as a Go slice.
func hostFloats(t *ts.Tensor) ([]float32, error) {
	if t.DType() != gotch.Float {
		return nil, fmt.Errorf("expected a float32 tensor, found %v", t.DType())
	}
	dev, err := t.Device()
	if err != nil {
		return nil, err
	}
	if dev.Name != gotch.CPU.Name {
		return nil, fmt.Errorf("the ring trainer keeps parameters on the CPU, found %v", dev)
	}
	if !t.MustIsContiguous() {
		return nil, fmt.Errorf("tensor is not contiguous")
	}
	p, err := t.DataPtr()
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*float32)(p), t.Numel()), nil
}

// decays says whether weight decay applies to a parameter: HF's rule, no
// decay for biases and LayerNorm weights.
func decays(name string) bool {
	return !(strings.HasSuffix(name, ".bias") || strings.Contains(name, "LayerNorm.") || strings.Contains(name, "layer_norm."))
}

// zero clears every bucket (the step's zero_grad).
func (r *reducer) zero(m *bert.Model) error {
	for _, b := range r.mem {
		clear(b)
	}
	if r.sparse != nil {
		return r.sparse.zero(m)
	}
	return nil
}

// sync averages the gradients over the ranks: every dense bucket, in
// bucket order, then the sparse word embeddings (which need reading out of
// libtorch even alone).
func (r *reducer) sync(ctx context.Context, m *bert.Model, c collective.Comm, onBucket func(i int)) error {
	if r.overlap != nil && c != nil && c.Size() > 1 {
		if err := r.overlap.finish(); err != nil {
			return err
		}
	} else if err := r.allReduceDense(ctx, c, onBucket); err != nil {
		return err
	}
	if r.sparse != nil {
		before := r.sparse.bytes
		if err := r.sparse.sync(ctx, m, c); err != nil {
			return err
		}
		r.stats.Bytes += r.sparse.bytes - before
	}
	return nil
}

func (r *reducer) allReduceDense(ctx context.Context, c collective.Comm, onBucket func(i int)) error {
	if c == nil || c.Size() == 1 {
		return nil
	}
	for i := range r.mem {
		if err := r.allReduceBucket(ctx, c, i, onBucket); err != nil {
			return err
		}
	}
	return nil
}

// allReduceBucket averages bucket i over the ranks.
func (r *reducer) allReduceBucket(ctx context.Context, c collective.Comm, i int, onBucket func(int)) error {
	if onBucket != nil {
		onBucket(i)
	}
	m, n := r.mem[i], c.Size()
	if err := c.AllReduce(ctx, collective.Float32s(m), collective.Avg); err != nil {
		return fmt.Errorf("ddp: all-reduce of gradient bucket %d (%d floats): %w", i, len(m), err)
	}
	r.stats.Bytes += int64(len(m)) * int64(r.wireSize) * int64(2*(n-1)) / int64(n)
	return nil
}

func (r *reducer) drop() {
	for _, v := range r.views {
		v.MustDrop()
	}
	for _, f := range r.flat {
		f.MustDrop()
	}
	r.views, r.flat, r.mem = nil, nil, nil
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}
