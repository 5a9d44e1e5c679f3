package bert

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/ddprun/ddprun/internal/torchrt"
)

// mlmReference is bert/testdata/<case>_mlm/reference.json, written by
// testdata/gen_mlm_fixture.py from a plain-PyTorch copy of HF's
// BertForMaskedLM and DistilBertForMaskedLM.
type mlmReference struct {
	reference
	MLMLabels [][]int64 `json:"mlm_labels"`
	Positions []int64   `json:"masked_positions"`
}

func loadMLMReference(t *testing.T, dir string) mlmReference {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r mlmReference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return r
}

// targets are the original tokens at the masked positions, in order.
func (r mlmReference) targets() []int64 {
	var out []int64
	for _, row := range r.MLMLabels {
		for _, l := range row {
			if l != -100 {
				out = append(out, l)
			}
		}
	}
	return out
}

func asMaskedLM(c *Config) { c.Task = TaskMaskedLM }

// loadMaskedLM builds the fixture's masked LM from one of its weight files.
func loadMaskedLM(t *testing.T, dir, file string) (*Model, LoadReport) {
	t.Helper()
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	asMaskedLM(&cfg)
	w, _, err := ReadWeights(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.LoadState(w, LoadOptions{})
	if err != nil {
		m.Drop()
		t.Fatal(err)
	}
	return m, rep
}

// TestMaskedLMParity checks the masked-LM head against PyTorch: logits at
// the masked positions, the loss (HF's mean over them) and the gradients of
// the head and of the tied word embeddings, from the safetensors file HF
// writes (no tied aliases) and from the .bin that carries them. Measured
// worst cases over both models (libtorch 1.13.1 against PyTorch 1.13.1):
// logits 1.6e-6 abs, loss 1.7e-7, gradients 1.2e-6 relative to the
// tensor's largest; bf16 logits 0.031 (TestMaskedLMAutocastBF16). The
// tolerances are the fixture's: logits 1e-4, loss 1e-5, gradients 1e-4
// relative, bf16 0.15. A wrong tie (the decoder's gradient not reaching
// the word embeddings) moves that gradient by 0.7 to 1.0 of its scale.
func TestMaskedLMParity(t *testing.T) {
	for _, c := range []string{"bert_mlm", "distilbert_mlm"} {
		for _, file := range []string{SafetensorsFile, TorchBinFile} {
			t.Run(c+"/"+file, func(t *testing.T) {
				dir := filepath.Join("testdata", c)
				ref := loadMLMReference(t, dir)
				runTorch(t, func(*torchrt.Thread) error {
					m, rep := loadMaskedLM(t, dir, file)
					defer m.Drop()
					wantTied := map[string][]string{
						"bert_mlm/" + TorchBinFile:       {"cls.predictions.decoder.bias", "cls.predictions.decoder.weight"},
						"distilbert_mlm/" + TorchBinFile: {"vocab_projector.weight"},
					}[c+"/"+file]
					if len(rep.Initialised)+len(rep.Ignored) != 0 || !slices.Equal(rep.Tied, wantTied) {
						t.Errorf("load report %+v, want every tensor loaded and tied aliases %v", rep, wantTied)
					}
					checkMaskedLMParity(t, m, ref)
					return nil
				})
			})
		}
	}
}

func checkMaskedLMParity(t *testing.T, m *Model, ref mlmReference) {
	var worst [3]float64
	defer func() {
		t.Logf("largest differences: logits %.2g, loss %.2g, gradients (relative) %.2g", worst[0], worst[1], worst[2])
	}()
	logits, err := m.MaskedLM(ref.input(), ref.Positions, false)
	if err != nil {
		t.Fatal(err)
	}
	defer logits.MustDrop()
	got, err := ToHost(logits)
	if err != nil {
		t.Fatal(err)
	}
	var want []float64
	for _, row := range ref.Logits {
		want = append(want, row...)
	}
	worst[0], _ = maxAbsDiff(got.Data, want)
	if worst[0] > ref.Tolerance.LogitsAbs || len(got.Data) != len(want) {
		t.Errorf("masked-LM logits differ from PyTorch by %g (tolerance %g)", worst[0], ref.Tolerance.LogitsAbs)
	}
	targets := ref.targets()
	loss, err := m.MaskedLMLoss(logits, targets, 1/float64(len(targets)))
	if err != nil {
		t.Fatal(err)
	}
	defer loss.MustDrop()
	l, err := ToHost(loss)
	if err != nil {
		t.Fatal(err)
	}
	if worst[1] = math.Abs(float64(l.Data[0]) - ref.Loss); worst[1] > ref.Tolerance.LossAbs {
		t.Errorf("masked-LM loss %v, PyTorch %v", l.Data[0], ref.Loss)
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(keys(ref.Grads)) {
		worst[2] = max(worst[2], gradRelDiff(t, m, name, flatten(t, ref.Grads[name])))
		checkGrad(t, m, name, flatten(t, ref.Grads[name]), ref.Tolerance.GradRel)
	}
}

// gradRelDiff is max|got - want| / max|want| for a parameter's gradient.
func gradRelDiff(t *testing.T, m *Model, name string, want []float64) float64 {
	g, err := m.Tensor(name).Grad(false)
	if err != nil {
		t.Fatal(err)
	}
	defer g.MustDrop()
	got, err := ToHost(g)
	if err != nil || len(got.Data) != len(want) {
		return math.Inf(1)
	}
	d, scale := maxAbsDiff(got.Data, want)
	return d / math.Max(scale, 1e-6)
}

// Under bf16 autocast the head runs (its LayerNorm in float32: Note
// [Masked-LM head]) and stays within bf16 rounding of PyTorch's.
func TestMaskedLMAutocastBF16(t *testing.T) {
	for _, c := range []string{"bert_mlm", "distilbert_mlm"} {
		t.Run(c, func(t *testing.T) {
			dir := filepath.Join("testdata", c)
			ref := loadMLMReference(t, dir)
			runTorch(t, func(*torchrt.Thread) error {
				m, _ := loadMaskedLM(t, dir, SafetensorsFile)
				defer m.Drop()
				if err := torchrt.Autocast(true, false); err != nil {
					return err
				}
				logits, err := m.MaskedLM(ref.input(), ref.Positions, false)
				torchrt.Autocast(false, false)
				if err != nil {
					return err
				}
				defer logits.MustDrop()
				got, err := ToHost(logits)
				if err != nil {
					return err
				}
				var want []float64
				for _, row := range ref.LogitsBF16 {
					want = append(want, row...)
				}
				d, _ := maxAbsDiff(got.Data, want)
				t.Logf("bf16 logits differ from PyTorch's by %.2g", d)
				if d > ref.Tolerance.LogitsBF16 {
					t.Errorf("bf16 masked-LM logits differ from PyTorch's by %g (tolerance %g)", d, ref.Tolerance.LogitsBF16)
				}
				return nil
			})
		})
	}
}

// A masked LM saves as HF's save_pretrained does: HF's names, no pooler,
// no tied aliases, config.json with architectures [BertForMaskedLM] and no
// labels; it loads back bit for bit; and loaded as a classifier the head
// is ignored (listed) while the pooler and classifier are initialised
// (listed), as HF's from_pretrained reports them.
func TestMaskedLMSaveLoad(t *testing.T) {
	for _, tc := range []struct {
		modelType, arch string
		head, init      []string
	}{
		{TypeBERT, "BertForMaskedLM",
			[]string{"cls.predictions.bias", "cls.predictions.transform.LayerNorm.bias", "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.dense.bias", "cls.predictions.transform.dense.weight"},
			[]string{"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"}},
		{TypeDistilBERT, "DistilBertForMaskedLM",
			[]string{"vocab_layer_norm.bias", "vocab_layer_norm.weight", "vocab_projector.bias", "vocab_transform.bias", "vocab_transform.weight"},
			[]string{"pre_classifier.weight", "pre_classifier.bias", "classifier.weight", "classifier.bias"}},
	} {
		t.Run(tc.modelType, func(t *testing.T) {
			dir := t.TempDir()
			c, err := Preset("micro", 50, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.ModelType, c.Task, c.Labels, c.TypeVocabSize = tc.modelType, TaskMaskedLM, nil, map[string]int{TypeBERT: 2}[tc.modelType]
			var saved map[string]HostTensor
			runTorch(t, func(*torchrt.Thread) error {
				m, err := New(c, gotch.CPU)
				if err != nil {
					return err
				}
				defer m.Drop()
				if saved, err = m.State(); err != nil {
					return err
				}
				return m.Save(dir, false)
			})
			w, _, err := ReadWeights(filepath.Join(dir, SafetensorsFile))
			if err != nil {
				t.Fatal(err)
			}
			var names, head []string
			for n := range w {
				names = append(names, n)
				if IsMaskedLMHead(n) {
					head = append(head, n)
				}
				if strings.Contains(n, "pooler") || strings.Contains(n, "decoder") || n == "vocab_projector.weight" {
					t.Errorf("saved %s: HF's masked LM has no pooler and leaves tied aliases out", n)
				}
			}
			slices.Sort(head)
			if !slices.Equal(head, tc.head) {
				t.Errorf("head tensors %v, want %v", head, tc.head)
			}
			var cfg map[string]any
			if err := json.Unmarshal([]byte(readText(t, filepath.Join(dir, ConfigFile))), &cfg); err != nil {
				t.Fatal(err)
			}
			if a, _ := cfg["architectures"].([]any); len(a) != 1 || a[0] != tc.arch || cfg["id2label"] != nil || cfg["ddprun_pooling"] != nil {
				t.Errorf("config.json: architectures %v, id2label %v, ddprun_pooling %v", cfg["architectures"], cfg["id2label"], cfg["ddprun_pooling"])
			}
			runTorch(t, func(*torchrt.Thread) error {
				m, rep, err := LoadPretrained(dir, gotch.CPU, asMaskedLM, LoadOptions{})
				if err != nil {
					return err
				}
				defer m.Drop()
				again, err := m.State()
				if err != nil {
					return err
				}
				for n, x := range saved {
					if !slices.Equal(x.Data, again[n].Data) {
						t.Errorf("%s changed in the round trip", n)
					}
				}
				if rep.Loaded != len(names) || len(rep.Initialised)+len(rep.Ignored)+len(rep.Tied) != 0 {
					t.Errorf("reloading the masked LM: %+v", rep)
				}
				cl, rep, err := LoadPretrained(dir, gotch.CPU, func(c *Config) { c.Labels = []string{"a", "b"} }, LoadOptions{})
				if err != nil {
					return err
				}
				defer cl.Drop()
				if !slices.Equal(rep.Ignored, tc.head) || !slices.Equal(rep.Initialised, tc.init) {
					t.Errorf("the masked LM loaded as a classifier: ignored %v, initialised %v; want %v and %v", rep.Ignored, rep.Initialised, tc.head, tc.init)
				}
				return nil
			})
		})
	}
}

// A file whose tied alias differs from the tensor it aliases (an untied
// model) is refused rather than silently tied; so is a config.json that
// says tie_word_embeddings false. A classifier's folder loads as a masked
// LM with the head initialised and the classifier ignored.
func TestMaskedLMLoadChecks(t *testing.T) {
	dir := filepath.Join("testdata", "bert_mlm")
	runTorch(t, func(*torchrt.Thread) error {
		w, _, err := ReadWeights(filepath.Join(dir, TorchBinFile))
		if err != nil {
			return err
		}
		dec := w["cls.predictions.decoder.weight"]
		dec.Data = slices.Clone(dec.Data)
		dec.Data[7] += 0.5
		w["cls.predictions.decoder.weight"] = dec
		m, _ := loadMaskedLM(t, dir, SafetensorsFile)
		defer m.Drop()
		if _, err := m.LoadState(w, LoadOptions{}); !errors.Is(err, ErrWeights) || !strings.Contains(err.Error(), "tied") {
			t.Errorf("an untied decoder weight loaded: %v", err)
		}
		cl, rep, err := LoadPretrained(filepath.Join("testdata", "bert_cls"), gotch.CPU, asMaskedLM, LoadOptions{})
		if err != nil {
			return err
		}
		defer cl.Drop()
		if len(rep.Initialised) != 5 || !slices.Contains(rep.Ignored, "classifier.weight") || !slices.Contains(rep.Ignored, "bert.pooler.dense.weight") {
			t.Errorf("a classifier loaded as a masked LM: %+v", rep)
		}
		return nil
	})
	b := []byte(readText(t, filepath.Join(dir, ConfigFile)))
	b = []byte(strings.Replace(string(b), "{", `{"tie_word_embeddings": false,`, 1))
	c, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	c.Task = TaskMaskedLM
	if err := c.Validate(); !errors.Is(err, ErrConfig) {
		t.Errorf("an untied config validated as a masked LM: %v", err)
	}
}

func readText(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
