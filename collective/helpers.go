package collective

import (
	"context"
	"fmt"
	"unsafe"
)

// Barrier returns once every rank has called it: it is a one-element
// all-reduce, built on AllReducer the way io.ReadFull is built on io.Reader.
func Barrier(ctx context.Context, c AllReducer) error {
	var x [1]int32
	return c.AllReduce(ctx, Int32s(x[:]), Sum)
}

// AllGatherV gathers blocks of different sizes: rank r contributes counts[r]
// elements in send, and recv (sum(counts) elements) receives all blocks in
// rank order. It uses the Comm's native AllGatherV if it has one, and
// otherwise pads every block to the largest and compacts afterwards.
func AllGatherV(ctx context.Context, c Comm, send, recv Buffer, counts []int) error {
	if v, ok := c.(VarAllGatherer); ok {
		return v.AllGatherV(ctx, send, recv, counts)
	}
	if err := checkCounts(c, send, recv, counts); err != nil {
		return err
	}
	maxc := 0
	for _, n := range counts {
		maxc = max(maxc, n)
	}
	es := send.DType.Size()
	pad := make([]byte, maxc*es)
	copy(pad, send.ByteSlice())
	all := make([]byte, maxc*es*len(counts))
	if err := c.AllGather(ctx, bytesBuffer(pad, send.DType), bytesBuffer(all, send.DType)); err != nil {
		return err
	}
	dst := recv.ByteSlice()
	for r, n := range counts {
		dst = dst[copy(dst, all[r*maxc*es:(r*maxc+n)*es]):]
	}
	return nil
}

func checkCounts(c Comm, send, recv Buffer, counts []int) error {
	if len(counts) != c.Size() {
		return fmt.Errorf("%w: %d counts for %d ranks", ErrInvalid, len(counts), c.Size())
	}
	total := 0
	for _, n := range counts {
		if n < 0 {
			return fmt.Errorf("%w: negative count %d", ErrInvalid, n)
		}
		total += n
	}
	switch {
	case send.Count != counts[c.Rank()]:
		return fmt.Errorf("%w: send has %d elements, counts[%d] = %d", ErrInvalid, send.Count, c.Rank(), counts[c.Rank()])
	case recv.Count != total:
		return fmt.Errorf("%w: recv has %d elements, counts sum to %d", ErrInvalid, recv.Count, total)
	case send.DType != recv.DType:
		return fmt.Errorf("%w: send is %v, recv is %v", ErrInvalid, send.DType, recv.DType)
	}
	return nil
}

func bytesBuffer(b []byte, d DType) Buffer {
	return Buffer{Ptr: unsafe.Pointer(unsafe.SliceData(b)), Count: len(b) / d.Size(), DType: d}
}

// AllGatherCounts gathers one int per rank (for example each rank's number
// of sparse rows before an AllGatherV).
func AllGatherCounts(ctx context.Context, c Comm, n int) ([]int, error) {
	send := []int64{int64(n)}
	recv := make([]int64, c.Size())
	if err := c.AllGather(ctx, Int64s(send), Int64s(recv)); err != nil {
		return nil, err
	}
	out := make([]int, len(recv))
	for i, v := range recv {
		out[i] = int(v)
	}
	return out, nil
}
