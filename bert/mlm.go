package bert

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Note [Masked-LM head]: a model with Task TaskMaskedLM is HF's
// BertForMaskedLM or DistilBertForMaskedLM: the encoder (no pooler), then
// per position a dense layer, GELU and a LayerNorm, and an output
// projection onto the vocabulary whose weight is the word-embedding matrix
// itself (tie_word_embeddings) plus a bias of its own:
//
//	BERT:       cls.predictions.transform.dense -> gelu -> cls.predictions.transform.LayerNorm
//	            -> x @ bert.embeddings.word_embeddings.weight^T + cls.predictions.bias
//	DistilBERT: vocab_transform -> gelu -> vocab_layer_norm
//	            -> x @ distilbert.embeddings.word_embeddings.weight^T + vocab_projector.bias
//
// The tie is one tensor used twice, so backward adds the decoder's gradient
// to the embedding lookup's in the one .grad, as PyTorch does for a shared
// Parameter. HF's state dict names the tied tensors twice more
// (cls.predictions.decoder.weight and .bias; vocab_projector.weight); HF
// leaves those aliases out of model.safetensors, and so does Save.
// pytorch_model.bin files carry them: LoadState accepts them when they equal
// the tensors they alias and lists them in LoadReport.Tied.
//
// Under bf16 autocast the transform's LayerNorm gets its input in float32,
// as autocast does from PyTorch 2.0 on (layer_norm is on its CPU float32
// list): libtorch 1.13's CPU autocast would pass the bf16 activation on
// and fail, "expected scalar type BFloat16 but found Float". The encoder's
// LayerNorms never see that case: each adds a float32 residual first.
//
// MaskedLM applies the head to the masked positions only: the loss is the
// same as HF's (which computes the head at every position and ignores the
// others, label -100), and the vocabulary-sized matrix product, the largest
// of a small model's step, shrinks by the masking rate.

// IsMaskedLMHead reports whether a parameter name belongs to a masked-LM
// head (Note [Masked-LM head]).
func IsMaskedLMHead(name string) bool { return maskedLMRE().MatchString(name) }

// maskedLMNames are a masked-LM head's parameter names: the transform's
// dense layer, its LayerNorm, and the output bias.
type maskedLMNames struct{ dense, norm, bias string }

// MaskedLM computes the masked-LM logits [len(pos), vocab] at the positions
// pos of a batch, flat indices row*T + column (row-major, as Input's
// slices), in the order given: HF's BertForMaskedLM or
// DistilBertForMaskedLM prediction scores at those positions (Note
// [Masked-LM head]). With train true, dropout is active. The caller owns
// the returned tensor.
func (m *Model) MaskedLM(in Input, pos []int64, train bool) (logits *ts.Tensor, err error) {
	if !m.Config.MaskedLM() {
		return nil, fmt.Errorf("bert: MaskedLM: the model is a classifier (Task %q)", m.Config.Task)
	}
	if err := m.checkInput(in); err != nil {
		return nil, err
	}
	for _, p := range pos {
		if p < 0 || p >= int64(in.B*in.T) {
			return nil, fmt.Errorf("%w: masked position %d is outside the %d x %d batch", ErrShape, p, in.B, in.T)
		}
	}
	s := &scope{}
	defer s.free()
	defer catch(&err, "masked-LM forward")
	f := forward{m: m, s: s, train: train, b: int64(in.B), t: int64(in.T)}
	h, _ := f.encode(in)
	h = s.t(h.View([]int64{f.b * f.t, int64(m.Config.HiddenSize)}, false))
	idx := s.t(ts.OfSlice(pos))
	if m.device != gotch.CPU {
		idx = s.t(idx.To(m.device, false))
	}
	return s.keep(f.maskedLMHead(s.t(h.IndexSelect(0, idx, false)))), nil
}

// maskedLMHead maps hidden states [N,H] to vocabulary logits [N,V].
func (f *forward) maskedLMHead(x *ts.Tensor) *ts.Tensor {
	n := f.m.Config.family().maskedLM
	x = f.s.t(f.linear(x, n.dense).Gelu("none", false))
	if x.DType() != gotch.Float { // bf16 under autocast: see Note [Masked-LM head]
		x = f.s.t(x.Totype(gotch.Float, false))
	}
	x = f.norm(x, n.norm)
	return f.s.t(ts.Linear(x, f.p(f.m.WordEmbeddings()), f.p(n.bias)))
}

// MaskedLMLoss is the cross-entropy of masked-LM logits [N, vocab] against
// the original tokens labels [N], summed over the N positions and
// multiplied by scale: 1/N gives HF's mean (CrossEntropyLoss with
// ignore_index -100 over the masked positions); a trainer that normalises
// by a count over several batches or ranks passes its own. N = 0 gives 0.
// The caller owns the returned scalar tensor.
func (m *Model) MaskedLMLoss(logits *ts.Tensor, labels []int64, scale float64) (loss *ts.Tensor, err error) {
	if err := m.checkTargets(logits, labels); err != nil {
		return nil, err
	}
	s := &scope{}
	defer s.free()
	defer catch(&err, "masked-LM loss")
	y := s.t(ts.OfSlice(labels))
	if m.device != gotch.CPU {
		y = s.t(y.To(m.device, false))
	}
	// Under autocast the logits are bf16: cross-entropy in fp32, as autocast does.
	x := s.t(logits.Totype(gotch.Float, false))
	const sum, ignore = 2, -100
	l := s.t(x.CrossEntropyLoss(y, ts.None, sum, ignore, 0, false))
	return s.keep(s.t(l.MulScalar(s.f(scale), false))), nil
}

// MaskedLMCorrect counts the rows of logits [N, vocab] whose largest logit
// is at labels[i] (the masked-token accuracy's numerator).
func (m *Model) MaskedLMCorrect(logits *ts.Tensor, labels []int64) (n int64, err error) {
	if err := m.checkTargets(logits, labels); err != nil || len(labels) == 0 {
		return 0, err
	}
	s := &scope{}
	defer s.free()
	defer catch(&err, "masked-LM accuracy")
	y := s.t(ts.OfSlice(labels))
	if m.device != gotch.CPU {
		y = s.t(y.To(m.device, false))
	}
	pred := s.t(logits.Argmax([]int64{1}, false, false))
	hits := s.t(s.t(pred.EqTensor(y, false)).Sum(gotch.Int64, false))
	if m.device != gotch.CPU {
		hits = s.t(hits.To(gotch.CPU, false))
	}
	v := []int64{0}
	if err := copyOut(hits, v); err != nil {
		return 0, err
	}
	return v[0], nil
}

func (m *Model) checkTargets(logits *ts.Tensor, labels []int64) error {
	shape, err := logits.Size()
	if err != nil {
		return err
	}
	if len(shape) != 2 || shape[0] != int64(len(labels)) {
		return fmt.Errorf("%w: %d masked-LM labels for logits of shape %v", ErrShape, len(labels), shape)
	}
	for i, l := range labels {
		if l < 0 || l >= shape[1] {
			return fmt.Errorf("%w: masked-LM label %d at position %d is outside the vocabulary of %d", ErrShape, l, i, shape[1])
		}
	}
	return nil
}
