package bert

import (
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// LoadReport says how a checkpoint's tensors mapped onto the model.
type LoadReport struct {
	File        string
	Loaded      int
	Initialised []string // in the model, not in the file: freshly initialised (the head of a base checkpoint)
	Ignored     []string // in the file, not in the model, known to be unused (the other task's head, buffers)
	Tied        []string // in the file, aliases of a tied tensor (Note [Masked-LM head]): checked equal to it and dropped
	Renamed     int      // tensors found under an older name (gamma/beta, no "bert." prefix)
}

// LoadOptions change how weights map onto the model.
type LoadOptions struct {
	// ReinitMismatchedHead initialises classification-head tensors whose
	// shape differs from the file's (a different number of labels) instead
	// of failing, like HF's ignore_mismatched_sizes.
	ReinitMismatchedHead bool
}

// LoadState copies tensors into the model's parameters with HF's checks:
// every tensor in the file must be a known parameter or ignorable, every
// parameter must be in the file (except the task's head: a classifier's
// head and BERT's pooler, or the masked-LM head, which are initialised and
// reported), and shapes must match. A masked LM's tied aliases are checked
// and dropped (Note [Masked-LM head]).
func (m *Model) LoadState(w map[string]HostTensor, opt LoadOptions) (LoadReport, error) {
	w, renamed := normaliseNames(w, m.Config.family().prefix)
	rep := LoadReport{Renamed: renamed}
	var problems []string
	if m.Config.MaskedLM() {
		w, rep.Tied, problems = m.untie(w)
	}
	for _, p := range m.params {
		t, ok := w[p.Name]
		switch {
		case !ok && m.initialisable(p.Name):
			rep.Initialised = append(rep.Initialised, p.Name)
		case !ok:
			problems = append(problems, "missing "+p.Name)
		case !slices.Equal(t.Shape, p.Shape) && IsHead(p.Name) && opt.ReinitMismatchedHead:
			rep.Initialised = append(rep.Initialised, p.Name)
		case !slices.Equal(t.Shape, p.Shape) && IsHead(p.Name):
			problems = append(problems, fmt.Sprintf("%s has shape %v in the file, the model needs %v (a different number of labels: "+
				"re-initialise the head with --ignore-mismatched-sizes)", p.Name, t.Shape, p.Shape))
		case !slices.Equal(t.Shape, p.Shape):
			problems = append(problems, fmt.Sprintf("%s has shape %v in the file, the model needs %v", p.Name, t.Shape, p.Shape))
		}
	}
	for _, name := range slices.Sorted(keys(w)) {
		if _, ok := m.tensor[name]; ok {
			continue
		}
		if m.ignorable(name) {
			rep.Ignored = append(rep.Ignored, name)
		} else {
			problems = append(problems, "unexpected "+name)
		}
	}
	if len(problems) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrWeights, strings.Join(problems, "; "))
	}
	for _, p := range m.params {
		if t, ok := w[p.Name]; ok && !slices.Contains(rep.Initialised, p.Name) {
			if err := m.setParam(p.Name, t); err != nil {
				return rep, err
			}
			rep.Loaded++
		}
	}
	return rep, nil
}

// initialisable reports the parameters a checkpoint may lack: the task's
// head (a base encoder has none; a classifier has no masked-LM head and the
// other way round), and the pooler in front of a classifier's head.
func (m *Model) initialisable(name string) bool {
	if m.Config.MaskedLM() {
		return IsMaskedLMHead(name)
	}
	pooler := m.Config.family().pooler
	return IsHead(name) || pooler != "" && strings.HasPrefix(name, pooler)
}

// ignorable reports the tensors checkpoints carry that a model of this
// task does not use: the other task's head (BERT's pooler for a masked
// LM), other pretraining and QA heads, the position_ids buffer. Any
// family's, not only the model's own: a file's extra tensors are judged by
// name alone.
func (m *Model) ignorable(name string) bool {
	task := TaskClassify
	if m.Config.MaskedLM() {
		task = TaskMaskedLM
	}
	return hasAnyPrefix(name, anyFamily(func(f *family) []string { return f.unusedBy[task] }))
}

// untie drops the aliases of a masked LM's tied tensors from w (Note
// [Masked-LM head]): each must equal the tensor it aliases, or stand in
// for it when the file lacks that one.
func (m *Model) untie(w map[string]HostTensor) (out map[string]HostTensor, tied, problems []string) {
	aliases := m.Config.family().tied
	out = make(map[string]HostTensor, len(w))
	for name, t := range w {
		if _, ok := aliases[name]; !ok {
			out[name] = t
		}
	}
	for _, alias := range slices.Sorted(keys(aliases)) {
		t, ok := w[alias]
		if !ok {
			continue
		}
		tied = append(tied, alias)
		target := aliases[alias]
		have, ok := out[target]
		switch {
		case !ok:
			out[target] = t
		case !slices.Equal(have.Shape, t.Shape) || !slices.Equal(have.Data, t.Data):
			problems = append(problems, fmt.Sprintf("%s differs from %s, which it is tied to (untied output embeddings are not supported)", alias, target))
		}
	}
	return out, tied, problems
}

// normaliseNames maps older and bare-model names onto the classifier's:
// LayerNorm gamma/beta become weight/bias, and a checkpoint of the bare
// encoder (BertModel: "embeddings.word_embeddings.weight") gets the prefix.
func normaliseNames(w map[string]HostTensor, prefix string) (map[string]HostTensor, int) {
	bare := true
	for name := range w {
		if strings.HasPrefix(name, prefix) {
			bare = false
			break
		}
	}
	out := make(map[string]HostTensor, len(w))
	renamed := 0
	for name, t := range w {
		n := name
		if strings.HasSuffix(n, ".gamma") {
			n = strings.TrimSuffix(n, ".gamma") + ".weight"
		} else if strings.HasSuffix(n, ".beta") {
			n = strings.TrimSuffix(n, ".beta") + ".bias"
		}
		if bare && isEncoderName(n) {
			n = prefix + n
		}
		if n != name {
			renamed++
		}
		out[n] = t
	}
	return out, renamed
}

// isEncoderName reports a name of a bare encoder's module, of any family.
func isEncoderName(n string) bool {
	return hasAnyPrefix(n, anyFamily(func(f *family) []string { return f.encoderModules }))
}

func keys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// setParam copies host values into a parameter, without recording autograd.
func (m *Model) setParam(name string, h HostTensor) (err error) {
	dst := m.tensor[name]
	s := &scope{}
	defer s.free()
	defer catch(&err, "loading "+name)
	src := s.t(ts.OfSlice(h.Data))
	src = s.t(src.View(h.Shape, false))
	if m.device != gotch.CPU {
		src = s.t(src.To(m.device, false))
	}
	ts.NoGrad(func() { dst.Copy_(src) })
	return nil
}

// State copies every parameter to Go memory, keyed by HF name.
func (m *Model) State() (map[string]HostTensor, error) {
	out := make(map[string]HostTensor, len(m.params))
	for _, p := range m.params {
		h, err := ToHost(m.tensor[p.Name])
		if err != nil {
			return nil, fmt.Errorf("bert: reading %s: %w", p.Name, err)
		}
		out[p.Name] = h
	}
	return out, nil
}

// ToHost copies a float tensor (any device, any float dtype) to Go memory.
func ToHost(t *ts.Tensor) (h HostTensor, err error) {
	s := &scope{}
	defer s.free()
	defer catch(&err, "copying to host")
	shape, err := t.Size()
	if err != nil {
		return h, err
	}
	x := s.t(t.ToDevice(gotch.CPU, gotch.Float, false, false, false))
	x = s.t(x.Contiguous(false))
	h = HostTensor{Shape: shape, Data: make([]float32, numel(shape))}
	if err := copyOut(x, h.Data); err != nil {
		return h, err
	}
	return h, nil
}

// copyOut copies a contiguous CPU tensor's memory into dst, whose element
// type must match the tensor's dtype. gotch's CopyData inspects dst element
// by element through reflection and a map lookup (O(n) in Go before the
// memcpy: 12 ms for 262K floats); this is the memcpy alone.
func copyOut[T float32 | int64](t *ts.Tensor, dst []T) error {
	want := gotch.Float
	var zero T
	if any(zero) == any(int64(0)) {
		want = gotch.Int64
	}
	if t.DType() != want {
		return fmt.Errorf("bert: copying a %v tensor into %T", t.DType(), dst)
	}
	if n := int(t.Numel()); n != len(dst) {
		return fmt.Errorf("bert: copying %d elements into %d", n, len(dst))
	}
	if len(dst) == 0 {
		return nil
	}
	p, err := t.DataPtr()
	if err != nil {
		return err
	}
	copy(dst, unsafe.Slice((*T)(p), len(dst)))
	return nil
}
