package bert

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nlpodyssey/safetensors"
	"github.com/sugarme/gotch/half"
	"github.com/sugarme/gotch/pickle"

	"github.com/ddprun/ddprun/internal/atomicfile"
)

// HostTensor is a tensor in Go memory: contiguous float32 values.
type HostTensor struct {
	Shape []int64
	Data  []float32
}

// ErrWeights is wrapped by errors about checkpoint contents.
var ErrWeights = errors.New("bert: bad weights")

// Weight file names in an HF model folder, in the order they are tried.
const (
	SafetensorsFile = "model.safetensors"
	TorchBinFile    = "pytorch_model.bin"
)

// ReadWeights reads model.safetensors, or else pytorch_model.bin, from an
// HF model folder (or the file itself when path is a file). Every tensor is
// converted to float32.
func ReadWeights(path string) (map[string]HostTensor, string, error) {
	file := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		file = filepath.Join(path, SafetensorsFile)
		if _, err := os.Stat(file); err != nil {
			file = filepath.Join(path, TorchBinFile)
		}
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			return nil, path, fmt.Errorf("bert: %s has no weights: neither %s nor %s (is it an HF model folder?)", path, SafetensorsFile, TorchBinFile)
		}
	}
	var (
		w   map[string]HostTensor
		err error
	)
	if strings.HasSuffix(file, ".bin") || strings.HasSuffix(file, ".pt") || strings.HasSuffix(file, ".pth") {
		w, err = readTorchBin(file)
	} else {
		w, err = readSafetensors(file)
	}
	if err != nil {
		return nil, file, fmt.Errorf("bert: reading weights %s: %w", file, err)
	}
	return w, file, nil
}

func readSafetensors(file string) (map[string]HostTensor, error) {
	buf, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	st, err := safetensors.Deserialize(buf)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWeights, err)
	}
	out := map[string]HostTensor{}
	for _, v := range st.Tensors() {
		shape := make([]int64, len(v.TensorView.Shape()))
		for i, d := range v.TensorView.Shape() {
			shape[i] = int64(d)
		}
		data, err := decodeFloats(v.TensorView.DType(), v.TensorView.Data())
		if err != nil {
			return nil, fmt.Errorf("%w: tensor %s: %v", ErrWeights, v.Name, err)
		}
		out[v.Name] = HostTensor{Shape: shape, Data: data}
	}
	return out, nil
}

func decodeFloats(dt safetensors.DType, b []byte) ([]float32, error) {
	switch dt {
	case safetensors.F32:
		out := make([]float32, len(b)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, nil
	case safetensors.BF16:
		out := make([]float32, len(b)/2)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
		return out, nil
	case safetensors.F16:
		out := make([]float32, len(b)/2)
		for i := range out {
			out[i] = half.Frombits(binary.LittleEndian.Uint16(b[2*i:])).Float32()
		}
		return out, nil
	case safetensors.F64:
		out := make([]float32, len(b)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
		return out, nil
	}
	return nil, fmt.Errorf("dtype %v is not a floating-point type ddprun loads", dt)
}

// readTorchBin reads a torch.save state dict (zip or legacy format) with
// gotch's pure-Go unpickler, adding the BFloat16Storage class gotch v0.9.1
// leaves out of its class table.
func readTorchBin(file string) (map[string]HostTensor, error) {
	newUnpickler := func(r io.Reader) pickle.Unpickler {
		u := pickle.NewUnpickler(r)
		u.FindClass = func(module, name string) (any, error) {
			switch module + "." + name {
			case "torch.BFloat16Storage":
				return &pickle.BFloat16StorageClass{}, nil
			case "collections.OrderedDict":
				return &pickle.OrderedDictClass{}, nil
			}
			return nil, fmt.Errorf("class not found: %s.%s", module, name)
		}
		return u
	}
	res, err := pickle.LoadWithUnpickler(file, newUnpickler)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWeights, err)
	}
	out := map[string]HostTensor{}
	add := func(name any, v any) error {
		n, ok := name.(string)
		sx, ok2 := v.(*pickle.StorageTensor)
		if !ok || !ok2 {
			return fmt.Errorf("%w: entry %v is a %T, not a tensor", ErrWeights, name, v)
		}
		t, err := fromStorage(sx)
		if err != nil {
			return fmt.Errorf("%w: tensor %s: %v", ErrWeights, n, err)
		}
		out[n] = t
		return nil
	}
	switch d := res.(type) {
	case *pickle.OrderedDict:
		for k, item := range d.Map {
			if err := add(k, item.Value); err != nil {
				return nil, err
			}
		}
	case *pickle.Dict:
		for _, item := range *d {
			if err := add(item.Key, item.Value); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("%w: expected a state dict, found %T", ErrWeights, res)
	}
	return out, nil
}

// fromStorage copies a (possibly strided, offset) pickled tensor out of its
// storage into a contiguous float32 tensor.
func fromStorage(sx *pickle.StorageTensor) (HostTensor, error) {
	var at func(i int64) float32
	var n int64
	switch d := sx.Source.GetData().(type) {
	case []float32:
		at, n = func(i int64) float32 { return d[i] }, int64(len(d))
	case []float64:
		at, n = func(i int64) float32 { return float32(d[i]) }, int64(len(d))
	case []half.BFloat16:
		at, n = func(i int64) float32 { return half.BFloat16ToFloat32(uint16(d[i])) }, int64(len(d))
	case []half.Float16:
		at, n = func(i int64) float32 { return d[i].Float32() }, int64(len(d))
	case []int64: // buffers such as position_ids, dropped by LoadState
		at, n = func(i int64) float32 { return float32(d[i]) }, int64(len(d))
	default:
		return HostTensor{}, fmt.Errorf("storage of %T is not floating point", d)
	}
	shape := slices.Clone(sx.Size)
	out := HostTensor{Shape: shape, Data: make([]float32, numel(shape))}
	idx := make([]int64, len(shape))
	for k := range out.Data {
		off := sx.StorageOffset
		for d := range idx {
			off += idx[d] * sx.Stride[d]
		}
		if off < 0 || off >= n {
			return HostTensor{}, fmt.Errorf("element %d lies outside its storage of %d", k, n)
		}
		out.Data[k] = at(off)
		for d := len(idx) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out, nil
}

// WriteSafetensors writes tensors to file atomically, as float32 or, with
// bf16, rounded to bfloat16 (round to nearest even).
func WriteSafetensors(file string, tensors map[string]HostTensor, bf16 bool) error {
	views := make(map[string]safetensors.TensorView, len(tensors))
	for name, t := range tensors {
		dt, data := safetensors.F32, encodeF32(t.Data)
		if bf16 {
			dt, data = safetensors.BF16, encodeBF16(t.Data)
		}
		shape := make([]uint64, len(t.Shape))
		for i, d := range t.Shape {
			shape[i] = uint64(d)
		}
		v, err := safetensors.NewTensorView(dt, shape, data)
		if err != nil {
			return fmt.Errorf("bert: tensor %s: %w", name, err)
		}
		views[name] = v
	}
	return atomicfile.WriteFunc(file, func(w io.Writer) error {
		return safetensors.SerializeToWriter(views, map[string]string{"format": "pt"}, w)
	})
}

func encodeF32(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func encodeBF16(v []float32) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], half.Float32ToBFloat16(x))
	}
	return b
}
