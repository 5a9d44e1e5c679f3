package ddp

import (
	"context"
	"fmt"
	"slices"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/ddp/devopt"
	"github.com/ddprun/ddprun/internal/torchrt"
)

// reducer owns the gradient buckets: one flat fp32 tensor per bucket whose
// slices are the trainable parameters' .grad tensors (Note [Gradient
// views]), so backward writes gradients straight into the buffers the
// all-reduce sends, and the optimizer reads them there.
type reducer struct {
	buckets  []Bucket
	nDecay   []int        // per bucket: the leading elements that get weight decay (decaying parameters come first)
	flat     []*ts.Tensor // one per bucket
	weights  []*ts.Tensor // with flat parameters: one per bucket, the parameters' memory (Note [Flat parameters])
	views    []*ts.Tensor // the .grad (and parameter) views, kept alive with the model
	mem      [][]float32  // flat buffers as Go slices over the tensors' memory; nil off the CPU
	wire16   bool         // convert buckets to bf16 for the all-reduce here (Note [Wire conversion])
	sparse   *sparseGrad  // the word embeddings, when synchronised sparsely
	wireSize int          // bytes per gradient element on the wire (4 fp32, 2 bf16)
	overlap  *overlapper  // reduces buckets behind backward (Note [Overlap]); nil: after it
	psgd     *powerSGD    // compresses the dense buckets (Note [PowerSGD]); nil: off
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

// Note [Flat parameters]: for the flat optimizer (package devopt) the
// parameters of a bucket become views of one flat weight buffer laid out
// like the bucket's gradient buffer (PyTorch's `p.data = flat[a:b]`, via
// torchrt.SetData), so that a step is a few libtorch ops per bucket. Within
// a bucket the parameters that get weight decay come first, so that decay
// applies to one prefix of the buffer.

// Note [Wire conversion]: the ring converts float32 buffers to its wire
// dtype itself; NCCL reduces every buffer in its own dtype. For such
// backends the reducer converts a bucket to a bf16 tensor with libtorch
// (on the bucket's device), all-reduces that, and copies the average back
// (PyTorch's bf16_compress_hook). All ranks get the same bits from the
// backend, so the replicas stay identical.

// newReducer plans and allocates the gradient buckets. With sparse, the
// word embeddings get a buffer of their own, synchronised as Note [Sparse
// embedding gradients] says. With flat, the parameters become views of
// per-bucket weight buffers (Note [Flat parameters]). The reducer holds
// the gradient layout only; the optimizers lay themselves over it
// (newOptimizer).
func newReducer(m *bert.Model, firstBytes, capBytes int, sparse, flat bool) (_ *reducer, err error) {
	// A masked LM's output projection is the word-embedding matrix (bert's
	// Note [Masked-LM head]): every row gets a gradient through the
	// softmax, so its gradient is dense whatever the batch touched.
	sparse = sparse && !m.Config.MaskedLM()
	var infos []ParamInfo
	var emb *ParamInfo
	shapes := map[string][]int64{}
	for _, p := range m.Params() {
		shapes[p.Name] = p.Shape
		if !p.Trainable {
			continue
		}
		pi := ParamInfo{Name: p.Name, Numel: int(numel(p.Shape)), Decay: p.Decay}
		if sparse && p.WordEmbedding {
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
	for i := range r.buckets {
		r.nDecay = append(r.nDecay, decayFirst(&r.buckets[i]))
		if err := r.addBucket(m, r.buckets[i], shapes, flat); err != nil {
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
	if dev := m.Device(); dev.IsCuda() {
		return fmt.Errorf("ddp: %s: sparse embedding gradients need the model on the CPU, found %s", p.Name, deviceName(dev))
	}
	m.SetSparseEmbeddingGrad(true)
	r.sparse = &sparseGrad{name: p.Name, dim: int(shape[1]), mem: make([]float32, p.Numel), decay: p.Decay}
	return nil
}

// groups describes the buckets for the flat optimizer.
func (r *reducer) groups() []devopt.Group {
	gs := make([]devopt.Group, len(r.buckets))
	for i, b := range r.buckets {
		gs[i] = devopt.Group{W: r.weights[i], G: r.flat[i], NDecay: r.nDecay[i]}
		for j, p := range b.Params {
			gs[i].Slots = append(gs[i].Slots, devopt.Slot{Name: p.Name, Offset: b.Offsets[j], Numel: p.Numel})
		}
	}
	return gs
}

// decayFirst reorders a bucket's parameters so that those with weight
// decay come first, and returns how many elements they span.
func decayFirst(b *Bucket) int {
	slices.SortStableFunc(b.Params, func(x, y ParamInfo) int {
		switch dx, dy := x.Decay, y.Decay; {
		case dx == dy:
			return 0
		case dx:
			return -1
		}
		return 1
	})
	n := 0
	for i, p := range b.Params {
		b.Offsets[i] = n
		n += p.Numel
	}
	d := 0
	for _, p := range b.Params {
		if p.Decay {
			d += p.Numel
		}
	}
	return d
}

// bucketView is elements [off, off+numel) of a flat buffer, shaped.
func bucketView(flat *ts.Tensor, off, numel int, shape []int64) (*ts.Tensor, error) {
	v, err := flat.Narrow(0, int64(off), int64(numel), false)
	if err == nil {
		v, err = v.View(shape, true)
	}
	return v, err
}

func (r *reducer) addBucket(m *bert.Model, b Bucket, shapes map[string][]int64, flatParams bool) error {
	n := int64(max(b.Numel, 1))
	flat, err := ts.Zeros([]int64{n}, gotch.Float, m.Device())
	if err != nil {
		return fmt.Errorf("ddp: allocating a gradient bucket of %d floats: %w", b.Numel, err)
	}
	r.flat = append(r.flat, flat)
	var mem []float32
	if !m.Device().IsCuda() {
		mem = unsafe.Slice((*float32)(flat.MustDataPtr()), n)[:b.Numel]
	}
	r.mem = append(r.mem, mem)
	var weights *ts.Tensor
	if flatParams {
		if weights, err = ts.Zeros([]int64{n}, gotch.Float, m.Device()); err != nil {
			return fmt.Errorf("ddp: allocating a weight bucket of %d floats: %w", b.Numel, err)
		}
		r.weights = append(r.weights, weights)
	}
	for i, p := range b.Params {
		off := b.Offsets[i]
		v, err := bucketView(flat, off, p.Numel, shapes[p.Name])
		if err == nil {
			err = torchrt.SetGrad(m.Tensor(p.Name), v)
		}
		if err != nil {
			return fmt.Errorf("ddp: making %s's gradient a bucket view: %w", p.Name, err)
		}
		r.views = append(r.views, v)
		if flatParams {
			w, err := bucketView(weights, off, p.Numel, shapes[p.Name])
			if err == nil {
				r.views = append(r.views, w)
				err = torchrt.NoGrad(func() error {
					w.Copy_(m.Tensor(p.Name))
					return torchrt.SetData(m.Tensor(p.Name), w)
				})
			}
			if err != nil {
				return fmt.Errorf("ddp: making %s a view of its weight bucket: %w", p.Name, err)
			}
		}
	}
	return nil
}

// hostFloats views a contiguous fp32 CPU tensor's memory as a Go slice.
func hostFloats(t *ts.Tensor) ([]float32, error) {
	if t.DType() != gotch.Float {
		return nil, fmt.Errorf("expected a float32 tensor, found %v", t.DType())
	}
	buf, err := tensorBuffer(t)
	if err != nil {
		return nil, err
	}
	if buf.Device != collective.CPU {
		dev, _ := t.Device()
		return nil, fmt.Errorf("the host optimizer and sparse embedding gradients need parameters on the CPU, found %v", dev)
	}
	return unsafe.Slice((*float32)(buf.Ptr), buf.Count), nil
}

// zero clears every bucket (the step's zero_grad).
func (r *reducer) zero(m *bert.Model) error {
	for i, b := range r.mem {
		if b != nil {
			clear(b)
		} else if err := r.flat[i].Zero_(); err != nil {
			return fmt.Errorf("ddp: zeroing gradient bucket %d: %w", i, err)
		}
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
	if c.Size() == 1 {
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
	count, n := r.buckets[i].Numel, c.Size()
	sent := count // elements all-reduced
	var err error
	switch {
	case r.psgd != nil: // Note [PowerSGD]
		sent, err = r.psgd.allReduce(ctx, c, i, r.mem[i])
	case r.wire16:
		err = r.allReduceBF16(ctx, c, i)
	default:
		var buf collective.Buffer
		if buf, err = tensorBuffer(r.flat[i]); err == nil {
			err = c.AllReduce(ctx, buf.Slice(0, count), collective.Avg)
		}
	}
	if err != nil {
		return fmt.Errorf("ddp: all-reduce of gradient bucket %d (%d floats): %w", i, count, err)
	}
	r.stats.Bytes += int64(sent) * int64(r.wireSize) * int64(2*(n-1)) / int64(n)
	return nil
}

// allReduceBF16 is Note [Wire conversion]. It calls libtorch: compute
// thread only (no overlap).
func (r *reducer) allReduceBF16(ctx context.Context, c collective.Comm, i int) error {
	b16, err := r.flat[i].Totype(gotch.BFloat16, false)
	if err != nil {
		return err
	}
	defer b16.MustDrop()
	buf, err := tensorBuffer(b16)
	if err != nil {
		return err
	}
	if err := c.AllReduce(ctx, buf.Slice(0, r.buckets[i].Numel), collective.Avg); err != nil {
		return err
	}
	return torchrt.NoGrad(func() error {
		r.flat[i].Copy_(b16)
		return nil
	})
}

// tensorBuffer describes a contiguous tensor's memory for a collective:
// host memory on the CPU, device memory on CUDA.
func tensorBuffer(t *ts.Tensor) (collective.Buffer, error) {
	var dt collective.DType
	switch t.DType() {
	case gotch.Float:
		dt = collective.Float32
	case gotch.BFloat16:
		dt = collective.BFloat16
	case gotch.Int64:
		dt = collective.Int64
	default:
		return collective.Buffer{}, fmt.Errorf("no collective dtype for a %v tensor", t.DType())
	}
	dev, err := t.Device()
	if err != nil {
		return collective.Buffer{}, err
	}
	if !t.MustIsContiguous() {
		return collective.Buffer{}, fmt.Errorf("tensor is not contiguous")
	}
	p, err := t.DataPtr()
	if err != nil {
		return collective.Buffer{}, err
	}
	buf := collective.NewBuffer(p, int(t.Numel()), dt)
	switch dev.Name {
	case gotch.CPU.Name:
	case "CUDA":
		buf.Device = collective.CUDA
	default:
		return collective.Buffer{}, fmt.Errorf("tensor on %v: collectives take CPU or CUDA memory", dev)
	}
	return buf, nil
}

func (r *reducer) drop() {
	for _, v := range r.views {
		v.MustDrop()
	}
	for _, f := range r.flat {
		f.MustDrop()
	}
	for _, w := range r.weights {
		w.MustDrop()
	}
	r.views, r.flat, r.mem, r.weights = nil, nil, nil, nil
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// bytesSent is the wire bytes this rank has sent so far (an estimate for
// the ring: 2(n-1)/n of each buffer).
func (r *reducer) bytesSent() int64 { return r.stats.Bytes }

// startOverlap, when overlap is on, makes the coming backward pass
// all-reduce each bucket as it fills (Note [Overlap]).
func (r *reducer) startOverlap(ctx context.Context, c collective.Comm, onBucket func(int)) {
	if r.overlap != nil {
		r.overlap.start(ctx, c, onBucket)
	}
}

// finishOverlap waits for an overlapped step that failed to wind down.
func (r *reducer) finishOverlap() {
	if r.overlap != nil {
		r.overlap.finish()
	}
}
