package bert

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ddprun/ddprun/internal/torchrt"
)

// Model is BertForSequenceClassification or
// DistilBertForSequenceClassification on libtorch, numerically the same as
// HuggingFace's eager implementation. All methods must be called on the
// compute thread (see package internal/torchrt).
type Model struct {
	Config Config
	device gotch.Device
	params []Param
	tensor map[string]*ts.Tensor
	// sparseGrad makes backward produce the word embeddings' gradient as a
	// sparse tensor (the rows a batch touched) instead of a dense
	// vocab x hidden matrix. See SetSparseEmbeddingGrad.
	sparseGrad bool
}

// SetSparseEmbeddingGrad chooses how backward produces the word-embedding
// gradient: a sparse COO tensor of the touched rows (PyTorch's
// nn.Embedding(sparse=True)) or the dense matrix. The values are the same;
// the sparse form saves allocating, zeroing and adding a vocab x hidden
// matrix every step. Callers of the sparse form read the gradient with
// SparseRows.
func (m *Model) SetSparseEmbeddingGrad(sparse bool) { m.sparseGrad = sparse }

// WordEmbeddings is the name of the word-embedding parameter.
func (m *Model) WordEmbeddings() string { return m.Config.family().wordEmbeddings }

// Input is a batch of token ids: row-major [B][T] slices, padded to T.
type Input struct {
	IDs, TypeIDs, Mask []int64
	B, T               int
}

const noType = gotch.DType(-1) // "no dtype" for gotch's optional dtype arguments

// New makes a model with HF-style random weights: normal(0,
// initializer_range) for linear and embedding weights (with the padding
// row of the word embeddings zeroed), zero biases, LayerNorm weight 1.
// libtorch's generator draws the values: seed it first for reproducibility.
func New(c Config, device gotch.Device) (_ *Model, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Config: c, device: device, params: Spec(c), tensor: map[string]*ts.Tensor{}}
	for i := range m.params {
		m.params[i].Trainable = !m.unused(m.params[i].Name)
	}
	defer func() {
		if err != nil {
			m.Drop()
		}
	}()
	for _, p := range m.params {
		t, err := m.initTensor(p)
		if err != nil {
			return nil, fmt.Errorf("bert: initialising %s: %w", p.Name, err)
		}
		m.tensor[p.Name] = t
	}
	return m, nil
}

// unused reports parameters the forward pass of this configuration never
// touches: the pooler (BERT's) under mean pooling. They are frozen, so that
// the optimizer leaves them as they are (as PyTorch skips parameters whose
// grad is None) and DDP does not wait for their gradients.
func (m *Model) unused(name string) bool {
	pooler := m.Config.family().pooler
	return pooler != "" && m.Config.Pooling == PoolMean && strings.HasPrefix(name, pooler)
}

func (m *Model) initTensor(p Param) (*ts.Tensor, error) {
	t, err := ts.Zeros(p.Shape, gotch.Float, m.device)
	if err != nil {
		return nil, err
	}
	ts.NoGrad(func() { err = initValues(t, p, m.Config) })
	if err == nil {
		err = t.RequiresGrad_(p.Trainable)
	}
	if err != nil {
		t.MustDrop()
		return nil, err
	}
	return t, nil
}

func initValues(t *ts.Tensor, p Param, c Config) (err error) {
	switch p.Init {
	case InitZeros:
		return nil
	case InitOnes:
		one := ts.FloatScalar(1)
		defer one.MustDrop()
		return t.Fill_(one)
	}
	if err := t.Normal_(0, c.InitializerRange); err != nil {
		return err
	}
	if p.Init == InitEmbedding {
		row, err := t.Select(0, int64(c.PadTokenID), false)
		if err != nil {
			return err
		}
		defer row.MustDrop()
		return row.Zero_()
	}
	return nil
}

// Params lists the parameters in HF's order.
func (m *Model) Params() []Param { return m.params }

// Tensor returns the named parameter tensor (owned by the model).
func (m *Model) Tensor(name string) *ts.Tensor { return m.tensor[name] }

// Device is where the parameters live.
func (m *Model) Device() gotch.Device { return m.device }

// SetTrainable marks which parameters train: keep(name) true trains it,
// false freezes it (requires_grad off: no gradient, no all-reduce, no
// optimizer state).
func (m *Model) SetTrainable(keep func(name string) bool) error {
	for i := range m.params {
		p := &m.params[i]
		p.Trainable = keep(p.Name) && !m.unused(p.Name)
		if err := m.tensor[p.Name].RequiresGrad_(p.Trainable); err != nil {
			return fmt.Errorf("bert: setting requires_grad of %s: %w", p.Name, err)
		}
	}
	return nil
}

// FreezeBase trains the classification head only (IsHead).
func (m *Model) FreezeBase() error { return m.SetTrainable(IsHead) }

// NumParams counts parameters: all of them, and the trainable ones.
func (m *Model) NumParams() (total, trainable int64) {
	for _, p := range m.params {
		n := numel(p.Shape)
		total += n
		if p.Trainable {
			trainable += n
		}
	}
	return total, trainable
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// Drop frees every parameter tensor.
func (m *Model) Drop() {
	for _, n := range slices.Sorted(keys(m.tensor)) {
		m.tensor[n].MustDrop()
	}
	m.tensor = map[string]*ts.Tensor{}
}

// Forward computes the logits [B, num_labels] for a batch. With train
// true, dropout is active. The caller owns the returned tensor.
func (m *Model) Forward(in Input, train bool) (logits *ts.Tensor, err error) {
	if m.Config.MaskedLM() {
		return nil, fmt.Errorf("bert: Forward: a masked LM has no classifier head (use MaskedLM)")
	}
	if err := m.checkInput(in); err != nil {
		return nil, err
	}
	s := &scope{}
	defer s.free()
	defer catch(&err, "forward")
	f := forward{m: m, s: s, train: train, b: int64(in.B), t: int64(in.T)}
	h, mask := f.encode(in)
	return s.keep(f.head(h, mask)), nil
}

// encode runs the encoder: the last hidden states [B,T,H] and the
// attention mask [B,T] as a tensor.
func (f *forward) encode(in Input) (h, mask *ts.Tensor) {
	fam := f.m.Config.family()
	ids := f.ints(in.IDs)
	mask = f.ints(in.Mask)
	h = fam.embeddings(f, in, ids)
	bias := f.maskBias(mask)
	for i := range f.m.Config.NumLayers {
		h = fam.layer(f, i, h, bias)
	}
	return h, mask
}

func (m *Model) checkInput(in Input) error {
	n, tokenTypes := in.B*in.T, m.Config.family().tokenTypes
	switch {
	case in.B <= 0 || in.T <= 0:
		return fmt.Errorf("%w: empty batch (%d x %d)", ErrShape, in.B, in.T)
	case len(in.IDs) != n || len(in.Mask) != n:
		return fmt.Errorf("%w: %d ids and %d mask values for a %d x %d batch", ErrShape, len(in.IDs), len(in.Mask), in.B, in.T)
	case tokenTypes && len(in.TypeIDs) != n:
		return fmt.Errorf("%w: %d token type ids for a %d x %d batch", ErrShape, len(in.TypeIDs), in.B, in.T)
	case in.T > m.Config.MaxPositions:
		return fmt.Errorf("%w: sequence length %d exceeds max_position_embeddings %d", ErrShape, in.T, m.Config.MaxPositions)
	}
	for i, id := range in.IDs {
		if id < 0 || id >= int64(m.Config.VocabSize) {
			return fmt.Errorf("%w: token id %d at row %d is outside the vocabulary of %d", ErrShape, id, i/in.T, m.Config.VocabSize)
		}
	}
	if tokenTypes {
		for i, id := range in.TypeIDs {
			if id < 0 || id >= int64(m.Config.TypeVocabSize) {
				return fmt.Errorf("%w: token type id %d at row %d is outside 0..%d", ErrShape, id, i/in.T, m.Config.TypeVocabSize-1)
			}
		}
	}
	return nil
}

// Loss is the mean cross-entropy of logits against labels [B], with the
// class weights and label smoothing of opt. The caller
// owns the returned scalar tensor.
func (m *Model) Loss(logits *ts.Tensor, labels []int64, opt LossOptions) (loss *ts.Tensor, err error) {
	for i, l := range labels {
		if l < 0 || l >= int64(m.Config.NumLabels()) {
			return nil, fmt.Errorf("%w: label %d of row %d is outside 0..%d", ErrShape, l, i, m.Config.NumLabels()-1)
		}
	}
	if n := len(opt.ClassWeights); n > 0 && n != m.Config.NumLabels() {
		return nil, fmt.Errorf("%w: %d class weights for %d labels", ErrShape, n, m.Config.NumLabels())
	}
	s := &scope{}
	defer s.free()
	defer catch(&err, "loss")
	y := s.t(ts.OfSlice(labels))
	if m.device != gotch.CPU {
		y = s.t(y.To(m.device, false))
	}
	// Under autocast the logits may be bf16: cross-entropy in fp32, as
	// autocast itself does.
	x := s.t(logits.Totype(gotch.Float, false))
	const none, mean, ignore = 0, 1, -100
	if len(opt.ClassWeights) == 0 {
		return s.keep(s.t(x.CrossEntropyLoss(y, ts.None, mean, ignore, opt.LabelSmoothing, false))), nil
	}
	w := make([]float32, len(opt.ClassWeights))
	for i, v := range opt.ClassWeights {
		w[i] = float32(v)
	}
	wt := s.t(ts.OfSlice(w))
	if m.device != gotch.CPU {
		wt = s.t(wt.To(m.device, false))
	}
	rows := s.t(x.CrossEntropyLoss(y, wt, none, ignore, opt.LabelSmoothing, false))
	return s.keep(s.t(rows.Mean(gotch.Float, false))), nil
}

// LossOptions change the training loss; the zero value is the plain mean
// cross-entropy. See Note [Class weights].
type LossOptions struct {
	// ClassWeights, one per label when set, weigh each row's loss by its
	// label's weight.
	ClassWeights []float64
	// LabelSmoothing in [0, 1) mixes the one-hot target with the uniform
	// distribution, as PyTorch's label_smoothing and HF's
	// label_smoothing_factor.
	LabelSmoothing float64
}

// Note [Class weights]: with class weights, a batch's loss is the mean of
// its rows' weighted losses, sum(w_y * l) / B, as PyTorch's
// cross_entropy(weight=w, reduction="none").mean() gives, not the weighted
// mean sum(w_y * l) / sum(w_y) of reduction="mean". So a row's gradient does
// not depend on which other rows share its batch, and N ranks each
// averaging B rows equal one process averaging N*B rows (the weighted mean
// would divide by a different sum on every rank). With balanced weights
// (n / (K * n_class)) a row's expected weight is 1, so the two differ by a
// per-batch factor near 1.

// forward holds the state of one forward pass.
type forward struct {
	m     *Model
	s     *scope
	train bool
	b, t  int64
}

func (f *forward) p(name string) *ts.Tensor { return f.m.tensor[name] }

func (f *forward) ints(v []int64) *ts.Tensor {
	x := f.s.t(ts.OfSlice(v))
	x = f.s.t(x.View([]int64{f.b, f.t}, false))
	if f.m.device != gotch.CPU {
		x = f.s.t(x.To(f.m.device, false))
	}
	return x
}

func (f *forward) linear(x *ts.Tensor, name string) *ts.Tensor {
	return f.s.t(ts.Linear(x, f.p(name+".weight"), f.p(name+".bias")))
}

func (f *forward) norm(x *ts.Tensor, name string) *ts.Tensor {
	c := &f.m.Config
	return f.s.t(ts.LayerNorm(x, []int64{int64(c.HiddenSize)}, f.p(name+".weight"), f.p(name+".bias"), c.LayerNormEps, true))
}

func (f *forward) dropout(x *ts.Tensor, p float64) *ts.Tensor {
	if !f.train || p == 0 {
		return x
	}
	return f.s.t(ts.Dropout(x, p, true))
}

func (f *forward) embed(name string, ids *ts.Tensor, padding int64) *ts.Tensor {
	sparse := f.m.sparseGrad && name == f.m.WordEmbeddings()
	return f.s.t(ts.Embedding(f.p(name), ids, padding, false, sparse))
}

func (f *forward) positions() *ts.Tensor {
	pos := f.s.t(ts.Arange(f.s.f(float64(f.t)), gotch.Int64, f.m.device))
	return f.s.t(pos.View([]int64{1, f.t}, false))
}

// maskBias turns the attention mask [B,T] (1 = token, 0 = padding) into
// the additive bias [B,1,1,T] HF uses: 0 for tokens, the most negative
// float32 for padding ((1 - mask) * finfo.min, computed as (mask - 1) * max).
func (f *forward) maskBias(mask *ts.Tensor) *ts.Tensor {
	m := f.s.t(mask.Totype(gotch.Float, false))
	m = f.s.t(m.AddScalar(f.s.f(-1), false))
	m = f.s.t(m.MulScalar(f.s.f(math.MaxFloat32), false))
	return f.s.t(m.View([]int64{f.b, 1, 1, f.t}, false))
}

// attention is multi-head self-attention, returning the context [B,T,H]
// before the output projection. scaleQuery scales q before the product
// (DistilBERT) instead of the scores after it (BERT): the same math,
// rounded as each HF model rounds it.
func (f *forward) attention(h, bias *ts.Tensor, q, k, v string, scaleQuery bool) *ts.Tensor {
	c := &f.m.Config
	nh, d := int64(c.NumHeads), int64(c.HeadDim())
	heads := func(x *ts.Tensor) *ts.Tensor { // [B,T,H] -> [B,nh,T,d]
		x = f.s.t(x.View([]int64{f.b, f.t, nh, d}, false))
		return f.s.t(x.Permute([]int64{0, 2, 1, 3}, false))
	}
	scale := f.s.f(1 / math.Sqrt(float64(d)))
	qh, kh, vh := heads(f.linear(h, q)), heads(f.linear(h, k)), heads(f.linear(h, v))
	if scaleQuery {
		qh = f.s.t(qh.MulScalar(scale, false))
	}
	scores := f.s.t(qh.Matmul(f.s.t(kh.Transpose(-1, -2, false)), false))
	if !scaleQuery {
		scores = f.s.t(scores.MulScalar(scale, false))
	}
	scores = f.s.t(scores.Add(bias, false))
	probs := f.s.t(scores.Softmax(-1, noType, false))
	probs = f.dropout(probs, c.AttentionDropout)
	ctx := f.s.t(probs.Matmul(vh, false))
	ctx = f.s.t(ctx.Permute([]int64{0, 2, 1, 3}, false))
	ctx = f.s.t(ctx.Contiguous(false))
	return f.s.t(ctx.View([]int64{f.b, f.t, nh * d}, false))
}

// head pools the sequence and applies the classification head.
func (f *forward) head(h, mask *ts.Tensor) *ts.Tensor {
	c := &f.m.Config
	var x *ts.Tensor
	if c.Pooling == PoolMean {
		x = f.meanPool(h, mask)
	} else {
		x = f.s.t(h.Select(1, 0, false))
	}
	return c.family().classify(f, x)
}

// meanPool averages the hidden states of the non-padding tokens.
func (f *forward) meanPool(h, mask *ts.Tensor) *ts.Tensor {
	m := f.s.t(mask.Totype(h.DType(), false))
	m3 := f.s.t(m.Unsqueeze(-1, false))
	sum := f.s.t(f.s.t(h.Mul(m3, false)).SumDimIntlist([]int64{1}, false, noType, false))
	n := f.s.t(m.SumDimIntlist([]int64{1}, true, noType, false))
	return f.s.t(sum.Div(n, false))
}

// ZeroGrad drops every parameter's gradient (sets it undefined, like
// PyTorch's zero_grad(set_to_none=True)), so the next backward writes fresh
// gradients instead of adding to old ones.
func (m *Model) ZeroGrad() error {
	for _, p := range m.params {
		if err := zeroGrad(m.tensor[p.Name]); err != nil {
			return fmt.Errorf("bert: zeroing the gradient of %s: %w", p.Name, err)
		}
	}
	return nil
}

func zeroGrad(t *ts.Tensor) error { return torchrt.ResetGrad(t) }
