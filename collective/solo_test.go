package collective_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ddprun/ddprun/collective"
)

// One rank: reductions and broadcasts leave the data as it is, a gather
// copies, wrong arguments and a closed communicator are errors like any
// backend's.
func TestSolo(t *testing.T) {
	ctx := t.Context()
	c := collective.Solo()
	if c.Rank() != 0 || c.Size() != 1 {
		t.Fatalf("rank %d of %d", c.Rank(), c.Size())
	}
	buf := []float32{1, -2, 3}
	for _, op := range []collective.Op{collective.Sum, collective.Avg, collective.Max, collective.Min} {
		if err := c.AllReduce(ctx, collective.Float32s(buf), op); err != nil || !slices.Equal(buf, []float32{1, -2, 3}) {
			t.Errorf("%v: %v, %v", op, buf, err)
		}
	}
	if err := c.Broadcast(ctx, collective.Float32s(buf), 0); err != nil || !slices.Equal(buf, []float32{1, -2, 3}) {
		t.Errorf("broadcast: %v, %v", buf, err)
	}
	recv := make([]float32, 3)
	if err := c.AllGather(ctx, collective.Float32s(buf), collective.Float32s(recv)); err != nil || !slices.Equal(recv, buf) {
		t.Errorf("all-gather: %v, %v", recv, err)
	}
	for name, err := range map[string]error{
		"root 1":       c.Broadcast(ctx, collective.Float32s(buf), 1),
		"bad op":       c.AllReduce(ctx, collective.Float32s(buf), collective.Op(99)),
		"short recv":   c.AllGather(ctx, collective.Float32s(buf), collective.Float32s(recv[:2])),
		"mixed dtypes": c.AllGather(ctx, collective.Float32s(buf), collective.Int32s(make([]int32, 3))),
	} {
		if !errors.Is(err, collective.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.AllReduce(done, collective.Float32s(buf), collective.Sum); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	c.Close()
	if err := c.AllReduce(ctx, collective.Float32s(buf), collective.Sum); !errors.Is(err, collective.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}
