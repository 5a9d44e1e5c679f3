package collective

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Solo returns a communicator of one rank: every collective leaves the
// data as it is (a reduction over one rank is the rank's own value), and
// AllGather copies send to recv. It lets code written for N ranks run alone
// without treating a missing Comm as a special case.
func Solo() Comm { return &solo{} }

type solo struct{ closed atomic.Bool }

var (
	_ Comm            = (*solo)(nil)
	_ VarAllGatherer  = (*solo)(nil)
	_ ReduceScatterer = (*solo)(nil)
)

func (s *solo) Rank() int { return 0 }
func (s *solo) Size() int { return 1 }

func (s *solo) Close() error {
	s.closed.Store(true)
	return nil
}

func (s *solo) AllReduce(ctx context.Context, buf Buffer, op Op) error {
	return s.check(ctx, buf, op)
}

func (s *solo) ReduceScatter(ctx context.Context, buf Buffer, op Op) error {
	return s.check(ctx, buf, op)
}

func (s *solo) Broadcast(ctx context.Context, buf Buffer, root int) error {
	if err := s.check(ctx, buf, Sum); err != nil {
		return err
	}
	if root != 0 {
		return fmt.Errorf("%w: broadcast from root %d of 1 rank", ErrInvalid, root)
	}
	return nil
}

func (s *solo) AllGather(ctx context.Context, send, recv Buffer) error {
	return s.AllGatherV(ctx, send, recv, []int{send.Count})
}

func (s *solo) AllGatherV(ctx context.Context, send, recv Buffer, counts []int) error {
	if err := s.check(ctx, send, Sum); err != nil {
		return err
	}
	switch {
	case recv.Check() != nil:
		return recv.Check()
	case len(counts) != 1 || counts[0] != send.Count || recv.Count != send.Count || recv.DType != send.DType:
		return fmt.Errorf("%w: all-gather of %d %v into %d %v on 1 rank (counts %v)", ErrInvalid, send.Count, send.DType, recv.Count, recv.DType, counts)
	case send.Device != CPU || recv.Device != CPU:
		return fmt.Errorf("%w: the solo communicator copies host memory only", ErrUnsupported)
	}
	copy(recv.ByteSlice(), send.ByteSlice())
	return nil
}

func (s *solo) check(ctx context.Context, buf Buffer, op Op) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !op.Valid() {
		return fmt.Errorf("%w: unknown op %v", ErrInvalid, op)
	}
	return buf.Check()
}
