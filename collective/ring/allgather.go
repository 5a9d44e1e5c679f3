package ring

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"github.com/ddprun/ddprun/collective"
)

// AllGather concatenates every rank's send into recv, in rank order (see
// collective.Comm). Data move straight between the buffers and the sockets.
func (c *Comm) AllGather(ctx context.Context, send, recv collective.Buffer) error {
	counts := make([]int, c.size)
	for r := range counts {
		counts[r] = send.Count
	}
	return c.AllGatherV(ctx, send, recv, counts)
}

// AllGatherV is AllGather with counts[r] elements from rank r (see
// collective.VarAllGatherer).
func (c *Comm) AllGatherV(ctx context.Context, send, recv collective.Buffer, counts []int) error {
	seq, err := c.begin(kindAllGather)
	defer c.mu.Unlock()
	if err != nil {
		return err
	}
	h := header{kind: kindAllGather, dtype: recv.DType, wire: recv.DType, seq: seq,
		count: uint64(recv.Count), extra: hashCounts(counts)}
	off, err := c.checkGather(send, recv, counts)
	if err != nil {
		return c.fail(c.opError(h, -1, err))
	}
	es := recv.DType.Size()
	all := recv.ByteSlice()
	copy(all[off[c.rank]*es:], send.ByteSlice())
	if c.size == 1 {
		return nil
	}
	return c.run(ctx, h, c.gatherPipe(all, off, es))
}

// checkGather validates the buffers and returns the block offsets.
func (c *Comm) checkGather(send, recv collective.Buffer, counts []int) ([]int, error) {
	if err := send.Check(); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	if err := recv.Check(); err != nil {
		return nil, fmt.Errorf("recv: %w", err)
	}
	if len(counts) != c.size {
		return nil, fmt.Errorf("%w: %d counts for %d ranks", collective.ErrInvalid, len(counts), c.size)
	}
	off := make([]int, c.size+1)
	for r, n := range counts {
		if n < 0 {
			return nil, fmt.Errorf("%w: counts[%d] = %d", collective.ErrInvalid, r, n)
		}
		off[r+1] = off[r] + n
	}
	switch {
	case send.DType != recv.DType:
		return nil, fmt.Errorf("%w: send is %v, recv is %v", collective.ErrInvalid, send.DType, recv.DType)
	case send.Count != counts[c.rank]:
		return nil, fmt.Errorf("%w: send has %d elements, counts[%d] = %d", collective.ErrInvalid, send.Count, c.rank, counts[c.rank])
	case recv.Count != off[c.size]:
		return nil, fmt.Errorf("%w: recv has %d elements, want %d", collective.ErrInvalid, recv.Count, off[c.size])
	case send.Device != collective.CPU || recv.Device != collective.CPU:
		return nil, fmt.Errorf("%w: ring backend needs host memory", collective.ErrUnsupported)
	}
	return off, nil
}

func hashCounts(counts []int) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, n := range counts {
		binary.LittleEndian.PutUint64(b[:], uint64(n))
		h.Write(b[:])
	}
	return h.Sum64()
}

// gatherPipe circulates the blocks of area (block b is elements [off[b],
// off[b+1]) of elemSize bytes) so that every rank ends with all of them.
// Rank r starts with block r; at step k it sends block r-k and receives
// block r-k-1, straight into area.
func (c *Comm) gatherPipe(area []byte, off []int, elemSize int) *pipe {
	n, r := c.size, c.rank
	ch := newChunking(off, elemSize, c.cfg.ChunkBytes)
	item := func(j, d int) []byte {
		lo, hi := ch.chunk(mod(r-j/ch.nc-d, n), j%ch.nc)
		return area[lo*elemSize : hi*elemSize]
	}
	return &pipe{
		sendHdr: true, recvHdr: true, lag: ch.nc,
		nSend: (n - 1) * ch.nc, nRecv: (n - 1) * ch.nc,
		sendItem: func(j int) []byte { return item(j, 0) },
		recvItem: func(j int) []byte { return item(j, 1) },
		received: func(int, []byte) {},
	}
}
