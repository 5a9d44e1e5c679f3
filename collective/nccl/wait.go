package nccl

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/ddprun/ddprun/collective"
)

// Note [Waiting]: an NCCL collective has two phases. The call enqueues
// kernels on the stream and normally returns at once, but it may block
// (lazy connection set-up, a peer that never arrives; the in-process test
// library blocks until every rank has called). Then the kernels run, and
// they hang if a peer is dead. So the call runs on its own goroutine while
// the caller watches ctx, Close and the deadline and polls
// ncclCommGetAsyncError; then the caller polls cudaStreamQuery, spinning
// briefly and then sleeping with backoff, with the same checks. On any
// failure it calls ncclCommAbort, which makes a blocked call return and
// stops the kernels, and the Comm is poisoned. A dead peer therefore turns
// into an error within Timeout on every rank that waits for it, and NCCL's
// own error (ncclRemoteError, ncclSystemError) sooner where NCCL sees it.

const (
	pollEvery = time.Millisecond // async-error checks while the call blocks
	spinPolls = 200              // stream polls before sleeping
	maxSleep  = time.Millisecond // longest sleep between stream polls
)

// abortGrace bounds the wait for a blocked call to return after
// ncclCommAbort.
var abortGrace = 30 * time.Second

// run enqueues with call and waits for the stream. The caller holds c.mu.
func (c *Comm) run(ctx context.Context, call func(h, stream uintptr) result, fn string) error {
	deadline := time.Now().Add(c.cfg.Timeout)
	h, stream := c.handle, c.stream
	res := make(chan result, 1)
	c.wg.Go(func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if r := c.cuda.setDevice(c.cfg.Device); r != cudaSuccess {
			res <- resUnhandledCudaError
			return
		}
		res <- call(h, stream)
	})
	if err := c.waitCall(ctx, res, fn, deadline); err != nil {
		return err
	}
	return c.waitStream(ctx, stream, deadline)
}

func (c *Comm) waitCall(ctx context.Context, res chan result, fn string, deadline time.Time) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case r := <-res:
			if r != resSuccess {
				return ncclError(c.lib, fn, r)
			}
			return nil
		case <-ctx.Done():
			return c.abort(res, fmt.Errorf("%s: %w", fn, context.Cause(ctx)))
		case <-c.done:
			return c.abort(res, collective.ErrClosed)
		case <-tick.C:
			if err := c.check(deadline); err != nil {
				return c.abort(res, fmt.Errorf("%s: %w", fn, err))
			}
		}
	}
}

// waitStream polls the stream until its work is done. The legacy default
// stream is per device, and the current device is per OS thread, so the
// polling thread is locked and set to the Comm's device (which leaves a
// locked caller, such as libtorch's compute thread, on that device: what
// torch.cuda.set_device(local_rank) does in PyTorch).
func (c *Comm) waitStream(ctx context.Context, stream uintptr, deadline time.Time) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if r := c.cuda.setDevice(c.cfg.Device); r != cudaSuccess {
		return c.abort(nil, cudaErr(c.cuda, "cudaSetDevice", r))
	}
	sleep := 10 * time.Microsecond
	for i := 0; ; i++ {
		switch r := c.cuda.streamQuery(stream); r {
		case cudaSuccess:
			return nil
		case cudaErrNotReady:
		default:
			return c.abort(nil, cudaErr(c.cuda, "cudaStreamQuery", r))
		}
		select {
		case <-ctx.Done():
			return c.abort(nil, fmt.Errorf("waiting for the stream: %w", context.Cause(ctx)))
		case <-c.done:
			return c.abort(nil, collective.ErrClosed)
		default:
		}
		if err := c.check(deadline); err != nil {
			return c.abort(nil, fmt.Errorf("waiting for the stream: %w", err))
		}
		if i < spinPolls {
			runtime.Gosched()
			continue
		}
		time.Sleep(sleep)
		sleep = min(2*sleep, maxSleep)
	}
}

// check reports NCCL's asynchronous error or an expired deadline.
func (c *Comm) check(deadline time.Time) error {
	if e, r := c.lib.asyncError(c.handle); r != resSuccess {
		return ncclError(c.lib, "ncclCommGetAsyncError", r)
	} else if e != resSuccess && e != resInProgress {
		return fmt.Errorf("asynchronous error: %w", ncclError(c.lib, "ncclCommGetAsyncError", e))
	}
	if time.Now().After(deadline) {
		return fmt.Errorf("%w: no completion within %v (communicator aborted)", collective.ErrTimeout, c.cfg.Timeout)
	}
	return nil
}

// abort aborts the communicator and, if res is not nil, waits (up to
// abortGrace) for the blocked call to return. It returns err.
func (c *Comm) abort(res chan result, err error) error {
	if h := c.handle; h != 0 {
		c.handle = 0
		c.lib.abort(h)
	}
	if res == nil {
		return err
	}
	select {
	case <-res:
	case <-time.After(abortGrace):
		c.cfg.Logger.Error("nccl call still blocked after ncclCommAbort", "rank", c.cfg.Rank, "grace", abortGrace)
	}
	return err
}
