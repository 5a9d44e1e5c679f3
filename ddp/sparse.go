package ddp

import (
	"context"
	"fmt"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/internal/torchrt"
)

// Note [Sparse embedding gradients]: a batch touches at most B x T of the
// vocabulary's rows (a few percent of bert-base-uncased's 30,522), yet the
// dense word-embedding gradient is allocated, zero-filled, added into and,
// with several ranks, all-reduced whole every step: for the mini preset 7.8
// of its 11 million gradient floats. On the sparse path backward produces
// the gradient as the touched rows (nn.Embedding(sparse=True)); after
// backward every rank all-gathers its row ids and rows, and every rank
// adds all ranks' rows in rank order and divides by the world size, into a
// dense buffer of which only those rows are non-zero. That is the same
// average as the dense all-reduce (rows nobody touched are zero
// everywhere), computed in the same order on every rank, so the replicas
// stay bit-identical. The rows travel in the wire dtype (bf16 by default
// with several ranks), each rounded once by its sender, where the dense
// ring rounds partial sums; every rank adds the same rounded values. The
// optimizer still updates every row (AdamW's moments decay and weight decay
// applies to untouched rows too): this changes communication only, not the
// optimisation, which stays exactly PyTorch's dense AdamW.

// sparseGrad is the word-embedding gradient: backward makes it sparse (the
// touched rows, bert.Model.SetSparseEmbeddingGrad), and it is synchronised
// sparsely, into a dense Go buffer that the optimizer reads.
type sparseGrad struct {
	name     string
	dim      int       // embedding width
	mem      []float32 // the averaged dense gradient, [vocab][dim]; zero but for dirty rows
	dirty    []int64   // rows that may be non-zero
	decay    bool      // gets weight decay (bert.Param.Decay)
	wireSize int       // bytes per gathered value: 4 (fp32) or 2 (bf16, with --wire bf16)
	bytes    int64     // wire bytes sent, cumulative
}

// zero clears the rows the last step wrote and drops the parameter's
// gradient, for the next step's backward.
func (s *sparseGrad) zero(m *bert.Model) error {
	for _, id := range s.dirty {
		clear(s.mem[int(id)*s.dim : int(id+1)*s.dim])
	}
	s.dirty = s.dirty[:0]
	return torchrt.ResetGrad(m.Tensor(s.name))
}

// sync reads the step's sparse gradient and, with several ranks, averages
// it over them (see the Note); alone, it just lands in the dense buffer.
func (s *sparseGrad) sync(ctx context.Context, m *bert.Model, c collective.Comm) error {
	ids, rows, err := m.SparseRows(s.name)
	if err != nil {
		return err
	}
	if c.Size() == 1 {
		s.accumulate(ids, rows, 1)
		s.dirty = append(s.dirty, ids...)
		return nil
	}
	return s.allReduce(ctx, c, ids, rows)
}

// allReduce all-gathers every rank's ids and rows and averages them.
func (s *sparseGrad) allReduce(ctx context.Context, c collective.Comm, mine []int64, mineRows []float32) error {
	counts, err := collective.AllGatherCounts(ctx, c, len(mine))
	if err != nil {
		return fmt.Errorf("ddp: sparse %s: %w", s.name, err)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	ids := make([]int64, total)
	if err := collective.AllGatherV(ctx, c, collective.Int64s(mine), collective.Int64s(ids), counts); err != nil {
		return fmt.Errorf("ddp: sparse %s ids: %w", s.name, err)
	}
	rows, err := s.gatherRows(ctx, c, mineRows, counts, total)
	if err != nil {
		return fmt.Errorf("ddp: sparse %s rows: %w", s.name, err)
	}
	s.accumulate(ids, rows, c.Size())
	s.dirty = append(s.dirty, ids...)
	n := int64(c.Size())
	s.bytes += int64(total) * int64(8+s.wireSize*s.dim) * (n - 1) / n
	return nil
}

// gatherRows all-gathers every rank's gradient rows, in fp32 or, with a
// bf16 wire, rounded to bf16 by their sender (every rank then adds the same
// rounded values, so the replicas stay identical).
func (s *sparseGrad) gatherRows(ctx context.Context, c collective.Comm, mine []float32, counts []int, total int) ([]float32, error) {
	rowCounts := make([]int, len(counts))
	for r, n := range counts {
		rowCounts[r] = n * s.dim
	}
	rows := make([]float32, total*s.dim)
	if s.wireSize != 2 {
		err := collective.AllGatherV(ctx, c, collective.Float32s(mine), collective.Float32s(rows), rowCounts)
		return rows, err
	}
	send := make([]uint16, len(mine))
	for i, v := range mine {
		send[i] = collective.BFloat16FromFloat32(v)
	}
	recv := make([]uint16, len(rows))
	if err := collective.AllGatherV(ctx, c, collective.BFloat16s(send), collective.BFloat16s(recv), rowCounts); err != nil {
		return nil, err
	}
	for i, h := range recv {
		rows[i] = collective.Float32FromBFloat16(h)
	}
	return rows, nil
}

// accumulate replaces the touched rows by the sum of the given rows (in
// order) divided by world.
func (s *sparseGrad) accumulate(ids []int64, rows []float32, world int) {
	for _, id := range ids {
		clear(s.mem[int(id)*s.dim : int(id+1)*s.dim])
	}
	for i, id := range ids {
		dst := s.mem[int(id)*s.dim : int(id+1)*s.dim]
		src := rows[i*s.dim : (i+1)*s.dim]
		for j := range dst {
			dst[j] += src[j]
		}
	}
	if world == 1 {
		return
	}
	inv := 1 / float32(world)
	done := make(map[int64]bool, len(ids))
	for _, id := range ids {
		if done[id] {
			continue
		}
		done[id] = true
		row := s.mem[int(id)*s.dim : int(id+1)*s.dim]
		for j := range row {
			row[j] *= inv
		}
	}
}
