package ddp

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/ddp/optim"
	"github.com/ddprun/ddprun/internal/flagtypes"
	"github.com/ddprun/ddprun/shard/truncation"
)

// Config is everything `ddprun train` takes. Flag names follow HF's
// TrainingArguments in kebab case where one exists.
type Config struct {
	// Data.
	Train, Val, Test                    string
	TextColumn, PairColumn, LabelColumn string
	Labels                              string // comma-separated label order; default: sorted train labels
	MaxLength                           int
	Truncation                          string // head|tail|head+tail[:H]: which tokens a longer text keeps
	GroupByLength                       bool
	DataWorkers                         int
	CacheDir                            string
	SkipEmpty                           bool

	// Model.
	Model                 string // HF model folder
	Preset                string // tiny|mini|small|base from scratch
	ModelType             string // with a preset: one of bert.ModelTypes()
	Pooling               string
	FreezeBase            bool
	TrainOnly             string
	IgnoreMismatchedSizes bool

	// Optimisation.
	Epochs          float64
	MaxSteps        int
	BatchSize       int
	EvalBatch       int
	GradAccum       int
	GlobalBatch     int // --global-batch-size: samples per optimizer step whatever the world size; 0: batch x ranks x accum
	LR              float64
	WeightDecay     float64
	Optimizer       string
	AdamBeta1       float64
	AdamBeta2       float64
	AdamEps         float64
	Momentum        float64
	WarmupSteps     int
	WarmupRatio     float64
	Scheduler       string
	MaxGradNorm     float64
	ClassWeights    string  // none|balanced|w0,w1,...
	LabelSmoothing  float64 // HF label_smoothing_factor
	Seed            int64
	Precision       string // fp32|bf16
	Wire            string // fp32|bf16; "" = bf16 with several ranks
	DenseEmbeddings bool
	Overlap         string // auto|on|off (Note [Overlap policy])
	Compress        string // none|powersgd:R[:S] (Note [PowerSGD])
	LazyEmbeddings  bool
	BucketCapMB     float64
	FirstBucketMB   float64
	Threads         int
	Device          string // auto|cpu|cuda|cuda:N (Note [Devices and backends])
	Backend         string // auto|ring|nccl|hccl
	OptimizerImpl   string // auto|host|flat (Note [Optimizer implementations])

	// Evaluation, checkpoints, outputs.
	EvalStrategy   string // auto|no|steps|epoch; see Note [Evaluation and saving]
	EvalSteps      int    // 0: 500
	SaveStrategy   string // auto|no|steps|epoch
	SaveSteps      int    // 0: 500, or as evaluation
	SaveTotalLimit int
	MetricForBest  string
	LoadBestAtEnd  bool
	Patience       int
	PatienceMin    float64 // early_stopping_threshold
	Resume         string  // auto|no|PATH
	Overwrite      bool    // --overwrite-output: a fresh run may replace an earlier run's outputs
	Output         string
	LogEvery       int
	SaveBF16       bool
	NoReport       bool
	Baseline       string // nb|none: fit a bag-of-words baseline beside the model
	JSON           bool
	Timeout        time.Duration
	Integrity      bool // --wire-integrity: authenticate every all-reduce message (ring)

	// Masked-LM pretraining (`ddprun pretrain`; objective.go, mlm.go).
	Objective      string  // ObjectiveClassify ("") or ObjectiveMaskedLM
	MLMProbability float64 // share of the eligible tokens masked (HF mlm_probability)
}

// DefaultConfig has HF's defaults where HF has one.
func DefaultConfig() Config {
	return Config{
		TextColumn: "text", LabelColumn: "label", MaxLength: 128, Truncation: "head",
		Preset: "", ModelType: bert.TypeBERT, Pooling: bert.PoolCLS,
		Epochs: 3, MaxSteps: -1, BatchSize: 16, GradAccum: 1, LR: 5e-5, Optimizer: "adamw",
		AdamBeta1: 0.9, AdamBeta2: 0.999, AdamEps: 1e-8, Scheduler: "linear", MaxGradNorm: 1.0, Seed: 42,
		Precision: flagtypes.DefaultPrecision, ClassWeights: "none", Baseline: "nb", Device: flagtypes.DefaultDevice, Backend: "auto", OptimizerImpl: flagtypes.DefaultOptimizerImpl, Overlap: "auto", Compress: "none", BucketCapMB: 25, FirstBucketMB: 1,
		EvalStrategy: "auto", SaveStrategy: "auto", MetricForBest: "loss", Resume: "auto", Output: "runs/ddprun", LogEvery: 10, Timeout: 5 * time.Minute,
	}
}

// Register binds the flags to c; the defaults are c's current values, but
// for the flags every command shares (internal/flagtypes), which have one
// default everywhere.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Train, "train", c.Train, "training data `FILE` (.csv, .tsv or .jsonl)")
	fs.StringVar(&c.Val, "val", c.Val, "validation data `FILE`, evaluated during training")
	fs.StringVar(&c.Test, "test", c.Test, "test data `FILE`, evaluated at the end on the best model")
	fs.StringVar(&c.TextColumn, "text-column", c.TextColumn, "column holding the text")
	fs.StringVar(&c.PairColumn, "text-pair-column", c.PairColumn, "optional column holding a second text (sentence pairs)")
	fs.StringVar(&c.LabelColumn, "label-column", c.LabelColumn, "column holding the label (integers 0..K-1 or names)")
	fs.StringVar(&c.Labels, "labels", c.Labels, "label names in id order, comma-separated (default: sorted training labels)")
	fs.IntVar(&c.MaxLength, "max-length", c.MaxLength, "truncate texts to this many tokens; batches are padded to their longest row")
	fs.StringVar(&c.Truncation, "truncation", c.Truncation, "which tokens a text longer than --max-length keeps: head (the first), tail (the last) or head+tail[:H] (the first H, default (max-length - 2)/4, and the last); in a pair, of each text cut. Recorded in the model folder for predict and eval")
	fs.BoolVar(&c.GroupByLength, "group-by-length", c.GroupByLength, "batch texts of similar length together (less padding), like HF group_by_length")
	fs.IntVar(&c.DataWorkers, "data-workers", c.DataWorkers, "tokenizer goroutines (0: all cores)")
	fs.StringVar(&c.CacheDir, "cache-dir", c.CacheDir, "token cache `DIR` (default: <output>/.cache)")
	fs.BoolVar(&c.SkipEmpty, "skip-empty", c.SkipEmpty, "skip rows with an empty text instead of failing")
	fs.StringVar(&c.Model, "model", c.Model, "HF model `DIR` to fine-tune (config.json + model.safetensors or pytorch_model.bin + vocab.txt)")
	fs.StringVar(&c.Preset, "preset", c.Preset, "train from scratch: micro|tiny|mini|small|base (bert-base-uncased vocabulary)")
	fs.StringVar(&c.ModelType, "model-type", c.ModelType, "with --preset: "+strings.Join(bert.ModelTypes(), "|"))
	fs.StringVar(&c.Pooling, "pooling", c.Pooling, "sequence summary for the classifier: cls|mean")
	fs.BoolVar(&c.FreezeBase, "freeze-base", c.FreezeBase, "train only the classification head")
	fs.StringVar(&c.TrainOnly, "train-only", c.TrainOnly, "train only parameters whose name matches this `REGEXP` (or: classifier)")
	fs.BoolVar(&c.IgnoreMismatchedSizes, "ignore-mismatched-sizes", c.IgnoreMismatchedSizes, "re-initialise a classifier head whose label count differs from the data's")
	fs.Float64Var(&c.Epochs, "epochs", c.Epochs, "training epochs (fractions allowed)")
	fs.IntVar(&c.MaxSteps, "max-steps", c.MaxSteps, "stop after this many optimizer steps (overrides --epochs when > 0)")
	fs.IntVar(&c.BatchSize, "batch-size", c.BatchSize, "rows per rank per micro-batch (global batch = batch size x ranks x grad accum)")
	fs.IntVar(&c.EvalBatch, "eval-batch-size", c.EvalBatch, "rows per rank per evaluation batch (0: 2 x batch size)")
	fs.IntVar(&c.GradAccum, "grad-accum", c.GradAccum, "micro-batches per optimizer step (gradients synced on the last only)")
	fs.IntVar(&c.GlobalBatch, "global-batch-size", c.GlobalBatch, "samples per optimizer step, kept when the world size changes (elastic jobs): --grad-accum becomes N / (batch size x ranks), which must divide")
	fs.Float64Var(&c.LR, "lr", c.LR, "peak learning rate")
	fs.Float64Var(&c.WeightDecay, "weight-decay", c.WeightDecay, "decoupled weight decay (not on biases and LayerNorm weights)")
	fs.StringVar(&c.Optimizer, "optimizer", c.Optimizer, "adamw|adam|sgd")
	fs.Float64Var(&c.AdamBeta1, "adam-beta1", c.AdamBeta1, "Adam beta1")
	fs.Float64Var(&c.AdamBeta2, "adam-beta2", c.AdamBeta2, "Adam beta2")
	fs.Float64Var(&c.AdamEps, "adam-epsilon", c.AdamEps, "Adam epsilon")
	fs.Float64Var(&c.Momentum, "momentum", c.Momentum, "SGD momentum")
	fs.IntVar(&c.WarmupSteps, "warmup-steps", c.WarmupSteps, "linear warmup steps")
	fs.Float64Var(&c.WarmupRatio, "warmup-ratio", c.WarmupRatio, "warmup as a fraction of all steps (when --warmup-steps is 0)")
	fs.StringVar(&c.Scheduler, "lr-scheduler", c.Scheduler, "learning-rate schedule after warmup: linear|cosine|constant")
	fs.Float64Var(&c.MaxGradNorm, "max-grad-norm", c.MaxGradNorm, "clip gradients to this global norm (0: off)")
	fs.StringVar(&c.ClassWeights, "class-weights", c.ClassWeights, "weigh the training loss by class: none, balanced (n / (classes x class count) over --train, as scikit-learn), or w0,w1,... in label order")
	fs.Float64Var(&c.LabelSmoothing, "label-smoothing", c.LabelSmoothing, "label smoothing factor in [0, 1) (HF label_smoothing_factor)")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "seed for initialisation, data order and dropout")
	flagtypes.PrecisionVar(fs, &c.Precision)
	fs.StringVar(&c.Wire, "wire", c.Wire, "gradient all-reduce precision on the wire: fp32|bf16 (default bf16 with several ranks)")
	fs.BoolVar(&c.LazyEmbeddings, "lazy-embeddings", c.LazyEmbeddings, "update only the word-embedding rows a step touched (LazyAdam: faster, not PyTorch's AdamW)")
	fs.StringVar(&c.Overlap, "overlap", c.Overlap, "all-reduce gradient buckets while backward runs: auto|on|off (auto: on when the job spans several machines)")
	fs.StringVar(&c.Compress, "compress", c.Compress, "compress the gradients for slow links: none, or powersgd:R[:S], PowerSGD of rank R (1-4 usual) as torch's powerSGD_hook, from step S on (default: when the learning-rate warmup ends); word-embedding rows stay sparse and exact")
	fs.BoolVar(&c.DenseEmbeddings, "dense-embeddings", c.DenseEmbeddings, "compute and all-reduce the word-embedding gradient as a dense matrix (PyTorch's default) instead of the rows a step touched")
	fs.Float64Var(&c.BucketCapMB, "bucket-cap-mb", c.BucketCapMB, "gradient bucket size in MiB")
	fs.Float64Var(&c.FirstBucketMB, "first-bucket-mb", c.FirstBucketMB, "first gradient bucket size in MiB")
	flagtypes.ThreadsVar(fs, &c.Threads)
	flagtypes.DeviceVar(fs, &c.Device)
	fs.StringVar(&c.Backend, "backend", c.Backend, "gradient all-reduce: auto|ring|nccl (auto: nccl on CUDA, the TCP ring on the CPU)")
	flagtypes.OptimizerImplVar(fs, &c.OptimizerImpl)
	fs.StringVar(&c.EvalStrategy, "eval-strategy", c.EvalStrategy, "evaluate on --val: auto|no|steps|epoch (auto: steps with --eval-steps, else epoch with --val, else no)")
	fs.IntVar(&c.EvalSteps, "eval-steps", c.EvalSteps, "evaluate every this many steps (implies --eval-strategy steps; 0: 500)")
	fs.StringVar(&c.SaveStrategy, "save-strategy", c.SaveStrategy, "checkpoint: auto|no|steps|epoch (auto: where evaluations happen with --load-best-at-end, else every --save-steps); a last checkpoint is always written at the end")
	fs.IntVar(&c.SaveSteps, "save-steps", c.SaveSteps, "checkpoint every this many steps (implies --save-strategy steps; 0: 500, or as --eval-steps)")
	fs.IntVar(&c.SaveTotalLimit, "save-total-limit", c.SaveTotalLimit, "keep this many recent checkpoints of this run, plus the best (0: all, as HF)")
	fs.StringVar(&c.MetricForBest, "metric-for-best", c.MetricForBest, "validation metric that picks the best checkpoint and drives early stopping: loss|accuracy|macro_f1 (ties keep the later step)")
	fs.BoolVar(&c.LoadBestAtEnd, "load-best-at-end", c.LoadBestAtEnd, "test and save the best checkpoint's model at the end instead of the last (HF load_best_model_at_end; needs --val)")
	fs.IntVar(&c.Patience, "early-stopping-patience", c.Patience, "stop after this many evaluations without improvement (0: off)")
	fs.Float64Var(&c.PatienceMin, "early-stopping-threshold", c.PatienceMin, "an evaluation improves on the best only by more than this (HF early_stopping_threshold)")
	fs.StringVar(&c.Resume, "resume", c.Resume, "auto (newest good checkpoint in --output), no, or a checkpoint `DIR`")
	fs.StringVar(&c.Output, "output", c.Output, "output `DIR`: checkpoints, final model, logs, report")
	fs.BoolVar(&c.Overwrite, "overwrite-output", c.Overwrite, "start over in an --output that holds an earlier run: its checkpoints, logs and results are deleted first (HF overwrite_output_dir)")
	fs.IntVar(&c.LogEvery, "log-every", c.LogEvery, "log training metrics every N steps")
	fs.BoolVar(&c.SaveBF16, "save-bf16", c.SaveBF16, "write the final model's weights in bf16")
	fs.BoolVar(&c.NoReport, "no-report", c.NoReport, "skip the HTML report")
	fs.StringVar(&c.Baseline, "baseline", c.Baseline, "nb: also fit a multinomial naive Bayes over word counts on --train (seconds) and show it beside the model; none: skip it")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print the result as JSON on stdout")
	fs.DurationVar(&c.Timeout, "collective-timeout", c.Timeout, "how long a rank waits for its peers before failing")
	fs.BoolVar(&c.Integrity, "wire-integrity", c.Integrity, "authenticate every gradient message between ranks (AES-GCM tags keyed from the job secret; the ring backend): without it only connections are authenticated, and someone on the path could alter the data")
}

// Validate checks the combination of settings.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error { return fmt.Errorf("ddp: "+format, a...) }
	switch {
	case c.Train == "":
		return bad("--train is required")
	case (c.Model == "") == (c.Preset == ""):
		return bad("give exactly one of --model DIR (fine-tune) and --preset micro|tiny|mini|small|base (from scratch)")
	case c.BatchSize < 1 || c.GradAccum < 1 || c.MaxLength < 2 || c.GlobalBatch < 0:
		return bad("--batch-size, --grad-accum must be >= 1, --max-length >= 2 and --global-batch-size >= 0")
	case c.GlobalBatch > 0 && c.GradAccum != 1:
		return bad("give --global-batch-size or --grad-accum, not both: the first derives the second from the world size")
	case c.Overwrite && c.Resume != "auto" && c.Resume != "no" && c.Resume != "":
		return bad("--overwrite-output starts over; it cannot resume from %s", c.Resume)
	case c.MaxSteps <= 0 && c.Epochs <= 0:
		return bad("--epochs or --max-steps must be positive")
	case c.Precision != "fp32" && c.Precision != "bf16":
		return bad("--precision %q: fp32 or bf16", c.Precision)
	case c.Wire != "" && c.Wire != "fp32" && c.Wire != "bf16":
		return bad("--wire %q: fp32 or bf16", c.Wire)
	case !oneOf(c.Overlap, "", "auto", "on", "off"):
		return bad("--overlap %q: auto, on or off", c.Overlap)
	case !oneOf(c.OptimizerImpl, "", "auto", "host", "flat"):
		return bad("--optimizer-impl %q: auto, host or flat", c.OptimizerImpl)
	case c.OptimizerImpl == "flat" && c.LazyEmbeddings:
		return bad("--lazy-embeddings needs --optimizer-impl host (sparse word-embedding gradients)")
	case !oneOf(c.EvalStrategy, "", "auto", "no", "steps", "epoch") || !oneOf(c.SaveStrategy, "", "auto", "no", "steps", "epoch"):
		return bad("--eval-strategy and --save-strategy take auto, no, steps or epoch")
	case c.evalStrategy() != "no" && c.Val == "":
		return bad("--eval-strategy %s needs --val (or use --eval-strategy no)", c.EvalStrategy)
	case c.LoadBestAtEnd && c.evalStrategy() == "no":
		return bad("--load-best-at-end needs evaluations to pick the best checkpoint: give --val (and not --eval-strategy no)")
	case c.Patience > 0 && c.evalStrategy() == "no":
		return bad("--early-stopping-patience needs evaluation (--val and --eval-strategy)")
	case c.Output == "":
		return bad("--output is required")
	case !oneOf(c.Baseline, "nb", "none"):
		return bad("--baseline %q: nb or none", c.Baseline)
	case c.LabelSmoothing < 0 || c.LabelSmoothing >= 1:
		return bad("--label-smoothing %g: want 0 <= factor < 1", c.LabelSmoothing)
	case c.EvalSteps < 0 || c.SaveSteps < 0 || c.LogEvery < 1 || c.PatienceMin < 0:
		return bad("--eval-steps and --save-steps must not be negative, --log-every >= 1, --early-stopping-threshold >= 0")
	}
	if _, _, err := parseClassWeights(c.ClassWeights); err != nil {
		return err
	}
	if _, err := ParseCompression(c.Compress); err != nil {
		return err
	}
	if _, _, err := (metrics.Summary{}).Metric(c.MetricForBest); err != nil {
		return bad("--metric-for-best: %w", err)
	}
	if ev, sv := c.evalStrategy(), c.saveStrategy(); c.LoadBestAtEnd && sv != "no" &&
		(sv != ev || ev == "steps" && c.saveSteps()%c.evalSteps() != 0) {
		return bad("--load-best-at-end needs checkpoints where evaluations happen: --save-strategy equal to --eval-strategy (%s), and --save-steps a multiple of --eval-steps", ev)
	}
	if c.LazyEmbeddings && c.DenseEmbeddings {
		return bad("--lazy-embeddings needs the sparse word-embedding gradients (drop --dense-embeddings)")
	}
	if _, err := c.truncation(); err != nil {
		return bad("--truncation: %w", err)
	}
	if err := (optim.Schedule{Kind: optim.ScheduleKind(c.Scheduler)}).Validate(); err != nil {
		return err
	}
	return c.validateObjective()
}

// Note [Evaluation and saving]: HF's semantics, resolved from the flags
// given. Evaluation: --eval-strategy auto evaluates on --val every
// --eval-steps when those were given, else at every epoch's end, and never
// without --val (HF's default is no evaluation; a user who gives --val wants
// it). Saving is independent of evaluation, as in HF: every --save-steps
// (500), plus a last checkpoint at the end, so a crash always leaves
// something to resume; only --load-best-at-end ties it to evaluation (the
// best must have a checkpoint), which it is off by default, as in HF. The
// best checkpoint is picked by --metric-for-best, validation loss by default
// (HF's choice too): accuracy stays flat while a model on imbalanced data
// still learns. Where ddprun differs from HF: ties keep the later step (HF
// keeps the earlier), and early stopping needs evaluation but not
// --load-best-at-end.

// defaultSteps is HF's eval_steps and save_steps.
const defaultSteps = 500

// evalStrategy is the --eval-strategy in effect. See Note [Evaluation and saving].
func (c *Config) evalStrategy() string {
	switch {
	case c.EvalStrategy != "" && c.EvalStrategy != "auto":
		return c.EvalStrategy
	case c.Val == "":
		return "no"
	case c.EvalSteps > 0:
		return "steps"
	}
	return "epoch"
}

func (c *Config) evalSteps() int {
	if c.EvalSteps > 0 {
		return c.EvalSteps
	}
	return defaultSteps
}

// saveStrategy is the --save-strategy in effect. See Note [Evaluation and saving].
func (c *Config) saveStrategy() string {
	switch {
	case c.SaveStrategy != "" && c.SaveStrategy != "auto":
		return c.SaveStrategy
	case c.LoadBestAtEnd && c.SaveSteps == 0:
		return c.evalStrategy()
	}
	return "steps"
}

func (c *Config) saveSteps() int {
	switch {
	case c.SaveSteps > 0:
		return c.SaveSteps
	case c.saveStrategy() == "steps" && c.evalStrategy() == "steps" && c.LoadBestAtEnd:
		return c.evalSteps()
	}
	return defaultSteps
}

// gradAccum is the number of micro-batches per optimizer step on world
// ranks: --grad-accum, or what --global-batch-size leaves for it.
func (c *Config) gradAccum(world int) (int, error) {
	if c.GlobalBatch == 0 {
		return c.GradAccum, nil
	}
	per := c.BatchSize * world
	if c.GlobalBatch%per != 0 {
		return 0, fmt.Errorf("ddp: --global-batch-size %d is not a multiple of --batch-size %d x %d ranks = %d: choose a global batch that every world size of the job divides, or another --batch-size",
			c.GlobalBatch, c.BatchSize, world, per)
	}
	return c.GlobalBatch / per, nil
}

func (c *Config) evalBatch() int {
	if c.EvalBatch > 0 {
		return c.EvalBatch
	}
	return 2 * c.BatchSize
}

func oneOf(s string, opts ...string) bool {
	for _, o := range opts {
		if s == o {
			return true
		}
	}
	return false
}

// truncation parses --truncation; "" is head.
func (c *Config) truncation() (truncation.Mode, error) {
	return truncation.Parse(cmp.Or(c.Truncation, "head"), c.MaxLength)
}

// hash identifies the settings that must not change across a resume. The
// truncation counts when it is not head, so that runs from before
// --truncation existed keep their hash.
func (c *Config) hash() string {
	var trunc string
	if m, err := c.truncation(); err == nil && m.Side != truncation.Head {
		trunc = m.String()
	}
	accum := c.GradAccum
	if c.GlobalBatch > 0 {
		accum = 0 // derived from the world size, which may change across a resume
	}
	key := struct {
		Train, Model, Preset, ModelType, Pooling, Labels, Text, Pair, Label string
		MaxLength, Batch, Accum                                             int
		Seed                                                                int64
		Truncation                                                          string `json:",omitempty"`
		GlobalBatch                                                         int    `json:",omitempty"`
	}{c.Train, c.Model, c.Preset, c.ModelType, c.Pooling, c.Labels, c.TextColumn, c.PairColumn, c.LabelColumn, c.MaxLength, c.BatchSize, accum, c.Seed, trunc, c.GlobalBatch}
	b, _ := json.Marshal(key)
	s := sha256.Sum256(append(b, c.objectiveKey()...))
	return hex.EncodeToString(s[:8])
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
