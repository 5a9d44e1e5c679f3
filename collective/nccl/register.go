package nccl

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/ring"
)

// NCCL reduces device memory where it is, and host memory staged through
// the device (for tests); every buffer in its own dtype.
func init() {
	collective.Register("nccl", open, collective.Capabilities{Native: []collective.Device{collective.CUDA}, Staged: []collective.Device{collective.CPU}})
}

// open is the registry's factory. It takes the device from Options.Device,
// which must say "cuda:N" (the caller knows which GPU is the rank's: ddp
// resolves --device from the rank's identity), uses the legacy default
// stream, and, for more than one rank,
// bootstraps over a TCP ring built from the same Options (peers, listener,
// job id, secret) that is closed again once the unique id has travelled.
// Options.WireDType must be 0 or Float32 (see Config.WireDType). Callers
// that need more call New.
func open(ctx context.Context, o collective.Options) (collective.Comm, error) {
	dev, err := device(o.Device)
	if err != nil {
		return nil, err
	}
	cfg := DefaultConfig()
	cfg.Rank, cfg.Size, cfg.Device, cfg.WireDType, cfg.Logger = o.Rank, o.Size, dev, o.WireDType, o.Logger
	if o.Timeout > 0 {
		cfg.Timeout = o.Timeout
	}
	probe := cfg
	probe.Bootstrap = CommBootstrap(nil) // check the rest before building the ring
	if err := probe.validate(); err != nil {
		return nil, err
	}
	if o.Size > 1 {
		rc := ring.DefaultConfig()
		rc.Rank, rc.Size, rc.Peers, rc.Listener = o.Rank, o.Size, o.Peers, o.Listener
		rc.JobID, rc.Secret, rc.Logger = o.JobID, o.Secret, o.Logger
		boot, err := ring.New(ctx, rc)
		if err != nil {
			return nil, fmt.Errorf("nccl: bootstrap ring: %w", err)
		}
		defer boot.Close()
		cfg.Bootstrap = CommBootstrap(boot)
	}
	return New(ctx, cfg)
}

// device parses Options.Device: "cuda:N".
func device(spec string) (int, error) {
	if spec == "" {
		return 0, fmt.Errorf("%w: nccl backend: Options.Device is not set: want cuda:N, the rank's GPU", collective.ErrInvalid)
	}
	rest, ok := strings.CutPrefix(spec, "cuda")
	if !ok {
		return 0, fmt.Errorf("%w: nccl backend: Options.Device=%q is not a CUDA device", collective.ErrUnsupported, spec)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(rest, ":"))
	if err != nil || !strings.HasPrefix(rest, ":") || n < 0 {
		return 0, fmt.Errorf("%w: nccl backend: Options.Device=%q: want cuda:N", collective.ErrInvalid, spec)
	}
	return n, nil
}
