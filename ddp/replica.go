package ddp

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
)

// ErrModelMismatch is returned when ranks built different models.
var ErrModelMismatch = errors.New("ddp: model mismatch between ranks")

// paramHashes hashes each parameter's name, shape, dtype and trainability.
func paramHashes(m *bert.Model) []int64 {
	var out []int64
	for _, p := range sortedParams(m) {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s|%v|float32|%v", p.Name, p.Shape, p.Trainable)
		out = append(out, int64(h.Sum64()))
	}
	return out
}

func sortedParams(m *bert.Model) []bert.Param {
	ps := append([]bert.Param(nil), m.Params()...)
	sortByName(ps)
	return ps
}

// checkReplicas compares every rank's parameter list with rank 0's and
// names the first parameter that differs. Every rank gets the same verdict.
func checkReplicas(ctx context.Context, c collective.Comm, m *bert.Model) error {
	mine := paramHashes(m)
	counts := make([]int64, c.Size())
	if err := c.AllGather(ctx, collective.Int64s([]int64{int64(len(mine))}), collective.Int64s(counts)); err != nil {
		return fmt.Errorf("ddp: comparing models: %w", err)
	}
	for r, n := range counts {
		if n != counts[0] {
			return fmt.Errorf("%w: rank %d has %d parameters, rank 0 has %d", ErrModelMismatch, r, n, counts[0])
		}
	}
	all := make([]int64, len(mine)*c.Size())
	if err := c.AllGather(ctx, collective.Int64s(mine), collective.Int64s(all)); err != nil {
		return fmt.Errorf("ddp: comparing models: %w", err)
	}
	names := sortedParams(m)
	for r := 1; r < c.Size(); r++ {
		for i := range mine {
			if all[r*len(mine)+i] != all[i] {
				return fmt.Errorf("%w: parameter #%d (here %s %v, trainable %v) differs between rank 0 and rank %d in name, shape or trainability",
					ErrModelMismatch, i, names[i].Name, names[i].Shape, names[i].Trainable, r)
			}
		}
	}
	return nil
}

// broadcastParams copies rank 0's parameters to every rank, by name order.
func broadcastParams(ctx context.Context, c collective.Comm, m *bert.Model) error {
	return broadcastParamsFrom(ctx, c, m, 0)
}

// broadcastParamsFrom copies root's parameters to every rank.
func broadcastParamsFrom(ctx context.Context, c collective.Comm, m *bert.Model, root int) error {
	for _, p := range sortedParams(m) {
		buf, err := tensorBuffer(m.Tensor(p.Name))
		if err != nil {
			return fmt.Errorf("ddp: %s: %w", p.Name, err)
		}
		if err := c.Broadcast(ctx, buf, root); err != nil {
			return fmt.Errorf("ddp: broadcasting %s from rank %d: %w", p.Name, root, err)
		}
	}
	return nil
}
