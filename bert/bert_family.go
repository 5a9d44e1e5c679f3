package bert

import (
	"fmt"
	"strconv"

	"github.com/sugarme/gotch/ts"
)

// TypeBERT is BERT's model_type: BertForSequenceClassification and
// BertForMaskedLM.
const TypeBERT = "bert"

func init() {
	register(&family{
		modelType: TypeBERT,
		architectures: map[string]string{
			TaskClassify: "BertForSequenceClassification",
			TaskMaskedLM: "BertForMaskedLM",
		},
		tokenTypes:     true,
		prefix:         "bert.",
		encoderModules: []string{"embeddings.", "encoder.", "pooler."},
		wordEmbeddings: "bert.embeddings.word_embeddings.weight",
		pooler:         "bert.pooler.",
		classifierHead: []string{"classifier."},
		maskedLM:       maskedLMNames{"cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.bias"},
		maskedLMHead:   []string{"cls.predictions."},
		tied: map[string]string{
			"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
			"cls.predictions.decoder.bias":   "cls.predictions.bias",
		},
		unusedBy: map[string][]string{
			// BertForPreTraining's heads (cls.predictions, cls.seq_relationship)
			TaskClassify: {"cls.", "bert.embeddings.position_ids", "qa_outputs."},
			TaskMaskedLM: {"classifier.", "bert.pooler.", "cls.seq_relationship.", "qa_outputs.", "bert.embeddings.position_ids"},
		},
		readConfig:     readBERTConfig,
		configKeys:     bertConfigKeys,
		encoderSpec:    bertEncoderSpec,
		classifierSpec: bertClassifierSpec,
		maskedLMSpec:   bertMaskedLMSpec,
		embeddings:     bertEmbeddings,
		layer:          bertLayer,
		classify:       bertClassify,
	})
}

func readBERTConfig(r *reader, c *Config) {
	c.VocabSize = int(r.num("vocab_size", 30522))
	c.HiddenSize = int(r.num("hidden_size", 768))
	c.NumLayers = int(r.num("num_hidden_layers", 12))
	c.NumHeads = int(r.num("num_attention_heads", 12))
	c.IntermediateSize = int(r.num("intermediate_size", 3072))
	c.MaxPositions = int(r.num("max_position_embeddings", 512))
	c.TypeVocabSize = int(r.num("type_vocab_size", 2))
	c.LayerNormEps = r.num("layer_norm_eps", 1e-12)
	c.HiddenDropout = r.num("hidden_dropout_prob", 0.1)
	c.AttentionDropout = r.num("attention_probs_dropout_prob", 0.1)
	c.ClassifierDropout = c.HiddenDropout
	if _, ok := r.raw["classifier_dropout"]; ok && string(r.raw["classifier_dropout"]) != "null" {
		c.ClassifierDropout = r.num("classifier_dropout", c.HiddenDropout)
	} else {
		r.take("classifier_dropout")
		c.classifierDropoutNull = true
	}
	c.HiddenAct = r.str("hidden_act", "gelu")
	if pe := r.str("position_embedding_type", "absolute"); pe != "absolute" && r.err == nil {
		r.err = fmt.Errorf("%w: position_embedding_type %q is not supported (absolute)", ErrConfig, pe)
	}
}

func bertConfigKeys(c Config) map[string]any {
	var cd any = c.ClassifierDropout
	if c.classifierDropoutNull && c.ClassifierDropout == c.HiddenDropout {
		cd = nil
	}
	return map[string]any{
		"hidden_size":       c.HiddenSize,
		"num_hidden_layers": c.NumLayers, "num_attention_heads": c.NumHeads, "intermediate_size": c.IntermediateSize,
		"type_vocab_size": c.TypeVocabSize, "layer_norm_eps": c.LayerNormEps, "hidden_dropout_prob": c.HiddenDropout,
		"attention_probs_dropout_prob": c.AttentionDropout, "classifier_dropout": cd, "hidden_act": c.HiddenAct,
		"position_embedding_type": "absolute", "use_cache": true,
	}
}

func bertEncoderSpec(s *specBuilder, c Config) {
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

func bertClassifierSpec(s *specBuilder, c Config) {
	s.linear("bert.pooler.dense", c.HiddenSize, c.HiddenSize)
	s.linear("classifier", c.NumLabels(), c.HiddenSize)
}

func bertMaskedLMSpec(s *specBuilder, c Config) {
	h := c.HiddenSize
	s.add("cls.predictions.bias", InitZeros, c.VocabSize)
	s.noDecay()
	s.linear("cls.predictions.transform.dense", h, h)
	s.norm("cls.predictions.transform.LayerNorm", h)
}

// bertEmbeddings adds the word, token type and position embeddings.
func bertEmbeddings(f *forward, in Input, ids *ts.Tensor) *ts.Tensor {
	c, e := &f.m.Config, "bert.embeddings."
	types := f.ints(in.TypeIDs)
	h := f.embed(e+"word_embeddings.weight", ids, int64(c.PadTokenID))
	h = f.s.t(h.Add(f.embed(e+"token_type_embeddings.weight", types, -1), false))
	h = f.s.t(h.Add(f.embed(e+"position_embeddings.weight", f.positions(), -1), false))
	return f.dropout(f.norm(h, e+"LayerNorm"), c.HiddenDropout)
}

// bertLayer is BertLayer: attention (scores scaled after the product),
// then the feed-forward block, each with dropout, residual and LayerNorm.
func bertLayer(f *forward, i int, h, bias *ts.Tensor) *ts.Tensor {
	c := &f.m.Config
	l := "bert.encoder.layer." + strconv.Itoa(i) + "."
	a := f.attention(h, bias, l+"attention.self.query", l+"attention.self.key", l+"attention.self.value", false)
	a = f.dropout(f.linear(a, l+"attention.output.dense"), c.HiddenDropout)
	h = f.norm(f.s.t(a.Add(h, false)), l+"attention.output.LayerNorm")
	x := f.s.t(f.linear(h, l+"intermediate.dense").Gelu("none", false))
	x = f.dropout(f.linear(x, l+"output.dense"), c.HiddenDropout)
	return f.norm(f.s.t(x.Add(h, false)), l+"output.LayerNorm")
}

// bertClassify is BertForSequenceClassification's head: the pooler (dense
// and tanh, on the [CLS] state; not under mean pooling), dropout, the
// classifier.
func bertClassify(f *forward, x *ts.Tensor) *ts.Tensor {
	c := &f.m.Config
	if c.Pooling == PoolCLS {
		x = f.s.t(f.linear(x, "bert.pooler.dense").Tanh(false))
	}
	x = f.dropout(x, c.ClassifierDropout)
	return f.linear(x, "classifier")
}
