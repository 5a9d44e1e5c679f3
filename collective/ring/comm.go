package ring

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ddprun/ddprun/collective"
)

// Comm is one rank's end of a TCP ring. It implements collective.Comm,
// collective.VarAllGatherer and collective.ReduceScatterer.
//
// Lock order: Comm.mu (one call at a time) -> Comm.failMu (failure state).
type Comm struct {
	cfg              Config
	rank, size       int
	left, right      int
	send, recv       net.Conn // send: to right; recv: from left
	sendMAC, recvMAC *linkMAC // nil unless cfg.Integrity; see Note [Integrity]
	mu               sync.Mutex
	seq              uint64
	started          atomic.Uint64 // seq, for Seq from other goroutines
	failMu           sync.Mutex
	failed           error // first failure; set once
	closed           bool
	wg               sync.WaitGroup // the sender goroutine of the current call
	progress         atomic.Int64   // receive items done in the current call
	stopSend         atomic.Bool    // the receiver failed: the sender stops
	notify           chan struct{}  // progress changed (capacity 1)
	sent             atomic.Int64   // send items written in the current call
	senderDone       atomic.Bool
	sentNotify       chan struct{} // sent or senderDone changed (capacity 1)
	sendDone         chan error    // the sender's result (capacity 1)
	sendBuf, recvBuf []byte        // per-chunk scratch, 8-byte aligned
	gather           []byte        // latency path scratch
	hdrOut, hdrIn    [headerSize]byte
}

var (
	_ collective.Comm            = (*Comm)(nil)
	_ collective.VarAllGatherer  = (*Comm)(nil)
	_ collective.ReduceScatterer = (*Comm)(nil)
	_ collective.Sequencer       = (*Comm)(nil)
)

func init() {
	collective.Register("ring", func(ctx context.Context, o collective.Options) (collective.Comm, error) {
		cfg := DefaultConfig()
		cfg.Rank, cfg.Size, cfg.Peers, cfg.Listener = o.Rank, o.Size, o.Peers, o.Listener
		cfg.JobID, cfg.Secret, cfg.WireDType, cfg.Logger, cfg.Integrity = o.JobID, o.Secret, o.WireDType, o.Logger, o.Integrity
		cfg.ChunkBytes = o.ChunkBytes // 0: the default (withDefaults)
		if o.Timeout > 0 {
			cfg.Timeout = o.Timeout
		}
		return New(ctx, cfg)
	}, collective.Capabilities{Native: []collective.Device{collective.CPU}, ConvertsWire: true, Integrity: true})
}

// New joins the ring: it listens (or uses cfg.Listener), dials the right
// neighbour and accepts the left one, authenticating both, and returns
// when both links are up. Peers may start in any order within
// cfg.ConnectTimeout. Zero fields of cfg take DefaultConfig's values.
func New(ctx context.Context, cfg Config) (*Comm, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		closeListener(cfg.Listener)
		return nil, err
	}
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		closeListener(cfg.Listener)
		return nil, fmt.Errorf("%w: ring needs a little-endian host", collective.ErrUnsupported)
	}
	c := &Comm{
		cfg: cfg, rank: cfg.Rank, size: cfg.Size,
		left: (cfg.Rank + cfg.Size - 1) % cfg.Size, right: (cfg.Rank + 1) % cfg.Size,
		notify: make(chan struct{}, 1), sentNotify: make(chan struct{}, 1), sendDone: make(chan error, 1),
	}
	if c.size == 1 {
		closeListener(cfg.Listener)
		return c, nil
	}
	ln, err := c.listen(ctx)
	if err != nil {
		return nil, err
	}
	if c.cfg.Dialer == nil {
		c.cfg.Dialer = &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: cfg.KeepAlive > 0, Idle: cfg.KeepAlive, Interval: cfg.KeepAlive, Count: 3}}
	}
	if err := c.connect(ctx, ln); err != nil {
		return nil, err
	}
	c.sendBuf = alignedBytes(cfg.ChunkBytes + 64) // a chunk may exceed ChunkBytes by an element
	c.recvBuf = alignedBytes(cfg.ChunkBytes + 64)
	cfg.Logger.Debug("ring connected", "rank", c.rank, "size", c.size)
	return c, nil
}

func closeListener(ln net.Listener) {
	if ln != nil {
		ln.Close()
	}
}

func (c *Comm) listen(ctx context.Context) (net.Listener, error) {
	if c.cfg.Listener != nil {
		return c.cfg.Listener, nil
	}
	addr := c.cfg.ListenAddr
	if addr == "" {
		addr = c.cfg.Peers[c.rank]
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, c.connectError(-1, err)
	}
	return ln, nil
}

// alignedBytes allocates n bytes (rounded up to 8) aligned for any dtype.
func alignedBytes(n int) []byte {
	w := make([]uint64, (n+7)/8)
	return unsafeBytes(w)
}

func (c *Comm) connectError(peer int, err error) error {
	return &collective.OpError{Rank: c.rank, Op: "connect", Peer: peer, Err: err}
}

// Rank is this rank.
func (c *Comm) Rank() int { return c.rank }

// Size is the world size.
func (c *Comm) Size() int { return c.size }

// WireDType is the dtype Float32 buffers travel as during AllReduce.
func (c *Comm) WireDType() collective.DType { return c.cfg.WireDType }

// Close closes both links (peers see their calls fail with ErrPeerLost)
// and waits for the Comm's goroutines. Calls after Close return
// collective.ErrClosed. Close is idempotent.
func (c *Comm) Close() error {
	c.failMu.Lock()
	first := !c.closed
	c.closed = true
	c.failMu.Unlock()
	if first {
		closeIfSet(c.send)
		closeIfSet(c.recv)
	}
	c.wg.Wait()
	return nil
}

// Seq returns the sequence number of the last collective this Comm started
// (0 before the first), from any goroutine: progress reports use it to say
// which collective a rank is in.
func (c *Comm) Seq() uint64 { return c.started.Load() }

// begin starts call number seq: it takes the call lock and fails fast on a
// closed or poisoned Comm. The caller must call c.mu.Unlock.
func (c *Comm) begin(k kind) (uint64, error) {
	c.mu.Lock()
	c.seq++
	c.started.Store(c.seq)
	c.failMu.Lock()
	defer c.failMu.Unlock()
	switch {
	case c.failed != nil:
		return c.seq, &collective.OpError{Rank: c.rank, Op: k.String(), Seq: c.seq, Peer: -1,
			Err: fmt.Errorf("%w by an earlier failure: %w", collective.ErrAborted, c.failed)}
	case c.closed:
		return c.seq, &collective.OpError{Rank: c.rank, Op: k.String(), Seq: c.seq, Peer: -1, Err: collective.ErrClosed}
	}
	return c.seq, nil
}

// fail records the first failure and closes both links, so that the
// neighbours' calls fail too and the failure travels round the ring. It
// returns the first failure, which is the one to report (fail(nil) just
// returns it).
func (c *Comm) fail(err *collective.OpError) error {
	c.failMu.Lock()
	defer c.failMu.Unlock()
	if c.failed == nil && err != nil {
		c.failed = err
		closeIfSet(c.send)
		closeIfSet(c.recv)
	}
	return c.failed
}

// classify names an I/O error on the link to peer.
func (c *Comm) classify(ctx context.Context, err error) error {
	c.failMu.Lock()
	closed := c.closed
	c.failMu.Unlock()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	case errors.Is(err, collective.ErrMismatch):
		return err
	case errors.Is(err, errFrame):
		return fmt.Errorf("%w: %w", collective.ErrMismatch, err)
	case errors.Is(err, net.ErrClosed) && closed:
		return collective.ErrClosed
	case isTimeout(err):
		return fmt.Errorf("%w: no progress for %v: %w", collective.ErrTimeout, c.cfg.Timeout, err)
	}
	return fmt.Errorf("%w: %w", collective.ErrPeerLost, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// deadline is when the current I/O must have made progress.
func (c *Comm) deadline() time.Time { return time.Now().Add(c.cfg.Timeout) }
