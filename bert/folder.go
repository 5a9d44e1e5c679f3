package bert

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sugarme/gotch"
)

// ConfigFile is the configuration's name in an HF model folder.
const ConfigFile = "config.json"

// LoadPretrained reads an HF model folder (config.json and
// model.safetensors or pytorch_model.bin) onto device. adjust, if not nil,
// may change the configuration before the model is built: set the labels of
// the data, the pooling, the dropout. Tensors the folder lacks but the model
// may initialise (the classification head of a base checkpoint) are drawn
// from libtorch's generator and listed in the report.
func LoadPretrained(dir string, device gotch.Device, adjust func(*Config), opt LoadOptions) (*Model, LoadReport, error) {
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, LoadReport{}, err
	}
	if adjust != nil {
		adjust(&cfg)
	}
	w, file, err := ReadWeights(dir)
	if err != nil {
		return nil, LoadReport{File: file}, err
	}
	m, err := New(cfg, device)
	if err != nil {
		return nil, LoadReport{File: file}, fmt.Errorf("%s: %w", dir, err)
	}
	rep, err := m.LoadState(w, opt)
	rep.File = file
	if err != nil {
		m.Drop()
		return nil, rep, fmt.Errorf("%s: %w", file, err)
	}
	return m, rep, nil
}

// Save writes the model as an HF model folder: config.json and
// model.safetensors (float32, or bfloat16 with bf16). Tokenizer files are
// the tokenizer's to write.
func (m *Model) Save(dir string, bf16 bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bert: %w", err)
	}
	state, err := m.State()
	if err != nil {
		return err
	}
	if err := WriteSafetensors(filepath.Join(dir, SafetensorsFile), state, bf16); err != nil {
		return err
	}
	return m.Config.Save(filepath.Join(dir, ConfigFile))
}
