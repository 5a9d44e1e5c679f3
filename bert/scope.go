package bert

import (
	"errors"
	"fmt"

	"github.com/sugarme/gotch/ts"
)

// scope owns the intermediate tensors of one forward pass and frees them
// together (Note [Tensor lifetimes]). Tensor ops go through scope.t, which
// turns a libtorch error into a panic that catch turns back into an error,
// so that model code reads as a sequence of ops.
type scope struct {
	live    []*ts.Tensor
	scalars []*ts.Scalar
}

// Note [Tensor lifetimes]: a gotch tensor is a Go handle to a C++ tensor.
// Dropping the handle only releases that handle's reference; autograd keeps
// what backward needs alive in C++. So every intermediate is dropped as soon
// as the forward pass is done with it, which keeps the live-tensor count
// flat across steps without waiting for the GC. Holding the handles in the
// scope until then also keeps them reachable, so no finalizer can free one
// during a cgo call (see torchrt's Note [Compute thread]).

type opError struct{ err error }

func (s *scope) t(x *ts.Tensor, err error) *ts.Tensor {
	if err != nil {
		panic(opError{err})
	}
	s.live = append(s.live, x)
	return x
}

func (s *scope) f(v float64) *ts.Scalar {
	x := ts.FloatScalar(v)
	s.scalars = append(s.scalars, x)
	return x
}

// keep removes x from the scope: the caller owns it now.
func (s *scope) keep(x *ts.Tensor) *ts.Tensor {
	for i := len(s.live) - 1; i >= 0; i-- {
		if s.live[i] == x {
			s.live = append(s.live[:i], s.live[i+1:]...)
			break
		}
	}
	return x
}

func (s *scope) free() {
	for _, x := range s.live {
		x.MustDrop()
	}
	for _, x := range s.scalars {
		x.MustDrop()
	}
	s.live, s.scalars = s.live[:0], s.scalars[:0]
}

// catch recovers a panic raised by scope.t into *err, wrapped with what.
func catch(err *error, what string) {
	r := recover()
	if r == nil {
		return
	}
	if oe, ok := r.(opError); ok {
		*err = fmt.Errorf("bert: %s: %w", what, oe.err)
		return
	}
	panic(r)
}

// ErrShape is wrapped by errors about inputs of the wrong shape or range.
var ErrShape = errors.New("bert: bad input")
