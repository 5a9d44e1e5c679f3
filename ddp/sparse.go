package ddp

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/shard"
)

// Note [Sparse embedding gradients]: a batch touches at most B x T of the
// vocabulary's rows (a few percent of bert-base-uncased's 30,522), yet a
// dense all-reduce sends the whole word-embedding gradient every step: for
// the mini preset 7.8 of its 11 million gradient floats. With the sparse
// path the word-embedding gradient lives in a buffer of its own that the
// dense buckets skip; after backward every rank all-gathers the ids its
// micro-batches touched and those rows of its gradient, and every rank
// adds all ranks' rows in rank order and divides by the world size. That
// is the same average as the dense all-reduce (rows nobody touched are zero
// everywhere), computed in the same order on every rank, so the replicas
// stay bit-identical; the rows travel in fp32 whatever --wire says, so the
// sparse path is also more precise than a bf16 dense all-reduce. The
// optimizer still updates every row (AdamW's moments decay and weight decay
// applies to untouched rows too): this changes communication only, not the
// optimisation, which stays exactly PyTorch's dense AdamW.

// sparseGrad is the word-embedding gradient synchronised sparsely.
type sparseGrad struct {
	name  string
	dim   int       // embedding width
	mem   []float32 // the dense gradient, [vocab][dim]
	pad   int64     // the padding id: its row never gets a gradient
	seen  []bool    // ids touched this step, by id
	ids   []int64   // the same, sorted
	dirty []int64   // rows that may be non-zero: every rank's ids of the last step
	fresh bool      // the whole buffer is zero
	bytes int64     // wire bytes sent, cumulative
}

// zero clears the rows the last step wrote (the whole buffer the first
// time), for the next step's backward.
func (s *sparseGrad) zero() {
	if !s.fresh {
		clear(s.mem)
		s.fresh = true
	}
	for _, id := range s.dirty {
		clear(s.mem[int(id)*s.dim : int(id+1)*s.dim])
	}
	s.dirty = s.dirty[:0]
	s.reset()
}

// isWordEmbedding reports the parameter the sparse path handles.
func isWordEmbedding(name string) bool {
	return strings.HasSuffix(name, "embeddings.word_embeddings.weight")
}

// touch records the token ids of a micro-batch.
func (s *sparseGrad) touch(b *shard.Batch) {
	for i, id := range b.IDs {
		if b.Mask[i] != 0 && id != s.pad && !s.seen[id] {
			s.seen[id] = true
			s.ids = append(s.ids, id)
		}
	}
}

// reset forgets the step's ids.
func (s *sparseGrad) reset() {
	for _, id := range s.ids {
		s.seen[id] = false
	}
	s.ids = s.ids[:0]
}

// allReduce averages the gradient rows over the ranks (see the Note).
func (s *sparseGrad) allReduce(ctx context.Context, c collective.Comm) error {
	slices.Sort(s.ids)
	counts, err := collective.AllGatherCounts(ctx, c, len(s.ids))
	if err != nil {
		return fmt.Errorf("ddp: sparse %s: %w", s.name, err)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	ids := make([]int64, total)
	if err := collective.AllGatherV(ctx, c, collective.Int64s(s.ids), collective.Int64s(ids), counts); err != nil {
		return fmt.Errorf("ddp: sparse %s ids: %w", s.name, err)
	}
	mine := make([]float32, len(s.ids)*s.dim)
	for i, id := range s.ids {
		copy(mine[i*s.dim:], s.mem[int(id)*s.dim:int(id+1)*s.dim])
	}
	rows := make([]float32, total*s.dim)
	rowCounts := make([]int, len(counts))
	for r, n := range counts {
		rowCounts[r] = n * s.dim
	}
	if err := collective.AllGatherV(ctx, c, collective.Float32s(mine), collective.Float32s(rows), rowCounts); err != nil {
		return fmt.Errorf("ddp: sparse %s rows: %w", s.name, err)
	}
	s.accumulate(ids, rows, c.Size())
	s.dirty = append(s.dirty, ids...)
	n := int64(c.Size())
	s.bytes += int64(total) * int64(8+4*s.dim) * (n - 1) / n
	return nil
}

// accumulate replaces the touched rows by the average of all ranks' rows,
// adding in rank order.
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
	inv := 1 / float32(world)
	done := map[int64]bool{}
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
