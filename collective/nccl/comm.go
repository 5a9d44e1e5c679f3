package nccl

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ddprun/ddprun/collective"
)

// UniqueIDBytes is the size of an ncclUniqueId (NCCL_UNIQUE_ID_BYTES).
const UniqueIDBytes = 128

// Comm is one rank's NCCL communicator. It implements collective.Comm and
// collective.ReduceScatterer.
//
// Lock order: Comm.mu (one call at a time, owns handle) -> Comm.failMu.
type Comm struct {
	cfg     Config
	lib     ncclSyms
	cuda    cudaSyms
	version Version

	mu      sync.Mutex
	seq     uint64
	stream  uintptr
	handle  uintptr // ncclComm_t; 0 once aborted or destroyed
	scratch scratch // device staging for host buffers

	failMu sync.Mutex
	failed error // first failure; set once
	closed bool
	done   chan struct{} // closed by Close

	wg sync.WaitGroup // enqueue goroutines
}

var (
	_ collective.Comm            = (*Comm)(nil)
	_ collective.ReduceScatterer = (*Comm)(nil)
)

// New loads NCCL and the CUDA runtime, checks the device, exchanges the
// unique id (rank 0 creates it and sends it through cfg.Bootstrap) and
// joins the communicator. It returns when every rank has joined, or fails
// after cfg.InitTimeout or when ctx ends. Zero fields of cfg take
// DefaultConfig's values.
//
// If ncclCommInitRank is still blocked when New gives up, the goroutine
// running it is left behind; should it ever return, it aborts the
// communicator it made.
func New(ctx context.Context, cfg Config) (*Comm, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Comm{cfg: cfg, stream: cfg.Stream, done: make(chan struct{})}
	if err := c.load(); err != nil {
		return nil, c.initError(err)
	}
	var id [UniqueIDBytes]byte
	if err := c.exchangeID(ctx, &id); err != nil {
		return nil, c.initError(err)
	}
	if err := c.initRank(ctx, &id); err != nil {
		return nil, c.initError(err)
	}
	cfg.Logger.Debug("nccl communicator ready", "rank", cfg.Rank, "size", cfg.Size, "device", cfg.Device, "version", c.version)
	return c, nil
}

func (c *Comm) initError(err error) error {
	return &collective.OpError{Rank: c.cfg.Rank, Op: "nccl init", Peer: -1, Err: err}
}

// load opens the libraries and checks the device.
func (c *Comm) load() error {
	var err error
	if c.lib, err = loadNCCL(); err != nil {
		return err
	}
	if c.cuda, err = loadCUDA(); err != nil {
		return err
	}
	if c.version, err = libVersion(c.lib); err != nil {
		return err
	}
	n, r := c.cuda.deviceCount()
	switch {
	case r != cudaSuccess:
		return fmt.Errorf("%w: %w", ErrNoDevice, cudaErr(c.cuda, "cudaGetDeviceCount", r))
	case n == 0:
		return fmt.Errorf("%w: cudaGetDeviceCount found none (CUDA_VISIBLE_DEVICES=%q?)", ErrNoDevice, os.Getenv("CUDA_VISIBLE_DEVICES"))
	case c.cfg.Device >= n:
		return fmt.Errorf("%w: device %d requested, %d visible", ErrNoDevice, c.cfg.Device, n)
	}
	return nil
}

func (c *Comm) exchangeID(ctx context.Context, id *[UniqueIDBytes]byte) error {
	if c.cfg.Rank == 0 {
		if r := c.lib.uniqueID(id); r != resSuccess {
			return ncclError(c.lib, "ncclGetUniqueId", r)
		}
	}
	if c.cfg.Size == 1 {
		return nil
	}
	if err := c.cfg.Bootstrap.BroadcastBytes(ctx, id[:], 0); err != nil {
		return fmt.Errorf("bootstrap: broadcast of the unique id: %w", err)
	}
	return nil
}

type initResult struct {
	handle uintptr
	r      result
	cerr   cudaError
}

// initRank runs ncclCommInitRank (which blocks until all ranks join) on
// its own goroutine so that ctx and InitTimeout can end the wait.
func (c *Comm) initRank(ctx context.Context, id *[UniqueIDBytes]byte) error {
	idCopy := *id
	ch := make(chan initResult, 1)
	var abandoned sync.Mutex // held by New once it has given up
	gaveUp := false
	go func() {
		h, r, ce := c.lib.initRank(c.cuda, c.cfg.Device, &idCopy, c.cfg.Size, c.cfg.Rank)
		abandoned.Lock()
		defer abandoned.Unlock()
		if gaveUp {
			if h != 0 && r == resSuccess {
				c.lib.abort(h)
			}
			return
		}
		ch <- initResult{h, r, ce}
	}()
	timer := time.NewTimer(c.cfg.InitTimeout)
	defer timer.Stop()
	var err error
	select {
	case res := <-ch:
		return c.initDone(res)
	case <-ctx.Done():
		err = fmt.Errorf("ncclCommInitRank: %w", context.Cause(ctx))
	case <-timer.C:
		err = fmt.Errorf("%w: ncclCommInitRank: not every rank joined within %v", collective.ErrTimeout, c.cfg.InitTimeout)
	}
	abandoned.Lock()
	defer abandoned.Unlock()
	select {
	case res := <-ch: // it finished meanwhile
		if res.r == resSuccess && res.handle != 0 {
			c.lib.abort(res.handle)
		}
	default:
		gaveUp = true
	}
	return err
}

func (c *Comm) initDone(res initResult) error {
	switch {
	case res.cerr != cudaSuccess:
		return fmt.Errorf("device %d: %w", c.cfg.Device, cudaErr(c.cuda, "cudaSetDevice", res.cerr))
	case res.r != resSuccess:
		return ncclError(c.lib, "ncclCommInitRank", res.r)
	}
	c.handle = res.handle
	return nil
}

// Rank is this rank.
func (c *Comm) Rank() int { return c.cfg.Rank }

// Size is the world size.
func (c *Comm) Size() int { return c.cfg.Size }

// Version is the loaded NCCL's version.
func (c *Comm) Version() Version { return c.version }

// SetStream makes later calls enqueue on stream (a cudaStream_t; 0 is the
// legacy default stream). It must not be called during a collective.
func (c *Comm) SetStream(stream uintptr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stream = stream
}

// Close frees the communicator: ncclCommDestroy if it is healthy,
// otherwise it was already aborted. A collective running concurrently is
// aborted and returns an error wrapping collective.ErrClosed. Close waits
// for the Comm's goroutines, may be called more than once, and calls after
// it return collective.ErrClosed.
func (c *Comm) Close() error {
	c.failMu.Lock()
	first := !c.closed
	if first {
		c.closed = true
		close(c.done)
	}
	c.failMu.Unlock()
	var err error
	if first {
		c.mu.Lock()
		err = c.release()
		c.scratch.free(c.cuda)
		c.mu.Unlock()
	}
	c.wg.Wait()
	return err
}

// release destroys or aborts the handle. The caller holds c.mu.
func (c *Comm) release() error {
	h := c.handle
	if h == 0 {
		return nil
	}
	c.handle = 0
	c.failMu.Lock()
	healthy := c.failed == nil
	c.failMu.Unlock()
	if !healthy {
		c.lib.abort(h)
		return nil
	}
	if r := c.lib.destroy(h); r != resSuccess {
		return &collective.OpError{Rank: c.cfg.Rank, Op: "close", Peer: -1, Err: ncclError(c.lib, "ncclCommDestroy", r)}
	}
	return nil
}

// begin starts a call: it takes c.mu and fails fast on a closed or
// poisoned Comm. The caller must call c.mu.Unlock.
func (c *Comm) begin(op string) (uint64, error) {
	c.mu.Lock()
	c.seq++
	c.failMu.Lock()
	defer c.failMu.Unlock()
	switch {
	case c.closed:
		return c.seq, c.opError(op, c.seq, collective.ErrClosed)
	case c.failed != nil:
		return c.seq, c.opError(op, c.seq, fmt.Errorf("%w by an earlier failure: %w", collective.ErrAborted, c.failed))
	}
	return c.seq, nil
}

func (c *Comm) opError(op string, seq uint64, err error) *collective.OpError {
	return &collective.OpError{Rank: c.cfg.Rank, Op: op, Seq: seq, Peer: -1, Err: err}
}

// fail poisons the Comm with its first failure and aborts the NCCL
// communicator (if the failure has not already). The caller holds c.mu.
func (c *Comm) fail(op string, seq uint64, err error) error {
	e := c.opError(op, seq, err)
	c.failMu.Lock()
	if c.failed == nil {
		c.failed = e
	}
	c.failMu.Unlock()
	if h := c.handle; h != 0 {
		c.handle = 0
		c.lib.abort(h)
	}
	return e
}
