package bert

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/sugarme/gotch/ts"
)

// Note [Model families]: a family is one HF model_type (bert,
// distilbert). Everything in this package that differs between families
// is a field of its family, in the family's own file (bert_family.go,
// distilbert_family.go): its config.json keys in and out, its parameters
// and their names, and the pieces of its forward pass. The rest of the
// package is shared and asks a Config for its family; it never tests
// ModelType itself (TestNoModelTypeSwitches).
//
// Adding a family is one file that registers one more: RoBERTa, for
// example, would read BERT's config keys, name its encoder "roberta." with
// BERT's layers, number its positions from the padding id on in
// embeddings, classify with a head of its own on the first token
// ("classifier.dense", tanh, "classifier.out_proj"; no pooler), name its
// masked-LM head "lm_head." (dense, layer_norm, bias; decoder.weight and
// decoder.bias tied) and list "lm_head." among what a classifier ignores.
// (Its tokenizer, byte-level BPE, is the tokenizer's business, not the
// family's.)

// A family is what the package knows about one model family. Every
// function must be set (register checks).
type family struct {
	modelType string // HF's model_type, the registry key
	// architectures are HF's class names by task (Config.Task), written
	// to config.json's "architectures".
	architectures map[string]string
	// tokenTypes says the embeddings take token type ids (Input.TypeIDs).
	tokenTypes bool

	// prefix is the encoder's state-dict prefix ("bert."), which a
	// checkpoint of the bare encoder (BertModel) leaves out; encoderModules
	// are that bare encoder's top-level modules ("embeddings.", ...).
	prefix         string
	encoderModules []string
	wordEmbeddings string // the token embedding matrix
	// pooler prefixes the parameters between the first token's state and
	// the classification head ("" if none): mean pooling bypasses them,
	// and a checkpoint may lack them, as it may lack the head.
	pooler string
	// classifierHead prefixes the classification head's parameters (IsHead).
	classifierHead []string
	// maskedLM names the masked-LM head's parameters, maskedLMHead prefixes
	// them and their tied aliases (IsMaskedLMHead), and tied maps each alias
	// to the tensor it repeats (Note [Masked-LM head]).
	maskedLM     maskedLMNames
	maskedLMHead []string
	tied         map[string]string
	// unusedBy prefixes, by task, the tensors the family's checkpoints
	// carry that a model of that task does not use (other heads, buffers).
	unusedBy map[string][]string

	// readConfig reads the family's own config.json keys into c (sizes,
	// dropouts, activation); ParseConfig reads the keys every family shares.
	readConfig func(r *reader, c *Config)
	// configKeys are the family's own config.json keys for c.
	configKeys func(c Config) map[string]any
	// The parameters, in HF's order: the encoder, then one task's head.
	encoderSpec, classifierSpec, maskedLMSpec func(s *specBuilder, c Config)
	// embeddings is the encoder's input [B,T,H] (after its LayerNorm and
	// dropout) for the token ids [B,T] of in.
	embeddings func(f *forward, in Input, ids *ts.Tensor) *ts.Tensor
	// layer is encoder layer i on the hidden states h, with the attention
	// mask as an additive bias (forward.maskBias).
	layer func(f *forward, i int, h, bias *ts.Tensor) *ts.Tensor
	// classify is the classification head: the logits [B,num_labels] of
	// the pooled hidden states [B,H].
	classify func(f *forward, x *ts.Tensor) *ts.Tensor
}

// families are the registered families by model_type.
var families = map[string]*family{}

// register adds a family; each family's file calls it from init.
func register(f *family) {
	if f.readConfig == nil || f.configKeys == nil || f.encoderSpec == nil || f.classifierSpec == nil ||
		f.maskedLMSpec == nil || f.embeddings == nil || f.layer == nil || f.classify == nil {
		panic(fmt.Sprintf("bert: family %q lacks a function", f.modelType))
	}
	if _, dup := families[f.modelType]; dup {
		panic(fmt.Sprintf("bert: family %q registered twice", f.modelType))
	}
	families[f.modelType] = f
}

// ModelTypes lists the supported model_type values, sorted.
func ModelTypes() []string { return slices.Sorted(maps.Keys(families)) }

func supported() string { return strings.Join(ModelTypes(), ", ") }

// family is c's family. A Config that has not passed Validate may name
// none: Spec and MarshalJSON have always described such a Config as BERT.
func (c *Config) family() *family {
	if f, ok := families[c.ModelType]; ok {
		return f
	}
	return families[TypeBERT]
}

// anyFamily collects a list over every family: what a name means does
// not depend on the model at hand (IsHead is a function of the name
// alone), and LoadState accepts what any family's checkpoints carry.
func anyFamily(list func(*family) []string) []string {
	var out []string
	for _, t := range ModelTypes() {
		for _, p := range list(families[t]) {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

func hasAnyPrefix(name string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(name, p) })
}

// prefixRE matches names with any of the prefixes.
func prefixRE(prefixes []string) *regexp.Regexp {
	q := make([]string, len(prefixes))
	for i, p := range prefixes {
		q[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^(` + strings.Join(q, "|") + `)`)
}

// headRE and maskedLMRE match the classification heads and the masked-LM
// heads of every family, for IsHead, ParseSelector and IsMaskedLMHead
// (built on first use, after every family's init has registered it).
var (
	headRE     = sync.OnceValue(func() *regexp.Regexp { return prefixRE(anyFamily(classifierHeadOf)) })
	maskedLMRE = sync.OnceValue(func() *regexp.Regexp { return prefixRE(anyFamily(maskedLMHeadOf)) })
)

func classifierHeadOf(f *family) []string { return f.classifierHead }
func maskedLMHeadOf(f *family) []string   { return f.maskedLMHead }
