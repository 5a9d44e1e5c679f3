package ring

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/ddprun/ddprun/collective"
)

// AllReduce reduces buf in place over all ranks (see collective.AllReducer).
// Float32 buffers travel in cfg.WireDType; all others in their own dtype.
// Buffers of at most cfg.SmallBytes on the wire take the latency path.
func (c *Comm) AllReduce(ctx context.Context, buf collective.Buffer, op collective.Op) error {
	return c.reduce(ctx, kindAllReduce, buf, op)
}

// ReduceScatter reduces buf over all ranks; afterwards only this rank's
// block, collective.BlockRange(buf.Count, Size(), Rank()), is defined.
func (c *Comm) ReduceScatter(ctx context.Context, buf collective.Buffer, op collective.Op) error {
	return c.reduce(ctx, kindReduceScatter, buf, op)
}

func (c *Comm) reduce(ctx context.Context, k kind, buf collective.Buffer, op collective.Op) error {
	seq, err := c.begin(k)
	defer c.mu.Unlock()
	if err != nil {
		return err
	}
	cd := codecFor(buf.DType, c.cfg.WireDType)
	h := header{kind: k, dtype: buf.DType, wire: cd.wire, op: op, seq: seq, count: uint64(buf.Count)}
	if err := checkReduce(buf, op); err != nil {
		return c.fail(c.opError(h, -1, err))
	}
	switch {
	case c.size == 1:
		return nil
	case k == kindAllReduce && buf.Count*cd.wire.Size() <= c.cfg.SmallBytes:
		return c.allReduceSmall(ctx, h, buf, cd)
	}
	return c.run(ctx, h, c.reducePipe(buf, cd, op, k == kindReduceScatter))
}

func checkReduce(buf collective.Buffer, op collective.Op) error {
	if err := buf.Check(); err != nil {
		return err
	}
	if !op.Valid() {
		return fmt.Errorf("%w: op %v", collective.ErrInvalid, op)
	}
	if buf.Device != collective.CPU {
		return fmt.Errorf("%w: ring backend needs host memory, not device %d", collective.ErrUnsupported, buf.Device)
	}
	return nil
}

// blocks splits count elements into one block per rank: block b is
// [off[b], off[b+1]).
func blocks(count, n int) []int {
	off := make([]int, n+1)
	for b := range n {
		_, off[b+1] = collective.BlockRange(count, n, b)
	}
	return off
}

// chunking splits every block into nc chunks (element ranges) of at most
// chunkBytes on the wire, give or take an element.
type chunking struct {
	off []int // block boundaries in elements
	nc  int
}

func newChunking(off []int, wireSize, chunkBytes int) chunking {
	biggest := 0
	for b := range len(off) - 1 {
		biggest = max(biggest, off[b+1]-off[b])
	}
	return chunking{off: off, nc: max(1, (biggest*wireSize+chunkBytes-1)/chunkBytes)}
}

func (ch chunking) chunk(b, k int) (lo, hi int) {
	lo, n := ch.off[b], ch.off[b+1]-ch.off[b]
	return lo + n*k/ch.nc, lo + n*(k+1)/ch.nc
}

func mod(a, n int) int { return ((a % n) + n) % n }

// reducePipe is the bandwidth-optimal ring: n-1 reduce-scatter steps after
// which rank r owns the reduced block r, then (unless scatterOnly) n-1
// all-gather steps. Each rank sends 2(n-1)/n of the buffer. Item j is
// chunk j%nc of step j/nc. See Note [Bit-identical results].
func (c *Comm) reducePipe(buf collective.Buffer, cd codec, op collective.Op, scatterOnly bool) *pipe {
	n, r, es, ws := c.size, c.rank, buf.DType.Size(), cd.wire.Size()
	ch := newChunking(blocks(buf.Count, n), ws, c.cfg.ChunkBytes)
	steps := 2 * (n - 1)
	if scatterOnly {
		steps = n - 1
	}
	at := func(lo int) unsafe.Pointer { return unsafe.Add(buf.Ptr, lo*es) }
	mem := func(lo, hi int) []byte {
		if hi == lo {
			return nil // at(lo) may be one past the end
		}
		return view[byte](at(lo), (hi-lo)*es)
	}
	block := func(step int, recv bool) int {
		d := 1 // the receive block trails the send block by one
		if !recv {
			d = 0
		}
		if step < n-1 {
			return mod(r-step-1-d, n)
		}
		return mod(r-(step-(n-1))-d, n)
	}
	return &pipe{
		sendHdr: true, recvHdr: true, lag: ch.nc,
		nSend: steps * ch.nc, nRecv: steps * ch.nc,
		fence: (n - 1) * ch.nc, fenceSent: (n - 1) * ch.nc, // See Note [Receive fence].
		sendItem: func(j int) []byte {
			lo, hi := ch.chunk(block(j/ch.nc, false), j%ch.nc)
			switch {
			case cd.direct || hi == lo:
				return mem(lo, hi)
			case j/ch.nc >= n-1: // all-gather: values are already wire-exact
				cd.encodeExact(c.sendBuf, at(lo), hi-lo)
			default:
				cd.encode(c.sendBuf, at(lo), hi-lo)
			}
			return c.sendBuf[:(hi-lo)*ws]
		},
		recvItem: func(j int) []byte {
			lo, hi := ch.chunk(block(j/ch.nc, true), j%ch.nc)
			if cd.direct && j/ch.nc >= n-1 {
				return mem(lo, hi) // all-gather: straight into the buffer
			}
			return c.recvBuf[:(hi-lo)*ws]
		},
		received: func(j int, b []byte) {
			step := j / ch.nc
			lo, hi := ch.chunk(block(step, true), j%ch.nc)
			switch {
			case hi == lo:
			case step == n-2:
				cd.reduceFinal(at(lo), b, hi-lo, op, n)
			case step < n-2:
				cd.reduce(at(lo), b, hi-lo, op)
			case !cd.direct:
				cd.decode(at(lo), b, hi-lo)
			}
		},
	}
}

// allReduceSmall is the latency path: gather every rank's wire-rounded
// input (n-1 hops instead of 2(n-1)), then reduce in rank order, the same
// on every rank.
func (c *Comm) allReduceSmall(ctx context.Context, h header, buf collective.Buffer, cd codec) error {
	n, count, ws := c.size, buf.Count, cd.wire.Size()
	bb := count * ws
	if len(c.gather) < n*bb {
		c.gather = alignedBytes(n * bb)
	}
	area := c.gather[:n*bb]
	if mine := area[c.rank*bb : (c.rank+1)*bb]; cd.direct {
		copy(mine, buf.ByteSlice())
	} else {
		cd.encode(mine, buf.Ptr, count)
	}
	off := make([]int, n+1)
	for b := range n {
		off[b+1] = (b + 1) * count
	}
	if err := c.run(ctx, h, c.gatherPipe(area, off, ws)); err != nil {
		return err
	}
	if cd.direct {
		copy(buf.ByteSlice(), area[:bb])
	} else {
		cd.decode(buf.Ptr, area[:bb], count)
	}
	for b := 1; b < n; b++ {
		cd.reduce(buf.Ptr, area[b*bb:(b+1)*bb], count, h.op)
	}
	cd.finalize(buf.Ptr, count, h.op, n)
	return nil
}
