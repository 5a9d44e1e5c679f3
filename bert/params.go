package bert

import (
	"fmt"
	"regexp"
	"strconv"
)

// Param is one named parameter of a model. Names are HuggingFace's
// state-dict names, so loading and saving HF checkpoints is a checked copy.
type Param struct {
	Name      string
	Shape     []int64
	Init      Init
	Trainable bool
	// Decay: the parameter gets weight decay. HF Trainer's rule: every
	// parameter but biases and the weights of LayerNorm modules.
	Decay bool
	// WordEmbedding marks the token embedding matrix, whose gradient a
	// step touches only in the rows of its tokens.
	WordEmbedding bool
}

// Init says how a parameter is initialised for training from scratch,
// following HF's _init_weights.
type Init int

const (
	InitNormal Init = iota // normal(0, initializer_range)
	InitZeros
	InitOnes
	InitEmbedding // normal(0, initializer_range), then the padding row zeroed
)

// Spec lists the parameters of the model c describes, in HF's order: the
// encoder, then the task's head.
func Spec(c Config) []Param {
	var s specBuilder
	switch {
	case c.ModelType == TypeDistilBERT && c.MaskedLM():
		s.distil(c)
		s.distilMaskedLM(c)
	case c.ModelType == TypeDistilBERT:
		s.distil(c)
		s.linear("pre_classifier", c.HiddenSize, c.HiddenSize)
		s.linear("classifier", c.NumLabels(), c.HiddenSize)
	case c.MaskedLM():
		s.bert(c)
		s.bertMaskedLM(c)
	default:
		s.bert(c)
		s.linear("bert.pooler.dense", c.HiddenSize, c.HiddenSize)
		s.linear("classifier", c.NumLabels(), c.HiddenSize)
	}
	return s.params
}

type specBuilder struct{ params []Param }

func (s *specBuilder) add(name string, init Init, shape ...int) {
	sh := make([]int64, len(shape))
	for i, d := range shape {
		sh[i] = int64(d)
	}
	s.params = append(s.params, Param{Name: name, Shape: sh, Init: init, Trainable: true, Decay: true})
}

// noDecay exempts the parameter added last from weight decay.
func (s *specBuilder) noDecay() { s.params[len(s.params)-1].Decay = false }

func (s *specBuilder) linear(name string, out, in int) {
	s.add(name+".weight", InitNormal, out, in)
	s.add(name+".bias", InitZeros, out)
	s.noDecay()
}

func (s *specBuilder) norm(name string, n int) {
	s.add(name+".weight", InitOnes, n)
	s.noDecay()
	s.add(name+".bias", InitZeros, n)
	s.noDecay()
}

// wordEmbeddings adds the token embedding matrix.
func (s *specBuilder) wordEmbeddings(name string, vocab, h int) {
	s.add(name, InitEmbedding, vocab, h)
	s.params[len(s.params)-1].WordEmbedding = true
}

func (s *specBuilder) bert(c Config) {
	h, e := c.HiddenSize, "bert.embeddings."
	s.wordEmbeddings(e+"word_embeddings.weight", c.VocabSize, h)
	s.add(e+"position_embeddings.weight", InitNormal, c.MaxPositions, h)
	s.add(e+"token_type_embeddings.weight", InitNormal, c.TypeVocabSize, h)
	s.norm(e+"LayerNorm", h)
	for i := range c.NumLayers {
		l := "bert.encoder.layer." + strconv.Itoa(i) + "."
		s.linear(l+"attention.self.query", h, h)
		s.linear(l+"attention.self.key", h, h)
		s.linear(l+"attention.self.value", h, h)
		s.linear(l+"attention.output.dense", h, h)
		s.norm(l+"attention.output.LayerNorm", h)
		s.linear(l+"intermediate.dense", c.IntermediateSize, h)
		s.linear(l+"output.dense", h, c.IntermediateSize)
		s.norm(l+"output.LayerNorm", h)
	}
}

func (s *specBuilder) distil(c Config) {
	h, e := c.HiddenSize, "distilbert.embeddings."
	s.wordEmbeddings(e+"word_embeddings.weight", c.VocabSize, h)
	s.add(e+"position_embeddings.weight", InitNormal, c.MaxPositions, h)
	s.norm(e+"LayerNorm", h)
	for i := range c.NumLayers {
		l := "distilbert.transformer.layer." + strconv.Itoa(i) + "."
		s.linear(l+"attention.q_lin", h, h)
		s.linear(l+"attention.k_lin", h, h)
		s.linear(l+"attention.v_lin", h, h)
		s.linear(l+"attention.out_lin", h, h)
		s.norm(l+"sa_layer_norm", h)
		s.linear(l+"ffn.lin1", c.IntermediateSize, h)
		s.linear(l+"ffn.lin2", h, c.IntermediateSize)
		s.norm(l+"output_layer_norm", h)
	}
}

// IsHead reports whether a parameter belongs to the classification head
// (what trains when the backbone is frozen): BERT's classifier, DistilBERT's
// pre_classifier and classifier.
func IsHead(name string) bool {
	return headRE.MatchString(name)
}

var headRE = regexp.MustCompile(`^(classifier|pre_classifier)\.`)

// Selector chooses parameters by a regular expression over their names.
type Selector struct{ re *regexp.Regexp }

// ParseSelector compiles a --train-only style expression; "classifier" and
// "head" are shorthands for the classification head.
func ParseSelector(expr string) (Selector, error) {
	switch expr {
	case "classifier", "head":
		return Selector{headRE}, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return Selector{}, fmt.Errorf("bert: parameter selector %q: %w", expr, err)
	}
	return Selector{re}, nil
}

// Match reports whether the parameter name is selected.
func (s Selector) Match(name string) bool { return s.re != nil && s.re.MatchString(name) }
