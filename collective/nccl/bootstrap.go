package nccl

import (
	"context"
	"encoding/binary"

	"github.com/ddprun/ddprun/collective"
)

// Bootstrap is how New hands rank 0's NCCL unique id to the other ranks
// before NCCL has a communicator of its own.
//
// BroadcastBytes copies root's b into b on every other rank; all ranks
// pass slices of the same length. It returns an error if ctx ends first.
// Any transport the launcher already has will do: CommBootstrap adapts a
// collective.Comm (such as the TCP ring), and tests can use a channel.
type Bootstrap interface {
	BroadcastBytes(ctx context.Context, b []byte, root int) error
}

// CommBootstrap adapts a collective.Comm (for example a ring.Comm over the
// launcher's peer addresses) into a Bootstrap: the bytes travel as an
// int32 Broadcast, padded to a multiple of four. The Comm must be a CPU
// backend with the same ranks as the NCCL communicator being built.
func CommBootstrap(c collective.Comm) Bootstrap { return commBootstrap{c} }

type commBootstrap struct{ c collective.Comm }

func (b commBootstrap) BroadcastBytes(ctx context.Context, p []byte, root int) error {
	words := make([]int32, (len(p)+3)/4)
	padded := make([]byte, 4*len(words))
	copy(padded, p)
	for i := range words {
		words[i] = int32(binary.LittleEndian.Uint32(padded[4*i:]))
	}
	if err := b.c.Broadcast(ctx, collective.Int32s(words), root); err != nil {
		return err
	}
	for i, w := range words {
		binary.LittleEndian.PutUint32(padded[4*i:], uint32(w))
	}
	copy(p, padded)
	return nil
}
