package ddp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/ring"
	"github.com/ddprun/ddprun/internal/rankenv"
)

// openRing joins the TCP ring of the job's ranks, listening on the socket
// the launcher passed (DDPRUN_LISTEN_FD) or on its own address in
// DDPRUN_PEERS; Float32 buffers travel as wire.
func openRing(ctx context.Context, id rankenv.Identity, wire collective.DType, timeout time.Duration, log *slog.Logger) (*ring.Comm, error) {
	cfg := ring.DefaultConfig()
	cfg.Rank, cfg.Size, cfg.Peers = id.Rank, id.WorldSize, id.Peers
	cfg.JobID, cfg.Secret, cfg.Logger = id.JobID, id.Secret, log
	if timeout > 0 {
		cfg.Timeout = timeout
	}
	cfg.WireDType = wire
	if id.ListenFD > 0 {
		f := os.NewFile(uintptr(id.ListenFD), "ring-listener")
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("ddp: rank %d: the inherited listening socket (fd %d): %w", id.Rank, id.ListenFD, err)
		}
		cfg.Listener = ln
	}
	c, err := ring.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ddp: rank %d: joining the ring: %w", id.Rank, err)
	}
	return c, nil
}
