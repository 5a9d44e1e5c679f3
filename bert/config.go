package bert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ddprun/ddprun/internal/atomicfile"
)

// Pooling selects the sequence summary the classifier head sees.
const (
	PoolCLS  = "cls"  // the [CLS] token (HF's default; through the pooler for BERT)
	PoolMean = "mean" // the mean of the non-padding tokens' last hidden states
)

// Tasks: which head sits on the encoder. The zero value is TaskClassify.
const (
	TaskClassify = ""          // BertForSequenceClassification, DistilBertForSequenceClassification
	TaskMaskedLM = "masked-lm" // BertForMaskedLM, DistilBertForMaskedLM (see Note [Masked-LM head])
)

// Config is a model configuration, read from and written to HuggingFace's
// config.json for BertForSequenceClassification and
// DistilBertForSequenceClassification (or, with Task TaskMaskedLM,
// BertForMaskedLM and DistilBertForMaskedLM). Field names are BERT's;
// DistilBERT's config.json names (dim, n_layers, ...) map onto the same
// fields.
//
// A config.json does not choose the task: as with HF's Auto classes, the
// caller does (LoadPretrained's adjust), so a pretrained masked LM's folder
// loads as a classifier and the other way round.
type Config struct {
	ModelType             string
	Task                  string // TaskClassify or TaskMaskedLM
	VocabSize             int
	HiddenSize            int
	NumLayers             int
	NumHeads              int
	IntermediateSize      int
	MaxPositions          int
	TypeVocabSize         int // 0 for DistilBERT: no token type embeddings
	LayerNormEps          float64
	HiddenDropout         float64
	AttentionDropout      float64
	ClassifierDropout     float64 // BERT: classifier_dropout (null = hidden dropout); DistilBERT: seq_classif_dropout
	InitializerRange      float64
	PadTokenID            int
	HiddenAct             string
	ProblemType           string
	Labels                []string // id -> label name; len = num_labels (classifiers only)
	Pooling               string   // PoolCLS or PoolMean (ddprun's key "ddprun_pooling")
	extra                 map[string]json.RawMessage
	classifierDropoutNull bool
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("bert: bad config")

// Presets are the named model sizes for training from scratch.
var Presets = map[string]Config{
	"micro": {NumLayers: 2, HiddenSize: 32, NumHeads: 2, IntermediateSize: 64}, // tests and smoke runs
	"tiny":  {NumLayers: 2, HiddenSize: 128, NumHeads: 2, IntermediateSize: 512},
	"mini":  {NumLayers: 4, HiddenSize: 256, NumHeads: 4, IntermediateSize: 1024},
	"small": {NumLayers: 4, HiddenSize: 512, NumHeads: 8, IntermediateSize: 2048},
	"base":  {NumLayers: 12, HiddenSize: 768, NumHeads: 12, IntermediateSize: 3072},
}

// Preset returns the named BERT preset with HF's bert-base defaults for
// everything else, for vocabSize tokens and the given labels (nil: HF's
// default two, LABEL_0 and LABEL_1, which a masked LM drops).
func Preset(name string, vocabSize int, labels []string) (Config, error) {
	p, ok := Presets[name]
	if !ok {
		return Config{}, fmt.Errorf("%w: unknown preset %q (have micro, tiny, mini, small, base)", ErrConfig, name)
	}
	c := DefaultConfig()
	c.NumLayers, c.HiddenSize, c.NumHeads, c.IntermediateSize = p.NumLayers, p.HiddenSize, p.NumHeads, p.IntermediateSize
	c.VocabSize = vocabSize
	if labels != nil {
		c.Labels = slices.Clone(labels)
	}
	return c, c.Validate()
}

// DefaultConfig is bert-base-uncased's configuration with two labels.
func DefaultConfig() Config {
	return Config{
		ModelType: TypeBERT, VocabSize: 30522, HiddenSize: 768, NumLayers: 12, NumHeads: 12,
		IntermediateSize: 3072, MaxPositions: 512, TypeVocabSize: 2, LayerNormEps: 1e-12,
		HiddenDropout: 0.1, AttentionDropout: 0.1, ClassifierDropout: 0.1, classifierDropoutNull: true,
		InitializerRange: 0.02, HiddenAct: "gelu", ProblemType: "single_label_classification",
		Labels: []string{"LABEL_0", "LABEL_1"}, Pooling: PoolCLS,
	}
}

// NumLabels is the classifier's output size.
func (c *Config) NumLabels() int { return len(c.Labels) }

// MaskedLM reports whether the model is a masked LM (Task TaskMaskedLM).
func (c *Config) MaskedLM() bool { return c.Task == TaskMaskedLM }

// HeadDim is the size of one attention head.
func (c *Config) HeadDim() int { return c.HiddenSize / c.NumHeads }

// Validate checks the sizes fit together.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	switch {
	case families[c.ModelType] == nil:
		return bad("model_type %q is not supported (%s)", c.ModelType, supported())
	case c.Task != TaskClassify && c.Task != TaskMaskedLM:
		return bad("task %q is not supported (classification, %s)", c.Task, TaskMaskedLM)
	case c.MaskedLM() && c.untiedEmbeddings():
		return bad("tie_word_embeddings false: ddprun's masked-LM head always uses the word embeddings as its output projection")
	case c.VocabSize <= 0 || c.HiddenSize <= 0 || c.NumLayers <= 0 || c.NumHeads <= 0 || c.IntermediateSize <= 0 || c.MaxPositions <= 0:
		return bad("sizes must be positive (vocab %d, hidden %d, layers %d, heads %d, intermediate %d, positions %d)",
			c.VocabSize, c.HiddenSize, c.NumLayers, c.NumHeads, c.IntermediateSize, c.MaxPositions)
	case c.HiddenSize%c.NumHeads != 0:
		return bad("hidden size %d is not a multiple of %d heads", c.HiddenSize, c.NumHeads)
	case len(c.Labels) < 2 && !c.MaskedLM():
		return bad("need at least 2 labels, have %d", len(c.Labels))
	case c.HiddenAct != "gelu":
		return bad("hidden_act %q is not supported (gelu)", c.HiddenAct)
	case c.Pooling != PoolCLS && c.Pooling != PoolMean:
		return bad("pooling %q is not supported (cls, mean)", c.Pooling)
	case c.ProblemType != "" && c.ProblemType != "single_label_classification":
		return bad("problem_type %q is not supported (single_label_classification)", c.ProblemType)
	case c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize:
		return bad("pad_token_id %d outside the vocabulary of %d", c.PadTokenID, c.VocabSize)
	}
	return nil
}

// LoadConfig reads a HuggingFace config.json.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("bert: reading config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes config.json bytes.
func ParseConfig(b []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	r := reader{raw: raw}
	c := Config{ModelType: r.str("model_type", "")}
	meanType := strings.HasSuffix(c.ModelType, meanPoolSuffix) && strings.HasPrefix(c.ModelType, "ddprun-")
	if meanType { // Note [Mean pooling in HF folders]
		c.ModelType = strings.TrimSuffix(strings.TrimPrefix(c.ModelType, "ddprun-"), meanPoolSuffix)
	}
	fam, ok := families[c.ModelType]
	if !ok {
		return Config{}, fmt.Errorf("%w: model_type %q is not supported (%s)", ErrConfig, c.ModelType, supported())
	}
	fam.readConfig(&r, &c)
	c.InitializerRange = r.num("initializer_range", 0.02)
	c.PadTokenID = int(r.num("pad_token_id", 0))
	c.ProblemType = r.str("problem_type", "single_label_classification")
	c.Pooling = r.str("ddprun_pooling", PoolCLS)
	r.take("ddprun_note")
	if meanType && c.Pooling != PoolMean {
		return Config{}, fmt.Errorf("%w: model_type %q with ddprun_pooling %q", ErrConfig, "ddprun-"+c.ModelType+meanPoolSuffix, c.Pooling)
	}
	c.Labels = r.labels()
	if r.err != nil {
		return Config{}, r.err
	}
	c.extra = r.rest()
	return c, c.Validate()
}

type reader struct {
	raw  map[string]json.RawMessage
	used map[string]bool
	err  error
}

func (r *reader) take(key string) (json.RawMessage, bool) {
	if r.used == nil {
		r.used = map[string]bool{}
	}
	r.used[key] = true
	v, ok := r.raw[key]
	if !ok || string(v) == "null" {
		return nil, false
	}
	return v, true
}

func (r *reader) num(key string, def float64) float64 {
	v, ok := r.take(key)
	if !ok {
		return def
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil && r.err == nil {
		r.err = fmt.Errorf("%w: %s: %v", ErrConfig, key, err)
	}
	return f
}

func (r *reader) str(key, def string) string {
	v, ok := r.take(key)
	if !ok {
		return def
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil && r.err == nil {
		r.err = fmt.Errorf("%w: %s: %v", ErrConfig, key, err)
	}
	return s
}

// labels reads id2label (and checks label2id against it). Without either,
// num_labels (default 2) LABEL_i names, as HF does.
func (r *reader) labels() []string {
	var id2label map[string]string
	if v, ok := r.take("id2label"); ok {
		if err := json.Unmarshal(v, &id2label); err != nil {
			r.err = fmt.Errorf("%w: id2label: %v", ErrConfig, err)
			return nil
		}
	}
	r.take("label2id")
	n := int(r.num("num_labels", float64(max(len(id2label), 2))))
	if len(id2label) > 0 {
		n = len(id2label)
	}
	labels := make([]string, n)
	for i := range labels {
		labels[i] = "LABEL_" + strconv.Itoa(i)
	}
	for k, v := range id2label {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= n {
			r.err = fmt.Errorf("%w: id2label key %q is not an id in 0..%d", ErrConfig, k, n-1)
			return nil
		}
		labels[i] = v
	}
	return labels
}

// rest keeps the keys ddprun does not interpret, so that saving a loaded
// config writes them back unchanged.
func (r *reader) rest() map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for k, v := range r.raw {
		if !r.used[k] {
			out[k] = v
		}
	}
	return out
}

// Note [Mean pooling in HF folders]: transformers' classifiers summarise a
// text by the [CLS] position (BERT through its pooler); it has no mean
// pooling, and it ignores unknown keys. A folder saying model_type "bert"
// and ddprun_pooling "mean" would load there silently as a [CLS] classifier
// and predict differently. So a mean-pooled model's config.json names a
// model type of its own, "ddprun-bert-meanpool" (or
// "ddprun-distilbert-meanpool"), and an architecture transformers does not
// have: AutoConfig refuses it with "Unrecognized model ...", loudly, and
// ddprun_note says why and what still works. ddprun reads both that and
// the older model_type "bert" + ddprun_pooling "mean".
const (
	meanPoolSuffix = "-meanpool"
	meanPoolNote   = "ddprun classifier with mean pooling over the last hidden states instead of BERT's pooler/[CLS]: transformers has no such class, so this folder does not load there as a classifier. The weights keep HF's names: the encoder loads into transformers' BertModel/DistilBertModel if model_type is set back to bert/distilbert; compute the mean over the attention mask yourself. ddprun predict uses it as trained."
)

// MarshalJSON writes config.json the way HuggingFace does for the model type.
func (c Config) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	for k, v := range c.extra {
		m[k] = v
	}
	id2label := map[string]string{}
	label2id := map[string]int{}
	for i, l := range c.Labels {
		id2label[strconv.Itoa(i)] = l
		label2id[l] = i
	}
	common := map[string]any{
		"model_type": c.ModelType, "vocab_size": c.VocabSize, "max_position_embeddings": c.MaxPositions,
		"initializer_range": c.InitializerRange, "pad_token_id": c.PadTokenID, "problem_type": c.ProblemType,
		"id2label": id2label, "label2id": label2id, "ddprun_pooling": c.Pooling, "torch_dtype": "float32",
	}
	maps.Copy(m, common)
	fam := c.family()
	maps.Copy(m, fam.configKeys(c))
	arch := fam.architectures[TaskClassify]
	switch {
	case c.MaskedLM():
		arch = fam.architectures[TaskMaskedLM]
		c.maskedLMFields(m)
	case c.Pooling == PoolMean: // Note [Mean pooling in HF folders]
		arch = "Ddprun" + strings.TrimSuffix(arch, "ForSequenceClassification") + "MeanPoolForSequenceClassification"
		m["model_type"] = "ddprun-" + c.ModelType + meanPoolSuffix
		m["ddprun_note"] = meanPoolNote
	}
	m["architectures"] = []string{arch}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maskedLMFields makes m a masked LM's config.json: none of a
// classifier's keys (labels, problem type, pooling), which would only
// mislead.
func (c Config) maskedLMFields(m map[string]any) {
	for _, k := range []string{"id2label", "label2id", "problem_type", "ddprun_pooling", "classifier_dropout"} {
		delete(m, k)
	}
}

// untiedEmbeddings reports a config.json that says tie_word_embeddings
// false (kept among the keys ddprun does not interpret).
func (c Config) untiedEmbeddings() bool {
	v, ok := c.extra["tie_word_embeddings"]
	return ok && strings.TrimSpace(string(v)) == "false"
}

// Save writes config.json atomically.
func (c Config) Save(path string) error {
	b, err := c.MarshalJSON()
	if err != nil {
		return fmt.Errorf("bert: encoding config: %w", err)
	}
	return writeFileAtomic(path, b)
}

func writeFileAtomic(path string, b []byte) error { return atomicfile.Write(path, b) }
