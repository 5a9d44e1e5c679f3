package bert

import (
	"fmt"
	"regexp"
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
	fam := c.family()
	fam.encoderSpec(&s, c)
	if c.MaskedLM() {
		fam.maskedLMSpec(&s, c)
	} else {
		fam.classifierSpec(&s, c)
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

// IsHead reports whether a parameter belongs to the classification head
// (what trains when the backbone is frozen): BERT's classifier, DistilBERT's
// pre_classifier and classifier.
func IsHead(name string) bool { return headRE().MatchString(name) }

// Selector chooses parameters by a regular expression over their names.
type Selector struct{ re *regexp.Regexp }

// ParseSelector compiles a --train-only style expression; "classifier" and
// "head" are shorthands for the classification head.
func ParseSelector(expr string) (Selector, error) {
	switch expr {
	case "classifier", "head":
		return Selector{headRE()}, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return Selector{}, fmt.Errorf("bert: parameter selector %q: %w", expr, err)
	}
	return Selector{re}, nil
}

// Match reports whether the parameter name is selected.
func (s Selector) Match(name string) bool { return s.re != nil && s.re.MatchString(name) }
