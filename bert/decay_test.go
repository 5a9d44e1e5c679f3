package bert

import (
	"slices"
	"testing"
)

// TestDecayGroups checks which parameters of real BERT and DistilBERT
// models get weight decay against HF Trainer's rule written out: no decay
// for biases and for the weights of LayerNorm modules (HF's
// get_decay_parameter_names: ALL_LAYERNORM_LAYERS and "bias"), everything
// else decayed. ddp's TestTrainingTrace checks the same against PyTorch for
// BERT through training.
func TestDecayGroups(t *testing.T) {
	cases := []struct {
		typ, prefix string
		noDecay     []string
	}{
		{TypeBERT, "bert", []string{
			"bert.embeddings.LayerNorm.bias", "bert.embeddings.LayerNorm.weight",
			"bert.encoder.layer.0.attention.output.LayerNorm.bias", "bert.encoder.layer.0.attention.output.LayerNorm.weight",
			"bert.encoder.layer.0.attention.output.dense.bias", "bert.encoder.layer.0.attention.self.key.bias",
			"bert.encoder.layer.0.attention.self.query.bias", "bert.encoder.layer.0.attention.self.value.bias",
			"bert.encoder.layer.0.intermediate.dense.bias", "bert.encoder.layer.0.output.LayerNorm.bias",
			"bert.encoder.layer.0.output.LayerNorm.weight", "bert.encoder.layer.0.output.dense.bias",
			"bert.pooler.dense.bias", "classifier.bias",
		}},
		{TypeDistilBERT, "distilbert", []string{
			"classifier.bias", "distilbert.embeddings.LayerNorm.bias", "distilbert.embeddings.LayerNorm.weight",
			"distilbert.transformer.layer.0.attention.k_lin.bias", "distilbert.transformer.layer.0.attention.out_lin.bias",
			"distilbert.transformer.layer.0.attention.q_lin.bias", "distilbert.transformer.layer.0.attention.v_lin.bias",
			"distilbert.transformer.layer.0.ffn.lin1.bias", "distilbert.transformer.layer.0.ffn.lin2.bias",
			"distilbert.transformer.layer.0.output_layer_norm.bias", "distilbert.transformer.layer.0.output_layer_norm.weight",
			"distilbert.transformer.layer.0.sa_layer_norm.bias", "distilbert.transformer.layer.0.sa_layer_norm.weight",
			"pre_classifier.bias",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			c := DefaultConfig()
			c.ModelType, c.NumLayers = tc.typ, 1
			var got []string
			decayed := 0
			for _, p := range Spec(c) {
				if p.Decay {
					decayed++
				} else {
					got = append(got, p.Name)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.noDecay) {
				t.Errorf("not decayed:\n got %q\nwant %q", got, tc.noDecay)
			}
			if want := len(Spec(c)) - len(tc.noDecay); decayed != want {
				t.Errorf("%d decayed parameters, want %d", decayed, want)
			}
			var words []string
			for _, p := range Spec(c) {
				if p.WordEmbedding {
					words = append(words, p.Name)
				}
			}
			if len(words) != 1 || words[0] != tc.prefix+".embeddings.word_embeddings.weight" {
				t.Errorf("word embeddings %v", words)
			}
		})
	}
}
