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
	"github.com/ddprun/ddprun/ddp/optim"
	"github.com/ddprun/ddprun/truncation"
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
	ModelType             string // bert|distilbert for presets
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
	Seed            int64
	Precision       string // fp32|bf16
	Wire            string // fp32|bf16; "" = bf16 with several ranks
	DenseEmbeddings bool
	Overlap         string // auto|on|off (Note [Overlap policy])
	LazyEmbeddings  bool
	BucketCapMB     float64
	FirstBucketMB   float64
	Threads         int
	Device          string // auto|cpu|cuda|cuda:N (Note [Devices and backends])
	Backend         string // auto|ring|nccl|hccl
	OptimizerImpl   string // auto|host|flat (Note [Optimizer implementations])

	// Evaluation, checkpoints, outputs.
	EvalStrategy   string // no|steps|epoch
	EvalSteps      int
	SaveStrategy   string // no|steps|epoch; "" = as eval
	SaveSteps      int
	SaveTotalLimit int
	MetricForBest  string
	LoadBestAtEnd  bool
	Patience       int
	Resume         string // auto|no|PATH
	Overwrite      bool   // --overwrite-output: a fresh run may replace an earlier run's outputs
	Output         string
	LogEvery       int
	SaveBF16       bool
	NoReport       bool
	JSON           bool
	Timeout        time.Duration
}

// DefaultConfig has HF's defaults where HF has one.
func DefaultConfig() Config {
	return Config{
		TextColumn: "text", LabelColumn: "label", MaxLength: 128, Truncation: "head",
		Preset: "", ModelType: bert.TypeBERT, Pooling: bert.PoolCLS,
		Epochs: 3, MaxSteps: -1, BatchSize: 16, GradAccum: 1, LR: 5e-5, Optimizer: "adamw",
		AdamBeta1: 0.9, AdamBeta2: 0.999, AdamEps: 1e-8, Scheduler: "linear", MaxGradNorm: 1.0, Seed: 42,
		Precision: "fp32", Device: "auto", Backend: "auto", OptimizerImpl: "auto", Overlap: "auto", BucketCapMB: 25, FirstBucketMB: 1,
		EvalStrategy: "epoch", EvalSteps: 500, SaveSteps: 500, SaveTotalLimit: 2, MetricForBest: "accuracy",
		LoadBestAtEnd: true, Resume: "auto", Output: "runs/ddprun", LogEvery: 10, Timeout: 5 * time.Minute,
	}
}

// Register binds the flags to c; the defaults are c's current values.
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
	fs.StringVar(&c.ModelType, "model-type", c.ModelType, "with --preset: bert|distilbert")
	fs.StringVar(&c.Pooling, "pooling", c.Pooling, "sequence summary for the classifier: cls|mean")
	fs.BoolVar(&c.FreezeBase, "freeze-base", c.FreezeBase, "train only the classification head")
	fs.StringVar(&c.TrainOnly, "train-only", c.TrainOnly, "train only parameters whose name matches this `REGEXP` (or: classifier)")
	fs.BoolVar(&c.IgnoreMismatchedSizes, "ignore-mismatched-sizes", c.IgnoreMismatchedSizes, "re-initialise a classifier head whose label count differs from the data's")
	fs.Float64Var(&c.Epochs, "epochs", c.Epochs, "training epochs (fractions allowed)")
	fs.IntVar(&c.MaxSteps, "max-steps", c.MaxSteps, "stop after this many optimizer steps (overrides --epochs when > 0)")
	fs.IntVar(&c.BatchSize, "batch-size", c.BatchSize, "rows per rank per micro-batch (global batch = batch size x ranks x grad accum)")
	fs.IntVar(&c.EvalBatch, "eval-batch-size", c.EvalBatch, "rows per rank per evaluation batch (0: 2 x batch size)")
	fs.IntVar(&c.GradAccum, "grad-accum", c.GradAccum, "micro-batches per optimizer step (gradients synced on the last only)")
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
	fs.Int64Var(&c.Seed, "seed", c.Seed, "seed for initialisation, data order and dropout")
	fs.StringVar(&c.Precision, "precision", c.Precision, "fp32, or bf16 mixed precision (bf16 compute, fp32 weights and optimizer)")
	fs.StringVar(&c.Wire, "wire", c.Wire, "gradient all-reduce precision on the wire: fp32|bf16 (default bf16 with several ranks)")
	fs.BoolVar(&c.LazyEmbeddings, "lazy-embeddings", c.LazyEmbeddings, "update only the word-embedding rows a step touched (LazyAdam: faster, not PyTorch's AdamW)")
	fs.StringVar(&c.Overlap, "overlap", c.Overlap, "all-reduce gradient buckets while backward runs: auto|on|off (auto: on when the job spans several machines)")
	fs.BoolVar(&c.DenseEmbeddings, "dense-embeddings", c.DenseEmbeddings, "compute and all-reduce the word-embedding gradient as a dense matrix (PyTorch's default) instead of the rows a step touched")
	fs.Float64Var(&c.BucketCapMB, "bucket-cap-mb", c.BucketCapMB, "gradient bucket size in MiB")
	fs.Float64Var(&c.FirstBucketMB, "first-bucket-mb", c.FirstBucketMB, "first gradient bucket size in MiB")
	fs.IntVar(&c.Threads, "threads", c.Threads, "libtorch threads per rank (0: cores / ranks on this machine)")
	fs.StringVar(&c.Device, "device", c.Device, "where the model trains: auto|cpu|cuda|cuda:N (auto: the launcher's GPU, else cuda:LOCAL_RANK when CUDA is visible, else cpu)")
	fs.StringVar(&c.Backend, "backend", c.Backend, "gradient all-reduce: auto|ring|nccl (auto: nccl on CUDA, the TCP ring on the CPU)")
	fs.StringVar(&c.OptimizerImpl, "optimizer-impl", c.OptimizerImpl, "auto|host|flat: fused C kernel per parameter on host memory, or libtorch ops per flat bucket on any device (auto: host on the CPU, flat on CUDA)")
	fs.StringVar(&c.EvalStrategy, "eval-strategy", c.EvalStrategy, "evaluate on --val: no|steps|epoch")
	fs.IntVar(&c.EvalSteps, "eval-steps", c.EvalSteps, "with --eval-strategy steps: every this many steps")
	fs.StringVar(&c.SaveStrategy, "save-strategy", c.SaveStrategy, "checkpoint: no|steps|epoch (default: as --eval-strategy)")
	fs.IntVar(&c.SaveSteps, "save-steps", c.SaveSteps, "with --save-strategy steps: every this many steps")
	fs.IntVar(&c.SaveTotalLimit, "save-total-limit", c.SaveTotalLimit, "keep this many recent checkpoints, plus the best (0: all)")
	fs.StringVar(&c.MetricForBest, "metric-for-best", c.MetricForBest, "validation metric that picks the best checkpoint: accuracy|macro_f1|loss")
	fs.BoolVar(&c.LoadBestAtEnd, "load-best-at-end", c.LoadBestAtEnd, "test and save the best checkpoint's model at the end (HF load_best_model_at_end)")
	fs.IntVar(&c.Patience, "early-stopping-patience", c.Patience, "stop after this many evaluations without improvement (0: off)")
	fs.StringVar(&c.Resume, "resume", c.Resume, "auto (newest good checkpoint in --output), no, or a checkpoint `DIR`")
	fs.StringVar(&c.Output, "output", c.Output, "output `DIR`: checkpoints, final model, logs, report")
	fs.BoolVar(&c.Overwrite, "overwrite-output", c.Overwrite, "start over in an --output that holds an earlier run: its checkpoints, logs and results are deleted first (HF overwrite_output_dir)")
	fs.IntVar(&c.LogEvery, "log-every", c.LogEvery, "log training metrics every N steps")
	fs.BoolVar(&c.SaveBF16, "save-bf16", c.SaveBF16, "write the final model's weights in bf16")
	fs.BoolVar(&c.NoReport, "no-report", c.NoReport, "skip the HTML report")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print the result as JSON on stdout")
	fs.DurationVar(&c.Timeout, "collective-timeout", c.Timeout, "how long a rank waits for its peers before failing")
}

// Validate checks the combination of settings.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error { return fmt.Errorf("ddp: "+format, a...) }
	switch {
	case c.Train == "":
		return bad("--train is required")
	case (c.Model == "") == (c.Preset == ""):
		return bad("give exactly one of --model DIR (fine-tune) and --preset micro|tiny|mini|small|base (from scratch)")
	case c.BatchSize < 1 || c.GradAccum < 1 || c.MaxLength < 2:
		return bad("--batch-size, --grad-accum must be >= 1 and --max-length >= 2")
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
	case !oneOf(c.EvalStrategy, "no", "steps", "epoch") || (c.SaveStrategy != "" && !oneOf(c.SaveStrategy, "no", "steps", "epoch")):
		return bad("--eval-strategy and --save-strategy take no, steps or epoch")
	case c.EvalStrategy != "no" && c.Val == "":
		return bad("--eval-strategy %s needs --val (or use --eval-strategy no)", c.EvalStrategy)
	case c.Patience > 0 && c.EvalStrategy == "no":
		return bad("--early-stopping-patience needs evaluation (--val and --eval-strategy)")
	case c.Output == "":
		return bad("--output is required")
	case c.EvalSteps < 1 || c.SaveSteps < 1 || c.LogEvery < 1:
		return bad("--eval-steps, --save-steps and --log-every must be >= 1")
	}
	if c.LoadBestAtEnd && c.EvalStrategy != "no" && c.saveStrategy() != "no" &&
		(c.saveStrategy() != c.EvalStrategy || c.EvalStrategy == "steps" && c.SaveSteps%c.EvalSteps != 0) {
		return bad("--load-best-at-end needs checkpoints where evaluations happen: --save-strategy equal to --eval-strategy (%s), and --save-steps a multiple of --eval-steps", c.EvalStrategy)
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
	return nil
}

func (c *Config) saveStrategy() string {
	if c.SaveStrategy == "" {
		return c.EvalStrategy
	}
	return c.SaveStrategy
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
	key := struct {
		Train, Model, Preset, ModelType, Pooling, Labels, Text, Pair, Label string
		MaxLength, Batch, Accum                                             int
		Seed                                                                int64
		Truncation                                                          string `json:",omitempty"`
	}{c.Train, c.Model, c.Preset, c.ModelType, c.Pooling, c.Labels, c.TextColumn, c.PairColumn, c.LabelColumn, c.MaxLength, c.BatchSize, c.GradAccum, c.Seed, trunc}
	b, _ := json.Marshal(key)
	s := sha256.Sum256(b)
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
