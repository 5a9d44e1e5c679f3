package ring

import (
	"context"
	"fmt"

	"github.com/ddprun/ddprun/collective"
)

// Broadcast copies root's buf to every rank along the ring, root -> root+1
// -> ... -> root-1, pipelined in chunks so that every hop forwards a chunk
// as soon as it has it. Data travel in buf's own dtype.
func (c *Comm) Broadcast(ctx context.Context, buf collective.Buffer, root int) error {
	seq, err := c.begin(kindBroadcast)
	defer c.mu.Unlock()
	if err != nil {
		return err
	}
	h := header{kind: kindBroadcast, dtype: buf.DType, wire: buf.DType, seq: seq, count: uint64(buf.Count), extra: uint64(root)}
	if err := buf.Check(); err != nil {
		return c.fail(c.opError(h, -1, err))
	}
	if root < 0 || root >= c.size {
		return c.fail(c.opError(h, -1, fmt.Errorf("%w: root %d of %d ranks", collective.ErrInvalid, root, c.size)))
	}
	if c.size == 1 {
		return nil
	}
	return c.run(ctx, h, c.broadcastPipe(buf, root))
}

func (c *Comm) broadcastPipe(buf collective.Buffer, root int) *pipe {
	pos := mod(c.rank-root, c.size) // hops from the root
	ch := newChunking([]int{0, buf.Count}, buf.DType.Size(), c.cfg.ChunkBytes)
	mem := buf.ByteSlice()
	es := buf.DType.Size()
	item := func(j int) []byte {
		lo, hi := ch.chunk(0, j)
		return mem[lo*es : hi*es]
	}
	p := &pipe{sendItem: item, recvItem: item, received: func(int, []byte) {}}
	if pos > 0 {
		p.recvHdr, p.nRecv = true, ch.nc
	}
	if pos < c.size-1 {
		p.sendHdr, p.nSend = true, ch.nc
	}
	p.lag = 0 // forward chunk j once it has arrived
	if pos == 0 {
		p.lag = ch.nc + 1 // the root waits for nothing
	}
	return p
}
