package nccl

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ddprun/ddprun/collective"
)

// Config says who this rank is, which device it drives and how it finds
// its peers. Start from DefaultConfig and set the identity.
type Config struct {
	Rank int // this rank, in [0, Size)
	Size int // world size, >= 1

	// Device is the CUDA device index this rank uses (usually the local
	// rank). New fails with ErrNoDevice if it does not exist.
	Device int

	// Stream is the cudaStream_t (as a uintptr) that collectives are
	// enqueued on: the stream libtorch computes on, so that a collective
	// runs after the kernels that produced its buffer. 0 is the legacy
	// default stream, which is what libtorch (and gotch) use unless told
	// otherwise. SetStream changes it between calls.
	Stream uintptr

	// Bootstrap carries the 128-byte NCCL unique id from rank 0 to the
	// others. Required when Size > 1; see CommBootstrap.
	Bootstrap Bootstrap

	// WireDType must be 0 or Float32. NCCL reduces every buffer in its own
	// dtype: converting float32 to bfloat16 would need a CUDA kernel, which
	// this package does not have. To reduce in bfloat16, hand AllReduce
	// bfloat16 buffers (ddp does with --wire bf16).
	WireDType collective.DType

	// Timeout bounds each collective, from enqueue to the stream's
	// completion. On expiry the communicator is aborted. Default 5 minutes.
	Timeout time.Duration
	// InitTimeout bounds ncclCommInitRank, which waits for every rank.
	// Default 5 minutes.
	InitTimeout time.Duration

	Logger *slog.Logger // nil: discard
}

// DefaultConfig is the production preset.
func DefaultConfig() Config {
	return Config{Timeout: 5 * time.Minute, InitTimeout: 5 * time.Minute}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if c.InitTimeout <= 0 {
		c.InitTimeout = d.InitTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c *Config) validate() error {
	var errs []error
	if c.Size < 1 || c.Rank < 0 || c.Rank >= c.Size {
		errs = append(errs, fmt.Errorf("rank %d not in world of size %d", c.Rank, c.Size))
	}
	if c.Size > 1 && c.Bootstrap == nil {
		errs = append(errs, errors.New("no bootstrap to exchange the NCCL unique id"))
	}
	if c.Device < 0 {
		errs = append(errs, fmt.Errorf("device %d", c.Device))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: nccl config: %w", collective.ErrInvalid, err)
	}
	if c.WireDType != 0 && c.WireDType != collective.Float32 {
		return fmt.Errorf("%w: nccl config: wire dtype %v: NCCL reduces each buffer in its own dtype and "+
			"converting on the device needs a CUDA kernel; pass %v buffers instead", collective.ErrUnsupported, c.WireDType, c.WireDType)
	}
	return nil
}
