package bert

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestConfigRoundTrip(t *testing.T) {
	for _, c := range []string{"bert_cls", "bert_mean", "distilbert_cls", "distilbert_mean"} {
		cfg, err := LoadConfig(filepath.Join("testdata", c, ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		b, err := cfg.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseConfig(b)
		if err != nil {
			t.Fatalf("%s: re-parsing our own config.json: %v\n%s", c, err, b)
		}
		if !slices.Equal(again.Labels, cfg.Labels) || again.HiddenSize != cfg.HiddenSize || again.ModelType != cfg.ModelType ||
			again.Pooling != cfg.Pooling || again.ClassifierDropout != cfg.ClassifierDropout || again.IntermediateSize != cfg.IntermediateSize {
			t.Errorf("%s: round trip changed the config:\n%+v\n%+v", c, cfg, again)
		}
		var raw map[string]any
		json.Unmarshal(b, &raw)
		want := "hidden_size"
		if cfg.ModelType == TypeDistilBERT {
			want = "dim"
		}
		if _, ok := raw[want]; !ok || raw["transformers_version"] == nil {
			t.Errorf("%s: written config lacks %s or keeps no unknown keys: %s", c, want, b)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for name, js := range map[string]string{
		"model type": `{"model_type":"gpt2"}`,
		"heads":      `{"model_type":"bert","hidden_size":30,"num_attention_heads":4}`,
		"labels":     `{"model_type":"bert","id2label":{"0":"a","5":"b"}}`,
		"act":        `{"model_type":"bert","hidden_act":"relu"}`,
		"position":   `{"model_type":"bert","position_embedding_type":"relative_key"}`,
		"json":       `{"model_type":`,
		"type":       `{"model_type":"bert","hidden_size":"big"}`,
	} {
		if _, err := ParseConfig([]byte(js)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: error %v, want ErrConfig", name, err)
		}
	}
	if _, err := Preset("huge", 100, []string{"a", "b"}); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown preset: %v", err)
	}
	c, err := Preset("micro", 30522, []string{"a", "b", "c"})
	if err != nil || c.NumLabels() != 3 || c.HiddenSize != 32 {
		t.Errorf("micro preset %+v, %v", c, err)
	}
}

// A mean-pooled model's config.json cannot pass for an HF classifier
// (transformers would load it as a [CLS] one and predict differently): its
// model type and architecture are ddprun's own, and ddprun reads them back,
// as well as the older bert + ddprun_pooling "mean". See Note [Mean pooling
// in HF folders].
func TestMeanPoolingConfig(t *testing.T) {
	for _, typ := range []string{TypeBERT, TypeDistilBERT} {
		c := DefaultConfig()
		c.ModelType, c.Pooling = typ, PoolMean
		b, err := c.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		arch := raw["architectures"].([]any)[0].(string)
		if raw["model_type"] != "ddprun-"+typ+"-meanpool" || !strings.HasPrefix(arch, "Ddprun") || raw["ddprun_note"] == nil {
			t.Errorf("%s: model_type %v, architectures %v: transformers would load it as a [CLS] classifier", typ, raw["model_type"], arch)
		}
		back, err := ParseConfig(b)
		if err != nil || back.ModelType != typ || back.Pooling != PoolMean {
			t.Errorf("%s: read back as %s/%s, %v", typ, back.ModelType, back.Pooling, err)
		}
		if _, ok := back.extra["ddprun_note"]; ok {
			t.Errorf("%s: the note is kept as an unknown key and would be written twice", typ)
		}
	}
	legacy, err := ParseConfig([]byte(`{"model_type":"bert","ddprun_pooling":"mean"}`))
	if err != nil || legacy.Pooling != PoolMean {
		t.Errorf("legacy mean config: %+v, %v", legacy, err)
	}
	if _, err := ParseConfig([]byte(`{"model_type":"ddprun-bert-meanpool","ddprun_pooling":"cls"}`)); !errors.Is(err, ErrConfig) {
		t.Errorf("a mean-pool model type with cls pooling: %v", err)
	}
	cls := DefaultConfig()
	if b, _ := cls.MarshalJSON(); !strings.Contains(string(b), `"model_type": "bert"`) || strings.Contains(string(b), "ddprun_note") {
		t.Errorf("a [CLS] model must stay an HF BertForSequenceClassification:\n%s", b)
	}
}

// A model folder without weights names both files it looked for.
func TestReadWeights_NoWeights(t *testing.T) {
	_, _, err := ReadWeights(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), SafetensorsFile) || !strings.Contains(err.Error(), TorchBinFile) {
		t.Errorf("error %v, want one naming %s and %s", err, SafetensorsFile, TorchBinFile)
	}
}
