// Package devopt steps AdamW, Adam or SGD over flat fp32 tensors on any
// device: the weights, gradients and moments of a group of parameters
// (a gradient bucket) are views of a few contiguous buffers, and a step is
// a handful of libtorch ops per group, on the device the buffers live on,
// instead of a handful per parameter. It is ddp's optimizer on CUDA, where
// the per-parameter host kernels of package optim cannot reach the memory,
// and optional on the CPU (see ddp's Note [Optimizer implementations]).
//
// The update is the op sequence of PyTorch 1.13's single-tensor
// torch.optim implementations, so it equals package optim's (a fused
// host kernel of the same sequence) to float rounding; TestMatchesHost
// checks it. Hyper-parameters and state are package optim's types.
package devopt

/*
#cgo CXXFLAGS: -std=c++17
#cgo LDFLAGS: -ltorch_cpu -lc10
#include <stdint.h>
#include <stdlib.h>

int ddprun_flat_adam(void* w, void* g, void* m, void* v, int64_t n_decay, double lr, double wd,
                     double b1, double b2, double eps, int64_t step, int decoupled, char* err, int errlen);
int ddprun_flat_sgd(void* w, void* g, void* buf, int64_t n_decay, double lr, double wd, double momentum,
                    int first, char* err, int errlen);
int ddprun_flat_norm(void** ts, int n, double* out, char* err, int errlen);
int ddprun_flat_scale(void** ts, int n, double c, char* err, int errlen);
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/ddp/optim"
)

// Slot is one parameter's range in its group's buffers, in elements.
type Slot struct {
	Name          string
	Offset, Numel int
}

// Group is one flat buffer of weights and its gradient buffer: 1-D fp32
// tensors of equal length on one device. The first NDecay elements get
// weight decay (HF: not biases and LayerNorm weights, which a caller puts
// last). Slots name the parameters, for State and SetState.
type Group struct {
	W, G   *ts.Tensor
	NDecay int
	Slots  []Slot
}

// Optimizer holds the moment buffers, one pair per group, and the step
// counts. All methods run on the compute thread.
type Optimizer struct {
	cfg    optim.Config
	groups []Group
	m, v   []*ts.Tensor // v is nil for SGD
	steps  []int64
}

// New checks cfg (as optim.New does) and the groups, and allocates zeroed
// moments beside each group's weights.
func New(cfg optim.Config, groups []Group) (_ *Optimizer, err error) {
	host, err := optim.New(cfg)
	if err != nil {
		return nil, err
	}
	o := &Optimizer{cfg: host.Config(), groups: groups, steps: make([]int64, len(groups))}
	defer func() {
		if err != nil {
			o.Close()
		}
	}()
	for i, g := range groups {
		n, err := checkGroup(g)
		if err != nil {
			return nil, fmt.Errorf("devopt: group %d: %w", i, err)
		}
		dev, _ := g.W.Device()
		m, err := ts.Zeros([]int64{n}, gotch.Float, dev)
		if err != nil {
			return nil, fmt.Errorf("devopt: group %d: allocating moments: %w", i, err)
		}
		o.m = append(o.m, m)
		if o.cfg.Kind != optim.SGD {
			v, err := ts.Zeros([]int64{n}, gotch.Float, dev)
			if err != nil {
				return nil, fmt.Errorf("devopt: group %d: allocating moments: %w", i, err)
			}
			o.v = append(o.v, v)
		}
	}
	return o, nil
}

func checkGroup(g Group) (int64, error) {
	if g.W == nil || g.G == nil {
		return 0, errors.New("missing weights or gradients")
	}
	n := g.W.Numel()
	if g.W.DType() != gotch.Float || g.G.DType() != gotch.Float {
		return 0, fmt.Errorf("want float32 buffers, have %v and %v", g.W.DType(), g.G.DType())
	}
	if int64(g.G.Numel()) != int64(n) || g.W.Dim() != 1 || g.G.Dim() != 1 {
		return 0, fmt.Errorf("weights (%v) and gradients (%v) must be 1-D of one length", g.W.MustSize(), g.G.MustSize())
	}
	if g.NDecay < 0 || g.NDecay > int(n) {
		return 0, fmt.Errorf("%d decaying elements of %d", g.NDecay, n)
	}
	end := 0
	for _, s := range g.Slots {
		if s.Offset < end || s.Numel < 0 || s.Offset+s.Numel > int(n) {
			return 0, fmt.Errorf("%s: slot [%d, %d) overlaps or leaves the %d elements", s.Name, s.Offset, s.Offset+s.Numel, n)
		}
		end = s.Offset + s.Numel
	}
	return int64(n), nil
}

// Config reports the hyper-parameters in use (with defaults filled in).
func (o *Optimizer) Config() optim.Config { return o.cfg }

// Step applies one update with learning rate lr to every group.
func (o *Optimizer) Step(lr float64) error {
	var cerr [512]C.char
	for i, g := range o.groups {
		o.steps[i]++
		wd := o.cfg.WeightDecay
		var ok C.int
		switch o.cfg.Kind {
		case optim.AdamW, optim.Adam:
			ok = C.ddprun_flat_adam(g.W.Ctensor(), g.G.Ctensor(), o.m[i].Ctensor(), o.v[i].Ctensor(), C.int64_t(g.NDecay),
				C.double(lr), C.double(wd), C.double(o.cfg.Beta1), C.double(o.cfg.Beta2), C.double(o.cfg.Eps),
				C.int64_t(o.steps[i]), cbool(o.cfg.Kind == optim.AdamW), &cerr[0], C.int(len(cerr)))
		case optim.SGD:
			ok = C.ddprun_flat_sgd(g.W.Ctensor(), g.G.Ctensor(), o.m[i].Ctensor(), C.int64_t(g.NDecay),
				C.double(lr), C.double(wd), C.double(o.cfg.Momentum), cbool(o.steps[i] == 1), &cerr[0], C.int(len(cerr)))
		}
		runtime.KeepAlive(g)
		if ok != 1 {
			return fmt.Errorf("devopt: %s step on group %d: %s", o.cfg.Kind, i, C.GoString(&cerr[0]))
		}
	}
	runtime.KeepAlive(o)
	return nil
}

// Close frees the moments. The optimizer is unusable afterwards.
func (o *Optimizer) Close() {
	for _, t := range append(o.m, o.v...) {
		t.MustDrop()
	}
	o.m, o.v = nil, nil
}

// State copies the moments to Go memory, by parameter name (package
// optim's checkpoint form: exp_avg in M, exp_avg_sq in V, SGD's momentum
// buffer in M). A group that has not stepped yet has no state.
func (o *Optimizer) State() (map[string]optim.ParamState, error) {
	out := map[string]optim.ParamState{}
	for i, g := range o.groups {
		if o.steps[i] == 0 {
			continue
		}
		m, err := bert.ToHost(o.m[i])
		if err != nil {
			return nil, fmt.Errorf("devopt: reading moments: %w", err)
		}
		var v bert.HostTensor
		if o.v != nil {
			if v, err = bert.ToHost(o.v[i]); err != nil {
				return nil, fmt.Errorf("devopt: reading moments: %w", err)
			}
		}
		for _, s := range g.Slots {
			st := optim.ParamState{Step: o.steps[i], M: m.Data[s.Offset : s.Offset+s.Numel : s.Offset+s.Numel]}
			if o.v != nil {
				st.V = v.Data[s.Offset : s.Offset+s.Numel : s.Offset+s.Numel]
			}
			out[s.Name] = st
		}
	}
	return out, nil
}

// SetState loads moments saved by State (or by package optim). Within a
// group every parameter must have state with one step count, or none has
// (the group starts afresh): the group steps as one.
func (o *Optimizer) SetState(st map[string]optim.ParamState) error {
	for i, g := range o.groups {
		have, step := 0, int64(-1)
		for _, s := range g.Slots {
			ps, ok := st[s.Name]
			if !ok {
				continue
			}
			have++
			switch {
			case step >= 0 && ps.Step != step:
				return fmt.Errorf("%w: %s is at step %d, other parameters of its bucket at %d", optim.ErrState, s.Name, ps.Step, step)
			case len(ps.M) != s.Numel || (o.v != nil) != (ps.V != nil) || (ps.V != nil && len(ps.V) != s.Numel):
				return fmt.Errorf("%w: %s: state does not fit optimizer %s and %d values", optim.ErrState, s.Name, o.cfg.Kind, s.Numel)
			}
			step = ps.Step
		}
		if have != 0 && have != len(g.Slots) {
			return fmt.Errorf("%w: %d of the %d parameters of bucket %d have optimizer state", optim.ErrState, have, len(g.Slots), i)
		}
		n := int(o.m[i].Numel())
		m, v := make([]float32, n), make([]float32, n)
		if have > 0 {
			for _, s := range g.Slots {
				copy(m[s.Offset:], st[s.Name].M)
				copy(v[s.Offset:], st[s.Name].V)
			}
		}
		if err := fill(o.m[i], m); err != nil {
			return err
		}
		if o.v != nil {
			if err := fill(o.v[i], v); err != nil {
				return err
			}
		}
		o.steps[i] = max(step, 0)
	}
	return nil
}

// fill copies host values into a flat tensor on any device.
func fill(dst *ts.Tensor, data []float32) (err error) {
	src, err := ts.OfSlice(data)
	if err != nil {
		return fmt.Errorf("devopt: loading moments: %w", err)
	}
	defer src.MustDrop()
	dst.Copy_(src) // same numel and dtype by construction
	return nil
}

// ClipGradNorm is torch.nn.utils.clip_grad_norm_ over flat gradient
// buffers: it returns their global L2 norm and, when maxNorm > 0 and the
// norm exceeds it, scales them by maxNorm/(norm+1e-6). Reading the norm is
// the step's one device synchronisation.
func ClipGradNorm(grads []*ts.Tensor, maxNorm float64) (float64, error) {
	ptrs := cPtrs(grads)
	defer C.free(unsafe.Pointer(ptrs))
	var cerr [512]C.char
	var norm C.double
	if C.ddprun_flat_norm(ptrs, C.int(len(grads)), &norm, &cerr[0], C.int(len(cerr))) != 1 {
		return 0, fmt.Errorf("devopt: gradient norm: %s", C.GoString(&cerr[0]))
	}
	n := float64(norm)
	if maxNorm <= 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return n, nil
	}
	coef := maxNorm / (n + 1e-6)
	if coef >= 1 {
		return n, nil
	}
	ok := C.ddprun_flat_scale(ptrs, C.int(len(grads)), C.double(float32(coef)), &cerr[0], C.int(len(cerr)))
	runtime.KeepAlive(grads)
	if ok != 1 {
		return n, fmt.Errorf("devopt: clipping gradients: %s", C.GoString(&cerr[0]))
	}
	return n, nil
}

// cPtrs is a C array of the tensors' handles (C memory: cgo forbids Go
// pointers to Go pointers).
func cPtrs(t []*ts.Tensor) *unsafe.Pointer {
	p := (*unsafe.Pointer)(C.malloc(C.size_t(max(len(t), 1)) * C.size_t(unsafe.Sizeof(unsafe.Pointer(nil)))))
	s := unsafe.Slice(p, max(len(t), 1))
	for i, x := range t {
		s[i] = x.Ctensor()
	}
	return p
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
