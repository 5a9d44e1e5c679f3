package bert

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/ddprun/ddprun/internal/torchrt"
)

// reference is bert/testdata/<case>/reference.json, written by
// testdata/gen_fixtures.py from a plain-PyTorch copy of HF's models.
type reference struct {
	InputIDs      [][]int64                  `json:"input_ids"`
	AttentionMask [][]int64                  `json:"attention_mask"`
	TokenTypeIDs  [][]int64                  `json:"token_type_ids"`
	Labels        []int64                    `json:"labels"`
	Logits        [][]float64                `json:"logits"`
	LogitsBF16    [][]float64                `json:"logits_bf16"`
	Loss          float64                    `json:"loss"`
	Grads         map[string]json.RawMessage `json:"grads"`
	Tolerance     struct {
		GradRel    float64 `json:"grad_rel"`
		LogitsAbs  float64 `json:"logits_abs"`
		LogitsBF16 float64 `json:"logits_bf16_abs"`
		LossAbs    float64 `json:"loss_abs"`
	} `json:"tolerance"`
}

func loadReference(t *testing.T, dir string) reference {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return r
}

func (r reference) input() Input {
	in := Input{B: len(r.InputIDs), T: len(r.InputIDs[0])}
	for i := range r.InputIDs {
		in.IDs = append(in.IDs, r.InputIDs[i]...)
		in.Mask = append(in.Mask, r.AttentionMask[i]...)
		if r.TokenTypeIDs != nil {
			in.TypeIDs = append(in.TypeIDs, r.TokenTypeIDs[i]...)
		}
	}
	return in
}

// flatten turns a nested JSON list of numbers into one slice.
func flatten(t *testing.T, raw json.RawMessage) []float64 {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var out []float64
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case float64:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		default:
			t.Fatalf("unexpected %T in reference", v)
		}
	}
	walk(v)
	return out
}

// runTorch runs f on a compute thread, failing the test on error.
func runTorch(t *testing.T, f func(th *torchrt.Thread) error) {
	t.Helper()
	if err := torchrt.Run(torchrt.Config{Threads: 1}, f); err != nil {
		t.Fatal(err)
	}
}

// withFixture loads a fixture model folder on a compute thread and runs f
// with it.
func withFixture(t *testing.T, dir string, f func(th *torchrt.Thread, m *Model) error) {
	t.Helper()
	runTorch(t, func(th *torchrt.Thread) error {
		m, _, err := LoadPretrained(dir, gotch.CPU, nil, LoadOptions{})
		if err != nil {
			return err
		}
		defer m.Drop()
		return f(th, m)
	})
}

func maxAbsDiff(got []float32, want []float64) (d, scale float64) {
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-want[i]))
		scale = math.Max(scale, math.Abs(want[i]))
	}
	return d, scale
}

func TestParity(t *testing.T) {
	for _, c := range []string{"bert_cls", "bert_mean", "distilbert_cls", "distilbert_mean"} {
		t.Run(c, func(t *testing.T) {
			dir := filepath.Join("testdata", c)
			ref := loadReference(t, dir)
			withFixture(t, dir, func(_ *torchrt.Thread, m *Model) error {
				checkParity(t, m, ref)
				return nil
			})
		})
	}
}

func checkParity(t *testing.T, m *Model, ref reference) {
	logits, err := m.Forward(ref.input(), false)
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
	if d, _ := maxAbsDiff(got.Data, want); d > ref.Tolerance.LogitsAbs || len(got.Data) != len(want) {
		t.Errorf("logits differ from PyTorch by %g (tolerance %g): got %v want %v", d, ref.Tolerance.LogitsAbs, got.Data, want)
	}
	loss, err := m.Loss(logits, ref.Labels, LossOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer loss.MustDrop()
	if l := loss.Float64Values()[0]; math.Abs(l-ref.Loss) > ref.Tolerance.LossAbs {
		t.Errorf("loss %v, PyTorch %v", l, ref.Loss)
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	for name, raw := range ref.Grads {
		checkGrad(t, m, name, flatten(t, raw), ref.Tolerance.GradRel)
	}
}

func checkGrad(t *testing.T, m *Model, name string, want []float64, rel float64) {
	p := m.Tensor(name)
	if p == nil {
		t.Errorf("no parameter %s", name)
		return
	}
	g, err := p.Grad(false)
	if err != nil {
		t.Fatal(err)
	}
	defer g.MustDrop()
	got, err := ToHost(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Data) != len(want) {
		t.Errorf("grad %s: %d values, PyTorch has %d", name, len(got.Data), len(want))
		return
	}
	d, scale := maxAbsDiff(got.Data, want)
	if d > rel*math.Max(scale, 1e-6) {
		t.Errorf("grad %s differs from PyTorch by %g (max |grad| %g, relative tolerance %g)", name, d, scale, rel)
	}
}
