package ddp

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
)

// Note [PowerSGD]: --compress powersgd:R replaces each dense bucket's
// all-reduce by torch's powerSGD_hook (Vogels et al. 2019, "PowerSGD:
// practical low-rank gradient compression"), for slow links. Every
// parameter's gradient is viewed as a matrix M, shape[0] x the rest. Those
// worth compressing, (n + m) x r x 2 < n x m with r = min(n, m, R), travel
// as two thin factors; 1-D tensors and small matrices travel as they are.
// One step of one bucket, as torch does it:
//
//  1. error feedback: M += the residual this rank kept last step;
//  2. Q (m x r): the last step's averaged Q, orthogonalised (warm start;
//     the first time, normal draws from a seed every rank shares);
//  3. P = M Q; one all-reduce (average) of the uncompressed tensors and
//     every P together;
//  4. P orthogonalised; Q = Mᵀ P; all-reduce (average) of every Q;
//  5. M = P Qᵀ, the bucket's new gradient; the residual = the input of
//     step 1 minus the whole bucket's output (so for uncompressed tensors
//     the rank's difference from the average, which sums to zero over the
//     ranks, as in torch).
//
// Both all-reduces return the same bits on every rank and everything after
// them is a deterministic function of them, so every rank gets the same
// gradient and the replicas stay bit-identical; the residuals differ per
// rank, as they should. Where this differs from torch, none of it in the
// result beyond float rounding: the uncompressed tensors travel with the
// Ps in one all-reduce (torch issues two; the average instead of the sum
// scales P by 1/world, which orthogonalisation removes), and
// orthogonalisation is Gram-Schmidt in float64, twice (orthogonalize;
// torch uses float32 Gram-Schmidt for r <= 2 and QR above, whose columns
// may differ in sign; P Pᵀ M, the result, does not). The first
// Start steps are plain all-reduces, as torch's start_powerSGD_iter (by
// default: until the learning-rate warmup ends). P and Q travel in the
// wire dtype (bf16 by default: the rounding is part of what error feedback
// keeps). The products run in Go (lowrank.go) on the goroutine that
// all-reduces, so compression overlaps backward as plain buckets do. The
// residuals and Qs are not checkpointed: a resumed run restarts them
// (all ranks alike), so it is not bit-identical to an uninterrupted one.
// The word-embedding rows keep their own sparse path (Note [Sparse
// embedding gradients]).

// minCompressionRate is torch's min_compression_rate: a matrix is
// compressed when its factors are less than half its size.
const minCompressionRate = 2

// powerSGD holds PowerSGD's state for every bucket. See Note [PowerSGD].
type powerSGD struct {
	start   int // first compressed step
	step    int // the step being synchronised (beginStep)
	seed    uint64
	buckets []psgdBucket
	// initQ, if set, gives a parameter's first Qᵀ (before
	// orthogonalisation) instead of seeded normal draws: tests start from
	// torch's.
	initQ func(name string, q []float32)
	// Elements sent per compressed step against the bucket sizes, over
	// the dense buckets (the tests' and the benchmark's compression rate).
	sent, dense int
	scratch     []float64 // orthogonalize's
}

type psgdBucket struct {
	mats  []lowRank
	plain []span    // the tensors all-reduced as they are
	pq    []float32 // the uncompressed tensors, then every Pᵀ: one all-reduce
	q     []float32 // every Qᵀ: the second; kept for the warm start
	resid []float32 // error feedback, one element per bucket element; nil before the first compressed step
	warm  bool      // q holds the last step's averaged Qs
}

// lowRank is one compressed parameter: the bucket's elements [off,
// off+n*m) as an n x m matrix, and its factors.
type lowRank struct {
	name         string
	off, n, m, r int
	p, q         []float32 // Pᵀ (r x n) and Qᵀ (r x m): views of the bucket's pq and q (lowrank.go)
}

type span struct{ off, n int }

// newPowerSGD lays out the factors of every bucket for rank.
func newPowerSGD(buckets []Bucket, shapes map[string][]int64, rank, start int, seed int64) *powerSGD {
	s := &powerSGD{start: start, seed: uint64(seed)}
	for _, b := range buckets {
		pb := planBucket(b, shapes, rank)
		s.buckets = append(s.buckets, pb)
		s.sent += len(pb.pq) + len(pb.q)
		s.dense += b.Numel
	}
	return s
}

func planBucket(b Bucket, shapes map[string][]int64, rank int) psgdBucket {
	var pb psgdBucket
	nPlain, nP, nQ := 0, 0, 0
	for i, p := range b.Params {
		shape := shapes[p.Name]
		n := 1
		if len(shape) > 1 {
			n = int(shape[0])
		}
		m := p.Numel / max(n, 1)
		r := min(n, m, rank)
		if len(shape) < 2 || (n+m)*r*minCompressionRate >= n*m {
			pb.plain = append(pb.plain, span{b.Offsets[i], p.Numel})
			nPlain += p.Numel
			continue
		}
		pb.mats = append(pb.mats, lowRank{name: p.Name, off: b.Offsets[i], n: n, m: m, r: r})
		nP, nQ = nP+n*r, nQ+m*r
	}
	pb.pq, pb.q = make([]float32, nPlain+nP), make([]float32, nQ)
	offP, offQ := nPlain, 0
	for i := range pb.mats {
		l := &pb.mats[i]
		l.p, l.q = pb.pq[offP:offP+l.n*l.r], pb.q[offQ:offQ+l.m*l.r]
		offP, offQ = offP+l.n*l.r, offQ+l.m*l.r
	}
	return pb
}

// allReduce averages bucket i's gradient g over the ranks, compressed once
// the start step is reached, and returns the number of elements it sent
// through all-reduces.
func (s *powerSGD) allReduce(ctx context.Context, c collective.Comm, i int, g []float32) (int, error) {
	if s.step < s.start {
		return len(g), c.AllReduce(ctx, collective.Float32s(g), collective.Avg)
	}
	b := &s.buckets[i]
	b.addResidual(g)
	n := 0
	for _, sp := range b.plain {
		n += copy(b.pq[n:], g[sp.off:sp.off+sp.n])
	}
	b.firstQ(s, i)
	refill := s.refill(i)
	for _, l := range b.mats {
		orthogonalize(l.q, l.r, l.m, &s.scratch, refill)
		mulMQ(l.p, g[l.off:], l.q, l.n, l.m, l.r)
	}
	if err := c.AllReduce(ctx, collective.Float32s(b.pq), collective.Avg); err != nil {
		return 0, fmt.Errorf("uncompressed tensors and P: %w", err)
	}
	n = 0
	for _, sp := range b.plain {
		n += copy(g[sp.off:sp.off+sp.n], b.pq[n:])
	}
	for _, l := range b.mats {
		orthogonalize(l.p, l.r, l.n, &s.scratch, nil)
		mulMtP(l.q, g[l.off:], l.p, l.n, l.m, l.r)
	}
	if len(b.q) > 0 {
		if err := c.AllReduce(ctx, collective.Float32s(b.q), collective.Avg); err != nil {
			return 0, fmt.Errorf("Q: %w", err)
		}
	}
	for _, l := range b.mats {
		mulPQt(g[l.off:l.off+l.n*l.m], l.p, l.q, l.n, l.m, l.r)
	}
	b.keepResidual(g)
	return len(b.pq) + len(b.q), nil
}

// addResidual is step 1 of the Note: g += the residual, which then holds
// the input until keepResidual.
func (b *psgdBucket) addResidual(g []float32) {
	if b.resid == nil {
		b.resid = make([]float32, len(g))
	}
	feedResidual(g, b.resid)
}

// keepResidual is the end of step 5: the input minus the output g.
func (b *psgdBucket) keepResidual(g []float32) { keepResidual(b.resid, g) }

// firstQ fills the Qs on the first compressed step (then warm starts).
func (b *psgdBucket) firstQ(s *powerSGD, bucket int) {
	if b.warm {
		return
	}
	b.warm = true
	rng := rand.New(rand.NewPCG(s.seed, uint64(bucket)))
	for _, l := range b.mats {
		if s.initQ != nil {
			s.initQ(l.name, l.q)
			continue
		}
		for k := range l.q {
			l.q[k] = float32(rng.NormFloat64())
		}
	}
}

// refill gives bucket i's Qs a new direction where one has collapsed (a
// parameter without gradient leaves Q zero, and warm start would keep it
// so): normal draws, the same on every rank, since every rank has the same
// Qs (they are all-reduced).
func (s *powerSGD) refill(bucket int) func(row []float64) {
	var rng *rand.Rand
	return func(row []float64) {
		if rng == nil {
			rng = rand.New(rand.NewPCG(s.seed^uint64(s.step)<<20, uint64(bucket)))
		}
		for i := range row {
			row[i] = rng.NormFloat64()
		}
	}
}

// attachPowerSGD compresses r's dense buckets from step start on. They
// must be in host memory (Plan refuses other devices first).
func (r *reducer) attachPowerSGD(m *bert.Model, c Compression, start int, seed int64) error {
	for i, mem := range r.mem {
		if mem == nil && r.buckets[i].Numel > 0 {
			return fmt.Errorf("ddp: --compress %v: PowerSGD compresses gradient buckets in host memory; the model is on %s", c, deviceName(m.Device()))
		}
	}
	shapes := map[string][]int64{}
	for _, p := range m.Params() {
		shapes[p.Name] = p.Shape
	}
	r.psgd = newPowerSGD(r.buckets, shapes, c.Rank, start, seed)
	return nil
}

// beginStep tells the compression which optimizer step is being
// synchronised (it starts at Compression.Start).
func (r *reducer) beginStep(step int) {
	if r.psgd != nil {
		r.psgd.step = step
	}
}
