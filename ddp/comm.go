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

// OpenComm connects this rank to its peers over the TCP ring, listening on
// the socket the launcher passed (DDPRUN_LISTEN_FD) or on its own address
// in DDPRUN_PEERS. wire is "fp32" or "bf16" ("" = bf16 with several ranks).
// A single rank gets nil: no network at all.
func OpenComm(ctx context.Context, id rankenv.Identity, wire string, timeout time.Duration, log *slog.Logger) (collective.Comm, error) {
	if !id.Distributed() {
		return nil, nil
	}
	cfg := ring.DefaultConfig()
	cfg.Rank, cfg.Size, cfg.Peers = id.Rank, id.WorldSize, id.Peers
	cfg.JobID, cfg.Secret, cfg.Logger = id.JobID, id.Secret, log
	if timeout > 0 {
		cfg.Timeout = timeout
	}
	cfg.WireDType = collective.BFloat16
	if wire == "fp32" {
		cfg.WireDType = collective.Float32
	}
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
