package bert

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/ddprun/ddprun/internal/torchrt"
)

func logitsOf(t *testing.T, m *Model, in Input) []float32 {
	t.Helper()
	x, err := m.Forward(in, false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.MustDrop()
	h, err := ToHost(x)
	if err != nil {
		t.Fatal(err)
	}
	return h.Data
}

func TestAutocastBF16(t *testing.T) {
	for _, c := range []string{"bert_cls", "distilbert_mean"} {
		t.Run(c, func(t *testing.T) {
			dir := filepath.Join("testdata", c)
			ref := loadReference(t, dir)
			withFixture(t, dir, func(_ *torchrt.Thread, m *Model) error {
				fp32 := logitsOf(t, m, ref.input())
				if err := torchrt.Autocast(true, false); err != nil {
					return err
				}
				bf16 := logitsOf(t, m, ref.input())
				if err := torchrt.Autocast(false, false); err != nil {
					return err
				}
				var want []float64
				for _, row := range ref.LogitsBF16 {
					want = append(want, row...)
				}
				if d, _ := maxAbsDiff(bf16, want); d > ref.Tolerance.LogitsBF16 {
					t.Errorf("bf16 autocast logits differ from PyTorch's by %g (tolerance %g)", d, ref.Tolerance.LogitsBF16)
				}
				if slices.Equal(fp32, bf16) {
					t.Errorf("autocast changed nothing: logits identical to fp32 (%v)", fp32)
				}
				// Autocast off again: back to the exact fp32 result.
				if again := logitsOf(t, m, ref.input()); !slices.Equal(again, fp32) {
					t.Errorf("after autocast off, logits %v, want %v", again, fp32)
				}
				return nil
			})
		})
	}
}

// A torch.save file loads like the safetensors file (fp32), and the bf16
// .bin written by PyTorch holds the same values as our own bf16 safetensors
// (both round to nearest even).
func TestTorchBin(t *testing.T) {
	dir := filepath.Join("testdata", "bert_cls")
	ref := loadReference(t, dir)
	runTorch(t, func(*torchrt.Thread) error {
		st, _, err := ReadWeights(filepath.Join(dir, SafetensorsFile))
		if err != nil {
			return err
		}
		bin, _, err := ReadWeights(filepath.Join(dir, TorchBinFile))
		if err != nil {
			return err
		}
		if _, ok := bin["bert.embeddings.position_ids"]; !ok {
			t.Errorf("the fp32 .bin fixture should carry the position_ids buffer")
		}
		m, _, err := LoadPretrained(dir, gotch.CPU, nil, LoadOptions{})
		if err != nil {
			return err
		}
		defer m.Drop()
		want := logitsOf(t, m, ref.input())
		rep, err := m.LoadState(bin, LoadOptions{})
		if err != nil {
			return err
		}
		if !slices.Contains(rep.Ignored, "bert.embeddings.position_ids") || rep.Loaded != len(st) {
			t.Errorf("report %+v: want position_ids ignored and %d loaded", rep, len(st))
		}
		if got := logitsOf(t, m, ref.input()); !slices.Equal(got, want) {
			t.Errorf(".bin logits %v, safetensors %v", got, want)
		}
		tmp := filepath.Join(t.TempDir(), "bf16.safetensors")
		if err := WriteSafetensors(tmp, st, true); err != nil {
			return err
		}
		ours, _, err := ReadWeights(tmp)
		if err != nil {
			return err
		}
		torchBF16, _, err := ReadWeights(filepath.Join(dir, "pytorch_model_bf16.bin"))
		if err != nil {
			return err
		}
		for name, w := range ours {
			if !slices.Equal(w.Data, torchBF16[name].Data) {
				t.Errorf("%s: our bf16 rounding differs from PyTorch's", name)
			}
		}
		return nil
	})
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, c := range []string{"bert_cls", "distilbert_mean"} {
		t.Run(c, func(t *testing.T) {
			dir := filepath.Join("testdata", c)
			ref := loadReference(t, dir)
			out := t.TempDir()
			withFixture(t, dir, func(_ *torchrt.Thread, m *Model) error {
				want := logitsOf(t, m, ref.input())
				if err := m.Save(out, false); err != nil {
					return err
				}
				m2, rep, err := LoadPretrained(out, gotch.CPU, nil, LoadOptions{})
				if err != nil {
					return err
				}
				defer m2.Drop()
				if len(rep.Initialised) != 0 || len(rep.Ignored) != 0 {
					t.Errorf("round trip report %+v", rep)
				}
				if got := logitsOf(t, m2, ref.input()); !slices.Equal(got, want) {
					t.Errorf("logits after save/load %v, before %v", got, want)
				}
				if m2.Config.Pooling != m.Config.Pooling || !slices.Equal(m2.Config.Labels, m.Config.Labels) {
					t.Errorf("config after round trip %+v, before %+v", m2.Config, m.Config)
				}
				return nil
			})
		})
	}
}

func TestLoadStateErrors(t *testing.T) {
	dir := filepath.Join("testdata", "bert_cls")
	runTorch(t, func(*torchrt.Thread) error {
		w, _, err := ReadWeights(dir)
		if err != nil {
			return err
		}
		cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
		if err != nil {
			return err
		}
		m, err := New(cfg, gotch.CPU)
		if err != nil {
			return err
		}
		defer m.Drop()
		edit := func(f func(map[string]HostTensor)) map[string]HostTensor {
			c := map[string]HostTensor{}
			for k, v := range w {
				c[k] = v
			}
			f(c)
			return c
		}
		for _, tc := range []struct {
			name string
			w    map[string]HostTensor
			want string
		}{
			{"missing", edit(func(c map[string]HostTensor) { delete(c, "bert.encoder.layer.1.output.dense.bias") }), "missing bert.encoder.layer.1.output.dense.bias"},
			{"unexpected", edit(func(c map[string]HostTensor) {
				c["bert.encoder.layer.7.foo"] = HostTensor{Shape: []int64{1}, Data: []float32{0}}
			}), "unexpected bert.encoder.layer.7.foo"},
			{"shape", edit(func(c map[string]HostTensor) {
				c["bert.embeddings.LayerNorm.weight"] = HostTensor{Shape: []int64{31}, Data: make([]float32, 31)}
			}), "bert.embeddings.LayerNorm.weight has shape [31]"},
		} {
			_, err := m.LoadState(tc.w, LoadOptions{})
			if !errors.Is(err, ErrWeights) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %v, want ErrWeights naming %q", tc.name, err, tc.want)
			}
		}
		// A base checkpoint (no head) in the old naming: head initialised and reported.
		base := map[string]HostTensor{}
		for k, v := range w {
			if IsHead(k) {
				continue
			}
			k = strings.TrimPrefix(k, "bert.")
			k = strings.Replace(strings.Replace(k, "LayerNorm.weight", "LayerNorm.gamma", 1), "LayerNorm.bias", "LayerNorm.beta", 1)
			base[k] = v
		}
		base["cls.predictions.bias"] = HostTensor{Shape: []int64{99}, Data: make([]float32, 99)}
		rep, err := m.LoadState(base, LoadOptions{})
		if err != nil {
			return err
		}
		if !slices.Equal(rep.Initialised, []string{"classifier.weight", "classifier.bias"}) || !slices.Equal(rep.Ignored, []string{"cls.predictions.bias"}) || rep.Renamed == 0 {
			t.Errorf("base checkpoint report %+v", rep)
		}
		return nil
	})
}

func TestCorruptWeights(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "bert_cls", SafetensorsFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"truncated": src[:len(src)/2], "empty": nil, "garbage header": append([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, src[8:]...),
	} {
		f := filepath.Join(dir, name+".safetensors")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ReadWeights(f); err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %v, want one naming %s", name, err, f)
		}
	}
	bad := filepath.Join(dir, "bad.bin")
	os.WriteFile(bad, []byte("PK\x03\x04 not really a zip"), 0o644)
	if _, _, err := ReadWeights(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt .bin: error %v, want one naming the file", err)
	}
}

func TestFreezeBase(t *testing.T) {
	for _, c := range []string{"bert_cls", "distilbert_cls"} {
		t.Run(c, func(t *testing.T) {
			dir := filepath.Join("testdata", c)
			ref := loadReference(t, dir)
			withFixture(t, dir, func(_ *torchrt.Thread, m *Model) error {
				if err := m.FreezeBase(); err != nil {
					return err
				}
				if err := backwardPass(m, ref.input(), ref.Labels, true); err != nil {
					return err
				}
				total, trainable := m.NumParams()
				if trainable <= 0 || trainable >= total {
					t.Errorf("trainable %d of %d", trainable, total)
				}
				for _, p := range m.Params() {
					g, err := m.Tensor(p.Name).Grad(false)
					if err != nil {
						return err
					}
					has := g.MustDefined()
					g.MustDrop()
					if has != p.Trainable || p.Trainable != IsHead(p.Name) {
						t.Errorf("%s: trainable %v, has grad %v", p.Name, p.Trainable, has)
					}
				}
				return nil
			})
		})
	}
}

// backwardPass runs forward (with dropout if train), the loss and
// backward, leaving the gradients in the parameters.
func backwardPass(m *Model, in Input, labels []int64, train bool) error {
	logits, err := m.Forward(in, train)
	if err != nil {
		return err
	}
	defer logits.MustDrop()
	loss, err := m.Loss(logits, labels, LossOptions{})
	if err != nil {
		return err
	}
	defer loss.MustDrop()
	return loss.Backward()
}

// trainStep is a training step without the optimizer: backwardPass with
// dropout, then the gradients are dropped.
func trainStep(m *Model, in Input, labels []int64) error {
	if err := backwardPass(m, in, labels, true); err != nil {
		return err
	}
	return m.ZeroGrad()
}

// The gotch GC race (torchrt Note [Compute thread]): thousands of
// forward/backward passes while other goroutines allocate hard. Without
// the compute-thread discipline this crashed every run.
func TestStressUnderGCPressure(t *testing.T) {
	steps := 2000
	if testing.Short() {
		steps = 200
	}
	ref := loadReference(t, filepath.Join("testdata", "bert_cls"))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var garbage atomic.Int64
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				b := make([]byte, 64<<10)
				garbage.Add(int64(len(b)))
				runtime.Gosched()
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	withFixture(t, filepath.Join("testdata", "bert_cls"), func(th *torchrt.Thread, m *Model) error {
		for i := range steps {
			if err := trainStep(m, ref.input(), ref.Labels); err != nil {
				return err
			}
			if i%10 == 9 {
				th.Boundary()
			}
		}
		return nil
	})
	if garbage.Load() == 0 {
		t.Fatal("the allocating goroutines never ran")
	}
}

func TestLiveTensorsFlat(t *testing.T) {
	ref := loadReference(t, filepath.Join("testdata", "distilbert_cls"))
	withFixture(t, filepath.Join("testdata", "distilbert_cls"), func(th *torchrt.Thread, m *Model) error {
		var counts []int
		for range 50 {
			if err := trainStep(m, ref.input(), ref.Labels); err != nil {
				return err
			}
			th.Boundary()
			counts = append(counts, torchrt.LiveTensors())
		}
		if counts[len(counts)-1] != counts[2] || counts[2] < len(m.Params()) {
			t.Errorf("live tensors drift across steps: %v", counts)
		}
		return nil
	})
}
