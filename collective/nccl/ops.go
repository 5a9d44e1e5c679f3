package nccl

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/ddprun/ddprun/collective"
)

// AllReduce reduces buf in place over all ranks (see
// collective.AllReducer), natively in buf's dtype: float32, bfloat16 (NCCL
// >= 2.10), float16, int32 or int64; op Avg needs NCCL >= 2.10. buf is
// device memory (Device CUDA) on this rank's device, or host memory, which
// is staged through a device buffer (for small buffers such as metrics).
func (c *Comm) AllReduce(ctx context.Context, buf collective.Buffer, op collective.Op) error {
	var dt dataType
	var rop redOp
	args := func() (err error) { dt, rop, err = c.reduceArgs(buf, op); return err }
	return c.collective("all-reduce", args, []collective.Buffer{buf}, func(p []unsafe.Pointer) error {
		return c.run(ctx, func(h, s uintptr) result {
			return c.lib.allReduce(p[0], p[0], buf.Count, dt, rop, h, s)
		}, "ncclAllReduce")
	})
}

// ReduceScatter reduces buf over all ranks; afterwards only this rank's
// block, collective.BlockRange(buf.Count, Size(), Rank()), is defined.
// NCCL's reduce-scatter needs equal blocks: when Size() does not divide
// buf.Count this runs an all-reduce instead (correct, twice the traffic).
func (c *Comm) ReduceScatter(ctx context.Context, buf collective.Buffer, op collective.Op) error {
	var dt dataType
	var rop redOp
	args := func() (err error) { dt, rop, err = c.reduceArgs(buf, op); return err }
	return c.collective("reduce-scatter", args, []collective.Buffer{buf}, func(p []unsafe.Pointer) error {
		if buf.Count%c.cfg.Size != 0 {
			return c.run(ctx, func(h, s uintptr) result {
				return c.lib.allReduce(p[0], p[0], buf.Count, dt, rop, h, s)
			}, "ncclAllReduce")
		}
		blk := buf.Count / c.cfg.Size
		mine := unsafe.Add(p[0], c.cfg.Rank*blk*buf.DType.Size()) // in place, as nccl.h allows
		return c.run(ctx, func(h, s uintptr) result {
			return c.lib.reduceScatter(p[0], mine, blk, dt, rop, h, s)
		}, "ncclReduceScatter")
	})
}

// Broadcast copies root's buf into buf on every other rank, in buf's own
// dtype.
func (c *Comm) Broadcast(ctx context.Context, buf collective.Buffer, root int) error {
	var dt dataType
	args := func() (err error) {
		dt, err = c.moveArgs(buf)
		if err == nil && (root < 0 || root >= c.cfg.Size) {
			err = fmt.Errorf("%w: root %d of %d ranks", collective.ErrInvalid, root, c.cfg.Size)
		}
		return err
	}
	return c.collective("broadcast", args, []collective.Buffer{buf}, func(p []unsafe.Pointer) error {
		return c.run(ctx, func(h, s uintptr) result {
			return c.lib.broadcast(p[0], p[0], buf.Count, dt, root, h, s)
		}, "ncclBroadcast")
	})
}

// AllGather concatenates every rank's send, in rank order, into recv on
// every rank (see collective.Comm).
func (c *Comm) AllGather(ctx context.Context, send, recv collective.Buffer) error {
	var dt dataType
	args := func() (err error) { dt, err = c.gatherArgs(send, recv); return err }
	return c.collective("all-gather", args, []collective.Buffer{send, recv}, func(p []unsafe.Pointer) error {
		return c.run(ctx, func(h, s uintptr) result {
			return c.lib.allGather(p[0], p[1], send.Count, dt, h, s)
		}, "ncclAllGather")
	})
}

// collective runs one call: it takes the Comm (c.begin), checks the
// arguments, and unless bufs[0] is empty enqueues with the buffers staged
// onto the device. A bad argument or a failed call poisons the Comm.
func (c *Comm) collective(name string, args func() error, bufs []collective.Buffer, enqueue func(p []unsafe.Pointer) error) error {
	seq, err := c.begin(name)
	defer c.mu.Unlock()
	if err != nil {
		return err
	}
	if err := args(); err != nil {
		return c.fail(name, seq, err)
	}
	if bufs[0].Count == 0 {
		return nil
	}
	if err := c.staged(bufs, enqueue); err != nil {
		return c.fail(name, seq, err)
	}
	return nil
}

func (c *Comm) reduceArgs(buf collective.Buffer, op collective.Op) (dataType, redOp, error) {
	if err := buf.Check(); err != nil {
		return 0, 0, err
	}
	dt, err := ncclType(buf.DType, c.version)
	if err != nil {
		return 0, 0, err
	}
	rop, err := ncclOp(op, c.version)
	return dt, rop, err
}

// moveArgs maps the dtype of a call that only moves data: a bfloat16
// buffer travels as float16 (same size) on NCCL older than 2.10.
func (c *Comm) moveArgs(buf collective.Buffer) (dataType, error) {
	if err := buf.Check(); err != nil {
		return 0, err
	}
	if buf.DType == collective.BFloat16 && c.version.Less(bf16Version) {
		return ncclFloat16, nil
	}
	return ncclType(buf.DType, c.version)
}

func (c *Comm) gatherArgs(send, recv collective.Buffer) (dataType, error) {
	if err := recv.Check(); err != nil {
		return 0, err
	}
	switch {
	case send.DType != recv.DType:
		return 0, fmt.Errorf("%w: send is %v, recv is %v", collective.ErrInvalid, send.DType, recv.DType)
	case recv.Count != c.cfg.Size*send.Count:
		return 0, fmt.Errorf("%w: recv has %d elements, want %d ranks × %d", collective.ErrInvalid, recv.Count, c.cfg.Size, send.Count)
	}
	return c.moveArgs(send)
}
