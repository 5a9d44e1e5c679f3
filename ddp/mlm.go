package ddp

import (
	"context"
	"fmt"
	"log/slog"
	"math"

	"github.com/sugarme/gotch/ts"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/internal/torchrt"
	"github.com/ddprun/ddprun/shard"
)

// maskedLM is masked-LM pretraining's objective: the loaders mask the text
// (shard's Note [Masking]), the model is BertForMaskedLM or
// DistilBertForMaskedLM (bert's Note [Masked-LM head]) and the loss is the
// cross-entropy over the masked tokens of the global batch (Note
// [Masked-token normalisation]).
type maskedLM struct{ mask *shard.MaskConfig }

// Note [Masked-token normalisation]: HF's loss for a batch is the mean
// cross-entropy over its masked tokens, and PyTorch DDP averages each
// rank's mean: a step then weighs a token by 1/(its rank's masked count),
// which depends on how the global batch was cut into ranks and
// micro-batches. ddprun divides by the global batch's count instead: before
// the first forward pass of a step every rank adds up the masked tokens of
// its micro-batches and the ranks all-reduce the sum (one int64) into N.
// Each micro-batch's loss is its sum of cross-entropies times W/N (W ranks:
// the gradient all-reduce divides by W again), so the step's gradient is
// that of sum/N over the whole global batch, whatever W and the gradient
// accumulation are, and N ranks equal one process on the same global batch
// (TestMaskedLMEquivalence). The logged loss is the same sum/N. With one
// rank and one micro-batch this is HF's mean. A step without any masked
// token (tiny batches only) has weight 0: its gradients are zero rather than
// HF's NaN.

func (maskedLM) configure(c *bert.Config) {
	c.Task = bert.TaskMaskedLM
	c.Labels = nil
}

func (o maskedLM) masking() *shard.MaskConfig { return o.mask }

// weights: see Note [Masked-token normalisation].
func (maskedLM) weights(ctx context.Context, c collective.Comm, micro []*shard.Batch) ([]float64, error) {
	n := []int64{0}
	for _, b := range micro {
		n[0] += int64(maskedCount(b))
	}
	if c.Size() > 1 {
		if err := c.AllReduce(ctx, collective.Int64s(n), collective.Sum); err != nil {
			return nil, fmt.Errorf("counting the masked tokens of the global batch: %w", err)
		}
	}
	w := 0.0
	if n[0] > 0 {
		w = float64(c.Size()) / float64(n[0])
	}
	return repeat(w, len(micro)), nil
}

func maskedCount(b *shard.Batch) int {
	n := 0
	for _, t := range b.Targets {
		if t != shard.IgnoreIndex {
			n++
		}
	}
	return n
}

// loss is the sum of the cross-entropies over b's masked tokens.
func (maskedLM) loss(e *engine, b *shard.Batch) (*ts.Tensor, error) {
	if b.Targets == nil {
		return nil, fmt.Errorf("ddp: a masked-LM step got a batch without masked-LM targets")
	}
	pos, targets := b.MaskedPositions()
	logits, err := e.autocast(func() (*ts.Tensor, error) { return e.m.MaskedLM(input(b), pos, true) })
	if err != nil {
		return nil, err
	}
	defer logits.MustDrop()
	return e.m.MaskedLMLoss(logits, targets, 1)
}

// mlmCounts are the sums a masked-LM evaluation reduces over the ranks.
type mlmCounts struct {
	n, correct int64
	lossSum    float64
}

// evaluate reports the masked tokens' mean cross-entropy as Loss and the
// share predicted right as Accuracy (HF's eval_loss; perplexity is
// exp(Loss)), over the masked tokens of every row that is not a repeat.
func (maskedLM) evaluate(ctx context.Context, e *engine, ld *shard.Loader) (metrics.Summary, error) {
	prev := torchrt.SetGradEnabled(false)
	defer torchrt.SetGradEnabled(prev)
	var c mlmCounts
	for {
		b, err := ld.Next(ctx)
		if isEOF(err) {
			break
		}
		if err != nil {
			return metrics.Summary{}, err
		}
		if err := e.evalMasked(b, &c); err != nil {
			return metrics.Summary{}, err
		}
	}
	if e.comm.Size() > 1 {
		v := []int64{c.n, c.correct, int64(math.Round(c.lossSum * lossScale))}
		if err := e.comm.AllReduce(ctx, collective.Int64s(v), collective.Sum); err != nil {
			return metrics.Summary{}, fmt.Errorf("ddp: reducing evaluation counts: %w", err)
		}
		c = mlmCounts{n: v[0], correct: v[1], lossSum: float64(v[2]) / lossScale}
	}
	s := metrics.Summary{N: c.n}
	if c.n > 0 {
		s.Loss, s.Accuracy = c.lossSum/float64(c.n), float64(c.correct)/float64(c.n)
	}
	return s, nil
}

func (e *engine) evalMasked(b *shard.Batch, c *mlmCounts) error {
	pos, targets := b.MaskedPositions()
	if b.Repeated != nil { // sampler padding: scored by the rank that holds the original
		k := 0
		for i, p := range pos {
			if !b.Repeated[int(p)/b.T] {
				pos[k], targets[k] = p, targets[i]
				k++
			}
		}
		pos, targets = pos[:k], targets[:k]
	}
	if len(pos) == 0 {
		return nil
	}
	logits, err := e.autocast(func() (*ts.Tensor, error) { return e.m.MaskedLM(input(b), pos, false) })
	if err != nil {
		return err
	}
	defer logits.MustDrop()
	loss, err := e.m.MaskedLMLoss(logits, targets, 1)
	if err != nil {
		return err
	}
	sum, err := scalarValue(loss)
	loss.MustDrop()
	if err != nil {
		return err
	}
	correct, err := e.m.MaskedLMCorrect(logits, targets)
	if err != nil {
		return err
	}
	c.n += int64(len(pos))
	c.correct += correct
	c.lossSum += sum
	return nil
}

// maskedLM reports whether the run is masked-LM pretraining.
func (c *Config) maskedLM() bool { return c.Objective == ObjectiveMaskedLM }

// validateObjective checks the settings that depend on the objective: a
// masked LM has no labels, no classifier and dense word-embedding
// gradients (its output projection is the embedding matrix).
func (c *Config) validateObjective() error {
	bad := func(format string, a ...any) error { return fmt.Errorf("ddp: "+format, a...) }
	switch {
	case c.Objective != ObjectiveClassify && c.Objective != ObjectiveMaskedLM:
		return bad("objective %q: want classification (\"\") or %q", c.Objective, ObjectiveMaskedLM)
	case !c.maskedLM():
		return nil
	case !(c.MLMProbability > 0 && c.MLMProbability < 1):
		return bad("--mlm-probability %g: want 0 < p < 1", c.MLMProbability)
	case c.Test != "":
		return bad("pretraining has no test split: evaluate the pretrained model by fine-tuning it (ddprun train --model)")
	case c.FreezeBase || c.TrainOnly != "" || c.ClassWeights != "none" || c.LabelSmoothing != 0 || c.Baseline != "none":
		return bad("--freeze-base, --train-only, --class-weights, --label-smoothing and --baseline are a classifier's settings")
	case c.LazyEmbeddings:
		return bad("--lazy-embeddings: a masked LM's output projection is the word-embedding matrix, whose every row gets a gradient each step")
	case c.MetricForBest != "loss" && c.MetricForBest != "accuracy" && c.MetricForBest != "eval_loss" && c.MetricForBest != "eval_accuracy":
		return bad("--metric-for-best %q: a masked LM is evaluated by loss or accuracy (of the masked tokens)", c.MetricForBest)
	}
	return nil
}

// objectiveKey is the objective's part of the resume hash: nothing for a
// classifier, so that its checkpoints keep the hash they were written with.
func (c *Config) objectiveKey() []byte {
	if !c.maskedLM() {
		return nil
	}
	return fmt.Appendf(nil, "\nobjective=%s mlm_probability=%g", c.Objective, c.MLMProbability)
}

// loadUnlabelled reads the splits of a masked-LM run: the text only, no
// labels (the label map is empty).
func loadUnlabelled(ctx context.Context, c *Config, sc shard.Config, log *slog.Logger) (*splits, error) {
	sc.Read.NoLabel = true
	var s splits
	var err error
	if s.Train, err = shard.Load(ctx, c.Train, sc); err != nil {
		return nil, err
	}
	if c.Val != "" {
		if s.Val, err = shard.Load(ctx, c.Val, sc); err != nil {
			return nil, err
		}
	}
	if s.Labels, err = shard.NewLabelMap(nil); err != nil {
		return nil, err
	}
	log.Info("masked-LM data", "train_rows", s.Train.Len(), "train_tokens", s.Train.Stats().Tokens)
	return &s, nil
}
