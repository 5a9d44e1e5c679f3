package ddp

import (
	"context"
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/internal/torchrt"
	"github.com/ddprun/ddprun/shard"
)

// objective is what training minimises and evaluation measures: the seam
// between the one trainer (buckets, all-reduce, optimizer, schedule,
// checkpoints, resume, metrics) and the head on the encoder. classify is a
// sequence classifier's cross-entropy (`ddprun train`); maskedLM is
// masked-LM pretraining's (`ddprun pretrain`, mlm.go). Methods that touch
// tensors run on the compute thread.
type objective interface {
	// configure sets the model configuration's task, and what the task
	// implies, before the model is built or loaded.
	configure(c *bert.Config)
	// masking is the loaders' masking (nil: none).
	masking() *shard.MaskConfig
	// weights is called on every rank once per step, before the first
	// forward pass, with this rank's micro-batches. It returns the factor
	// each micro-batch's loss is multiplied by, so that the gradients add
	// up to the step's gradient once the all-reduce has averaged them over
	// the ranks, and the weighted losses, averaged over the ranks, to the
	// step's loss. It may agree on a normaliser with the other ranks.
	weights(ctx context.Context, c collective.Comm, micro []*shard.Batch) ([]float64, error)
	// loss runs micro-batch b forward with dropout and returns its loss,
	// a scalar tensor the caller owns.
	loss(e *engine, b *shard.Batch) (*ts.Tensor, error)
	// evaluate runs the model over ld's epoch on every rank, without
	// dropout or gradients, and returns the metrics of the whole split,
	// reduced exactly over the ranks.
	evaluate(ctx context.Context, e *engine, ld *shard.Loader) (metrics.Summary, error)
}

// Objectives, as Config.Objective names them.
const (
	ObjectiveClassify = ""    // a sequence classifier (ddprun train)
	ObjectiveMaskedLM = "mlm" // masked-LM pretraining (ddprun pretrain)
)

// newObjective is the objective cfg asks for; tok gives the masking its
// special tokens.
func newObjective(cfg *Config, tok Tokenizer) (objective, error) {
	if cfg.Objective != ObjectiveMaskedLM {
		return classify{}, nil
	}
	if tok.MASK() < 0 {
		return nil, fmt.Errorf("ddp: masked-LM pretraining needs a [MASK] token, and the vocabulary has none")
	}
	return maskedLM{mask: &shard.MaskConfig{
		Prob: cfg.MLMProbability, MaskID: int64(tok.MASK()), VocabSize: tok.VocabSize(), Seed: uint64(cfg.Seed),
		Special: int64s(tok.SpecialIDs()),
	}}, nil
}

func int64s(v []int32) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// classify is the sequence classifier's objective: the mean cross-entropy
// of each micro-batch (with the engine's class weights and label
// smoothing), averaged over the micro-batches.
type classify struct{}

func (classify) configure(*bert.Config) {}

func (classify) masking() *shard.MaskConfig { return nil }

func (classify) weights(_ context.Context, _ collective.Comm, micro []*shard.Batch) ([]float64, error) {
	return repeat(1/float64(len(micro)), len(micro)), nil
}

func (classify) loss(e *engine, b *shard.Batch) (*ts.Tensor, error) {
	logits, err := e.forward(b, true)
	if err != nil {
		return nil, err
	}
	defer logits.MustDrop()
	return e.m.Loss(logits, b.Labels, e.loss)
}

func (classify) evaluate(ctx context.Context, e *engine, ld *shard.Loader) (metrics.Summary, error) {
	counts := metrics.NewCounts(e.m.Config.NumLabels())
	if err := e.evaluate(ctx, ld, counts, nil); err != nil {
		return metrics.Summary{}, err
	}
	if err := reduceCounts(ctx, e.comm, counts); err != nil {
		return metrics.Summary{}, err
	}
	return counts.Summary(e.m.Config.Labels), nil
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// autocast runs f under bf16 autocast when the engine trains in bf16, as
// engine.forward does for the classifier.
func (e *engine) autocast(f func() (*ts.Tensor, error)) (*ts.Tensor, error) {
	if e.bf16 {
		cuda := e.m.Device().IsCuda()
		if err := torchrt.Autocast(true, cuda); err != nil {
			return nil, err
		}
		defer torchrt.Autocast(false, cuda)
	}
	return f()
}
