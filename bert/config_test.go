package bert

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
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
