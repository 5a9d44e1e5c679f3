package ddp

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/internal/torchrt"
)

// Note [Overlap]: with gradient hooks (torchrt Note [Gradient hooks]) a
// bucket's all-reduce starts as soon as backward has written the last of
// its gradients, on a goroutine, while backward goes on computing the
// gradients of earlier layers. Buckets are still reduced strictly in bucket
// order (every rank must issue the same collectives in the same order);
// Note [Bucket order] makes that order close to the order in which
// backward finishes them. Buckets whose parameters got no gradient are
// flushed when backward returns. Only the last micro-batch of a step
// synchronises (gradient accumulation), so only its backward is armed.

// overlapper runs one step's bucket all-reduces behind backward.
type overlapper struct {
	r            *reducer
	size         []int32        // parameters per bucket
	pending      []atomic.Int32 // parameters per bucket still without their gradient
	armed        atomic.Bool
	ready        chan int
	flush        chan struct{}
	done         chan error
	backwardDone atomic.Bool
	early        atomic.Int64 // buckets whose all-reduce started before backward returned, cumulative
	hooked       atomic.Int64 // buckets that hooks found complete during backward, cumulative
}

func newOverlapper(r *reducer, m *bert.Model) (*overlapper, error) {
	o := &overlapper{r: r, pending: make([]atomic.Int32, len(r.buckets)), size: make([]int32, len(r.buckets))}
	for b, bucket := range r.buckets {
		o.size[b] = int32(len(bucket.Params))
		for _, p := range bucket.Params {
			if err := torchrt.OnGradReady(m.Tensor(p.Name), func() { o.gradReady(b) }); err != nil {
				return nil, fmt.Errorf("ddp: %s: %w", p.Name, err)
			}
		}
	}
	return o, nil
}

// gradReady runs inside backward (see Note [Gradient hooks]): count, and
// hand a complete bucket to the all-reduce goroutine.
func (o *overlapper) gradReady(b int) {
	if o.armed.Load() && o.pending[b].Add(-1) == 0 {
		o.hooked.Add(1)
		o.ready <- b
	}
}

// start arms the hooks for the coming backward and starts the goroutine
// that reduces the buckets in order as they become ready.
func (o *overlapper) start(ctx context.Context, c collective.Comm, onBucket func(int)) {
	n := len(o.size)
	for b := range n {
		o.pending[b].Store(o.size[b])
	}
	o.ready, o.flush, o.done = make(chan int, n), make(chan struct{}), make(chan error, 1)
	o.backwardDone.Store(false)
	o.armed.Store(true)
	go func() { o.done <- o.run(ctx, c, onBucket) }()
}

func (o *overlapper) run(ctx context.Context, c collective.Comm, onBucket func(int)) error {
	ready := make([]bool, len(o.size))
	flushed := false
	for next := 0; next < len(o.size); {
		if !ready[next] && !flushed {
			select {
			case b := <-o.ready:
				ready[b] = true
			case <-o.flush:
				flushed = true
			}
			continue
		}
		if !o.backwardDone.Load() {
			o.early.Add(1)
		}
		if err := o.r.allReduceBucket(ctx, c, next, onBucket); err != nil {
			o.drain()
			return err
		}
		next++
	}
	return nil
}

// drain waits for the end of backward after a failure, so that the
// hooks never block on a full channel.
func (o *overlapper) drain() {
	for {
		select {
		case <-o.ready:
		case <-o.flush:
			return
		}
	}
}

// finish is called when backward has returned: the remaining buckets are
// reduced now, and finish waits for all of them.
func (o *overlapper) finish() error {
	o.backwardDone.Store(true)
	o.armed.Store(false)
	close(o.flush)
	return <-o.done
}
