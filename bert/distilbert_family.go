package bert

import (
	"fmt"
	"strconv"

	"github.com/sugarme/gotch/ts"
)

// TypeDistilBERT is DistilBERT's model_type:
// DistilBertForSequenceClassification and DistilBertForMaskedLM.
const TypeDistilBERT = "distilbert"

func init() {
	register(&family{
		modelType: TypeDistilBERT,
		architectures: map[string]string{
			TaskClassify: "DistilBertForSequenceClassification",
			TaskMaskedLM: "DistilBertForMaskedLM",
		},
		tokenTypes:     false,
		prefix:         "distilbert.",
		encoderModules: []string{"embeddings.", "transformer."},
		wordEmbeddings: "distilbert.embeddings.word_embeddings.weight",
		pooler:         "",
		classifierHead: []string{"pre_classifier.", "classifier."},
		maskedLM:       maskedLMNames{"vocab_transform", "vocab_layer_norm", "vocab_projector.bias"},
		maskedLMHead:   []string{"vocab_transform.", "vocab_layer_norm.", "vocab_projector."},
		tied:           map[string]string{"vocab_projector.weight": "distilbert.embeddings.word_embeddings.weight"},
		unusedBy: map[string][]string{
			TaskClassify: {"vocab_transform.", "vocab_layer_norm.", "vocab_projector.", "distilbert.embeddings.position_ids", "qa_outputs."},
			TaskMaskedLM: {"classifier.", "pre_classifier.", "qa_outputs.", "distilbert.embeddings.position_ids"},
		},
		readConfig:     readDistilBERTConfig,
		configKeys:     distilBERTConfigKeys,
		encoderSpec:    distilBERTEncoderSpec,
		classifierSpec: distilBERTClassifierSpec,
		maskedLMSpec:   distilBERTMaskedLMSpec,
		embeddings:     distilBERTEmbeddings,
		layer:          distilBERTLayer,
		classify:       distilBERTClassify,
	})
}

// readDistilBERTConfig maps DistilBERT's names (dim, n_layers, ...) onto
// Config's BERT names.
func readDistilBERTConfig(r *reader, c *Config) {
	c.VocabSize = int(r.num("vocab_size", 30522))
	c.HiddenSize = int(r.num("dim", 768))
	c.NumLayers = int(r.num("n_layers", 6))
	c.NumHeads = int(r.num("n_heads", 12))
	c.IntermediateSize = int(r.num("hidden_dim", 3072))
	c.MaxPositions = int(r.num("max_position_embeddings", 512))
	c.LayerNormEps = 1e-12 // DistilBERT hard-codes it
	c.HiddenDropout = r.num("dropout", 0.1)
	c.AttentionDropout = r.num("attention_dropout", 0.1)
	c.ClassifierDropout = r.num("seq_classif_dropout", 0.2)
	c.HiddenAct = r.str("activation", "gelu")
	if v, ok := r.take("sinusoidal_pos_embds"); ok && string(v) == "true" && r.err == nil {
		r.err = fmt.Errorf("%w: sinusoidal_pos_embds is not supported", ErrConfig)
	}
}

func distilBERTConfigKeys(c Config) map[string]any {
	return map[string]any{
		"dim":      c.HiddenSize,
		"n_layers": c.NumLayers, "n_heads": c.NumHeads, "hidden_dim": c.IntermediateSize,
		"dropout": c.HiddenDropout, "attention_dropout": c.AttentionDropout, "seq_classif_dropout": c.ClassifierDropout,
		"activation": c.HiddenAct, "sinusoidal_pos_embds": false, "qa_dropout": 0.1, "tie_weights_": true,
	}
}

func distilBERTEncoderSpec(s *specBuilder, c Config) {
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

func distilBERTClassifierSpec(s *specBuilder, c Config) {
	s.linear("pre_classifier", c.HiddenSize, c.HiddenSize)
	s.linear("classifier", c.NumLabels(), c.HiddenSize)
}

func distilBERTMaskedLMSpec(s *specBuilder, c Config) {
	h := c.HiddenSize
	s.linear("vocab_transform", h, h)
	s.norm("vocab_layer_norm", h)
	s.add("vocab_projector.bias", InitZeros, c.VocabSize)
	s.noDecay()
}

// distilBERTEmbeddings adds the word and position embeddings (no token
// types).
func distilBERTEmbeddings(f *forward, _ Input, ids *ts.Tensor) *ts.Tensor {
	c, e := &f.m.Config, "distilbert.embeddings."
	h := f.embed(e+"word_embeddings.weight", ids, int64(c.PadTokenID))
	h = f.s.t(h.Add(f.embed(e+"position_embeddings.weight", f.positions(), -1), false))
	return f.dropout(f.norm(h, e+"LayerNorm"), c.HiddenDropout)
}

// distilBERTLayer is DistilBERT's TransformerBlock: attention (the query
// scaled before the product; no dropout after the output projection),
// then the feed-forward block, each with residual and LayerNorm.
func distilBERTLayer(f *forward, i int, h, bias *ts.Tensor) *ts.Tensor {
	c := &f.m.Config
	l := "distilbert.transformer.layer." + strconv.Itoa(i) + "."
	a := f.attention(h, bias, l+"attention.q_lin", l+"attention.k_lin", l+"attention.v_lin", true)
	a = f.linear(a, l+"attention.out_lin")
	h = f.norm(f.s.t(a.Add(h, false)), l+"sa_layer_norm")
	x := f.s.t(f.linear(h, l+"ffn.lin1").Gelu("none", false))
	x = f.dropout(f.linear(x, l+"ffn.lin2"), c.HiddenDropout)
	return f.norm(f.s.t(x.Add(h, false)), l+"output_layer_norm")
}

// distilBERTClassify is DistilBertForSequenceClassification's head:
// pre_classifier and ReLU, dropout (seq_classif_dropout), the classifier.
func distilBERTClassify(f *forward, x *ts.Tensor) *ts.Tensor {
	c := &f.m.Config
	x = f.s.t(f.linear(x, "pre_classifier").Relu(false))
	x = f.dropout(x, c.ClassifierDropout)
	return f.linear(x, "classifier")
}
