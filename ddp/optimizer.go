package ddp

import (
	"fmt"
	"slices"

	"github.com/sugarme/gotch/ts"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/ddp/devopt"
	"github.com/ddprun/ddprun/ddp/optim"
)

// optimizer updates a replica's parameters from its averaged gradients, in
// one of the two implementations of Note [Optimizer implementations]; the
// engine does not know which. Both read the layout the reducer made (the
// parameters' and the buckets' memory) and keep their state by parameter
// name, so a checkpoint of one resumes under the other.
type optimizer interface {
	// clipGradNorm scales the gradients to a global norm of at most max (0:
	// no clipping) and returns the norm before, as clip_grad_norm_ does.
	clipGradNorm(max float64) (float64, error)
	step(lr float64) error
	config() optim.Config
	state() (map[string]optim.ParamState, error)
	setState(map[string]optim.ParamState) error
	close()
}

// hostOptimizer is package optim's fused kernels over Go slices of host
// memory: the reducer's parameters, whose Grad slices are bucket memory.
type hostOptimizer struct {
	opt    *optim.Optimizer
	params []optim.Param
	// touched, when set (--lazy-embeddings), says which parameter is the
	// word embedding and which of its rows this step touched on any rank,
	// so that only those are updated (optim's Note [Lazy rows]).
	touched func() (param int, rows []int64, rowLen int)
}

func (h *hostOptimizer) clipGradNorm(max float64) (float64, error) {
	return optim.ClipGradNorm(h.params, max), nil
}

func (h *hostOptimizer) step(lr float64) error {
	if h.touched != nil {
		i, rows, n := h.touched()
		rows = slices.Compact(slices.Sorted(slices.Values(rows)))
		if rows == nil {
			rows = []int64{} // not nil: no row touched means no row updated
		}
		h.params[i].Rows, h.params[i].RowLen = rows, n
	}
	return h.opt.Step(h.params, lr)
}

func (h *hostOptimizer) config() optim.Config                          { return h.opt.Config() }
func (h *hostOptimizer) state() (map[string]optim.ParamState, error)   { return h.opt.State(), nil }
func (h *hostOptimizer) setState(st map[string]optim.ParamState) error { return h.opt.SetState(st) }
func (h *hostOptimizer) close()                                        {}

// flatOptimizer is package devopt's libtorch ops over whole buckets, on any
// device; the reducer made the parameters views of the weight buckets.
type flatOptimizer struct {
	*devopt.Optimizer
	grads []*ts.Tensor
}

func (f *flatOptimizer) clipGradNorm(max float64) (float64, error) {
	return devopt.ClipGradNorm(f.grads, max)
}

func (f *flatOptimizer) step(lr float64) error                         { return f.Step(lr) }
func (f *flatOptimizer) config() optim.Config                          { return f.Config() }
func (f *flatOptimizer) state() (map[string]optim.ParamState, error)   { return f.State() }
func (f *flatOptimizer) setState(st map[string]optim.ParamState) error { return f.SetState(st) }
func (f *flatOptimizer) close()                                        { f.Close() }

// newOptimizer builds the plan's implementation over the reducer's layout.
func newOptimizer(cfg optim.Config, m *bert.Model, r *reducer, flat, lazy bool) (optimizer, error) {
	if flat {
		o, err := devopt.New(cfg, r.groups())
		if err != nil {
			return nil, err
		}
		return &flatOptimizer{o, r.flat}, nil
	}
	o, err := optim.New(cfg)
	if err != nil {
		return nil, err
	}
	h := &hostOptimizer{opt: o}
	if h.params, err = hostParams(m, r); err != nil {
		return nil, err
	}
	if s := r.sparse; lazy && s != nil {
		last := len(h.params) - 1 // the word embeddings come last
		h.touched = func() (int, []int64, int) { return last, s.dirty, s.dim }
	}
	return h, nil
}

// hostParams lays the host optimizer's parameters over the model's memory
// and the reducer's gradient memory: bucket order, then the word
// embeddings when their gradient is sparse.
func hostParams(m *bert.Model, r *reducer) ([]optim.Param, error) {
	var ps []optim.Param
	add := func(name string, grad []float32, decay bool) error {
		data, err := hostFloats(m.Tensor(name))
		if err != nil {
			return fmt.Errorf("ddp: %s: %w", name, err)
		}
		ps = append(ps, optim.Param{Name: name, Data: data, Grad: grad, Decay: decay})
		return nil
	}
	for i, b := range r.buckets {
		for j, p := range b.Params {
			if err := add(p.Name, r.mem[i][b.Offsets[j]:b.Offsets[j]+p.Numel], p.Decay); err != nil {
				return nil, err
			}
		}
	}
	if s := r.sparse; s != nil {
		if err := add(s.name, s.mem, s.decay); err != nil {
			return nil, err
		}
	}
	return ps, nil
}
