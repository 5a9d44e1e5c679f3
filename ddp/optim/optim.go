package optim

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// Kind names an optimizer.
type Kind string

const (
	AdamW Kind = "adamw" // Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's and HF's default
	Adam  Kind = "adam"  // Adam with L2 weight decay added to the gradient
	SGD   Kind = "sgd"   // SGD with optional momentum (dampening 0, no Nesterov)
)

// Param is one parameter's memory, as the optimizer sees it.
type Param struct {
	Name  string
	Data  []float32 // weights, updated in place
	Grad  []float32 // gradient; nil means none this step: the parameter is skipped, as in PyTorch
	Decay bool      // whether weight decay applies (HF: not to biases and LayerNorm weights)
	// Rows, if not nil, makes the update lazy (Note [Lazy rows]): only these
	// rows of RowLen values each are updated; the others keep their weights
	// and optimizer state. nil: the whole parameter, the exact update.
	Rows   []int64
	RowLen int
}

// Note [Lazy rows]: an embedding's rows that a step did not touch have a
// zero gradient, but exact Adam(W) still moves them: their moments decay,
// the moment-driven step continues and weight decay shrinks them. The lazy
// update (TensorFlow's LazyAdam, PyTorch's SparseAdam plus decoupled decay)
// skips them: untouched rows keep weights and moments, and touched rows get
// the usual update with the parameter's step count for bias correction. It
// is cheaper (a step touches a few percent of a vocabulary) and not
// PyTorch's AdamW; SGD without momentum and weight decay is the same either
// way.

// Config holds the hyper-parameters. Zero values take PyTorch's defaults.
type Config struct {
	Kind        Kind
	Beta1       float64 // 0.9
	Beta2       float64 // 0.999
	Eps         float64 // 1e-8
	WeightDecay float64 // 0
	Momentum    float64 // SGD only; 0
	Threads     int     // goroutines for the update loop; 0 = 1
}

// ErrState is wrapped by errors about optimizer state that does not fit.
var ErrState = errors.New("optim: bad state")

// Optimizer updates parameters from their gradients. It keeps per-parameter
// state (moments, step counts) by name.
type Optimizer struct {
	cfg   Config
	state map[string]*paramState
}

type paramState struct {
	Step int64
	M, V []float32 // Adam moments; SGD keeps its momentum buffer in M
}

// New checks cfg and makes an optimizer.
func New(cfg Config) (*Optimizer, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.Kind != AdamW && cfg.Kind != Adam && cfg.Kind != SGD:
		return nil, fmt.Errorf("optim: unknown optimizer %q (adamw, adam, sgd)", cfg.Kind)
	case cfg.Beta1 < 0 || cfg.Beta1 >= 1 || cfg.Beta2 < 0 || cfg.Beta2 >= 1:
		return nil, fmt.Errorf("optim: betas (%g, %g) must lie in [0, 1)", cfg.Beta1, cfg.Beta2)
	case cfg.Eps <= 0 || cfg.WeightDecay < 0 || cfg.Momentum < 0:
		return nil, fmt.Errorf("optim: eps %g must be positive, weight decay %g and momentum %g not negative", cfg.Eps, cfg.WeightDecay, cfg.Momentum)
	}
	return &Optimizer{cfg: cfg, state: map[string]*paramState{}}, nil
}

func (c Config) withDefaults() Config {
	if c.Kind == "" {
		c.Kind = AdamW
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	return c
}

// Config reports the configuration in use.
func (o *Optimizer) Config() Config { return o.cfg }

// Step applies one update with learning rate lr to every parameter that
// has a gradient.
func (o *Optimizer) Step(params []Param, lr float64) error {
	for _, p := range params {
		if p.Grad != nil && len(p.Grad) != len(p.Data) {
			return fmt.Errorf("optim: %s has %d values and a gradient of %d", p.Name, len(p.Data), len(p.Grad))
		}
		for _, r := range p.Rows {
			if p.RowLen <= 0 || r < 0 || int(r+1)*p.RowLen > len(p.Data) {
				return fmt.Errorf("optim: %s: row %d of %d values is outside its %d values", p.Name, r, p.RowLen, len(p.Data))
			}
		}
	}
	for _, p := range params {
		if p.Grad == nil {
			continue
		}
		st := o.stateOf(p)
		st.Step++
		o.update(p, st, lr)
	}
	return nil
}

func (o *Optimizer) stateOf(p Param) *paramState {
	st, ok := o.state[p.Name]
	if !ok || len(st.M) != len(p.Data) {
		st = &paramState{M: make([]float32, len(p.Data))}
		if o.cfg.Kind != SGD {
			st.V = make([]float32, len(p.Data))
		}
		o.state[p.Name] = st
	}
	return st
}

func (o *Optimizer) update(p Param, st *paramState, lr float64) {
	wd := 0.0
	if p.Decay {
		wd = o.cfg.WeightDecay
	}
	var k kernel
	switch o.cfg.Kind {
	case AdamW, Adam:
		k = o.adamKernel(st, lr, wd)
	case SGD:
		k = o.sgdKernel(st, lr, wd)
	}
	if p.Rows != nil {
		for _, r := range p.Rows {
			lo, hi := int(r)*p.RowLen, int(r+1)*p.RowLen
			k(p.Data[lo:hi], p.Grad[lo:hi], st.M[lo:hi], sub(st.V, lo, hi))
		}
		return
	}
	parallel(len(p.Data), o.cfg.Threads, func(lo, hi int) { k(p.Data[lo:hi], p.Grad[lo:hi], st.M[lo:hi], sub(st.V, lo, hi)) })
}

func sub(v []float32, lo, hi int) []float32 {
	if v == nil {
		return nil
	}
	return v[lo:hi]
}

// kernel updates one contiguous range of a parameter.
type kernel func(w, g, m, v []float32)

// adamKernel is PyTorch 1.13's _single_tensor_adam(w) fused into one pass,
// with the same float32 operations in the same order:
//
//	w *= 1 - lr*wd                      (AdamW)   g += wd*w   (Adam)
//	m = m*b1 + g*(1-b1)
//	v = v*b2 + (1-b2)*g*g
//	w += -lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
//
// It runs in C (kernel.c, vectorized) when cgo is available, else in Go
// (adamGo); both give the same bits.
func (o *Optimizer) adamKernel(st *paramState, lr, wd float64) kernel {
	b1, b2 := o.cfg.Beta1, o.cfg.Beta2
	t := float64(st.Step)
	bc1, bc2 := 1-math.Pow(b1, t), 1-math.Pow(b2, t)
	a := adamArgs{
		shrink: float32(1 - lr*wd), l2: float32(wd), decoupled: o.cfg.Kind == AdamW,
		b1: float32(b1), b1c: float32(1 - b1), b2: float32(b2), b2c: float32(1 - b2),
		bc2s: float32(math.Sqrt(bc2)), eps: float32(o.cfg.Eps), step: float32(-lr / bc1),
	}
	return func(w, g, m, v []float32) { adamC(w, g, m, v, a) }
}

// adamArgs are the float32 constants of one Adam update.
type adamArgs struct {
	shrink, l2                        float32
	decoupled                         bool
	b1, b1c, b2, b2c, bc2s, eps, step float32
}

// adamGo is the Go version of kernel.c's ddprun_adam.
func adamGo(w, g, m, v []float32, a adamArgs) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for i := range w {
		wi, gi := w[i], g[i]
		if a.decoupled {
			wi *= a.shrink
		} else {
			gi += float32(a.l2 * wi)
		}
		// The float32 conversions forbid fused multiply-adds (which Go may
		// use on arm64 and others): each operation rounds, as in kernel.c.
		mi := float32(m[i]*a.b1) + float32(gi*a.b1c)
		vi := float32(v[i]*a.b2) + float32(float32(a.b2c*gi)*gi)
		m[i], v[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))/a.bc2s + a.eps
		w[i] = wi + float32(a.step*(mi/denom))
	}
}

// sgdKernel is PyTorch's SGD: g += wd*w; buf = momentum*buf + g (the first
// step sets buf = g); w -= lr*buf.
func (o *Optimizer) sgdKernel(st *paramState, lr, wd float64) kernel {
	mom, first := float32(o.cfg.Momentum), st.Step == 1
	flr, fwd := float32(lr), float32(wd)
	return func(w, g, m, _ []float32) {
		g, m = g[:len(w)], m[:len(w)]
		for i := range w {
			gi := g[i] + fwd*w[i]
			if mom != 0 {
				if first {
					m[i] = gi
				} else {
					m[i] = m[i]*mom + gi
				}
				gi = m[i]
			}
			w[i] -= flr * gi
		}
	}
}

// parallel runs f over [0, n) split into about threads parts of at least
// 64 Ki elements each.
func parallel(n, threads int, f func(lo, hi int)) {
	parts := min(max(threads, 1), max(n/(64<<10), 1))
	if parts == 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := n*i/parts, n*(i+1)/parts
		wg.Go(func() { f(lo, hi) })
	}
	wg.Wait()
}

// ClipGradNorm scales the gradients so that their global L2 norm is at most
// maxNorm, as torch.nn.utils.clip_grad_norm_ does (coefficient
// maxNorm/(norm+1e-6), applied only when below 1), and returns the norm
// before clipping. maxNorm <= 0 only measures. In DDP the gradients are the
// all-reduced ones, so every rank computes the same norm and scale.
func ClipGradNorm(params []Param, maxNorm float64) float64 {
	var sum float64
	for _, p := range params {
		sum += sumSquares(p.Grad)
	}
	norm := math.Sqrt(sum)
	if maxNorm <= 0 || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	coef := maxNorm / (norm + 1e-6)
	if coef >= 1 {
		return norm
	}
	c := float32(coef)
	for _, p := range params {
		scale(p.Grad, c)
	}
	return norm
}

// ParamState is one parameter's optimizer state.
type ParamState struct {
	Step int64
	M, V []float32
}

// State returns the optimizer's state by parameter name, for checkpoints.
// The slices are the optimizer's own: encode them before the next Step.
func (o *Optimizer) State() map[string]ParamState {
	out := make(map[string]ParamState, len(o.state))
	for n, s := range o.state {
		out[n] = ParamState{Step: s.Step, M: s.M, V: s.V}
	}
	return out
}

// SetState replaces the optimizer's state (from a checkpoint). Every entry
// must fit the optimizer kind: moments V for Adam(W), none for SGD.
func (o *Optimizer) SetState(st map[string]ParamState) error {
	next := make(map[string]*paramState, len(st))
	for n, s := range st {
		if (o.cfg.Kind == SGD) != (s.V == nil) || (s.V != nil && len(s.V) != len(s.M)) {
			return fmt.Errorf("%w: %s: state does not fit optimizer %s", ErrState, n, o.cfg.Kind)
		}
		next[n] = &paramState{Step: s.Step, M: s.M, V: s.V}
	}
	o.state = next
	return nil
}
