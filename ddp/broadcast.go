package ddp

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/internal/atomicfile"
)

// broadcastString sends rank 0's s to every rank (a length, then the
// bytes packed into int32s).
func broadcastString(ctx context.Context, c collective.Comm, s string) (string, error) {
	return broadcastStringFrom(ctx, c, s, 0)
}

// broadcastStringFrom sends root's s to every rank.
func broadcastStringFrom(ctx context.Context, c collective.Comm, s string, root int) (string, error) {
	if c.Size() == 1 {
		return s, nil
	}
	n := []int64{int64(len(s))}
	if err := c.Broadcast(ctx, collective.Int64s(n), root); err != nil {
		return "", fmt.Errorf("ddp: broadcast: %w", err)
	}
	if n[0] < 0 || n[0] > 64<<20 {
		return "", fmt.Errorf("ddp: broadcast of %d bytes refused", n[0])
	}
	words := make([]int32, (n[0]+3)/4)
	b := make([]byte, 4*len(words))
	copy(b, s)
	for i := range words {
		words[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	if err := c.Broadcast(ctx, collective.Int32s(words), root); err != nil {
		return "", fmt.Errorf("ddp: broadcast: %w", err)
	}
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(w))
	}
	return string(b[:n[0]]), nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'))
}
