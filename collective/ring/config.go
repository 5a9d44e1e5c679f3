package ring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/ddprun/ddprun/collective"
)

// Dialer opens connections to peers. *net.Dialer implements it; ringtest's
// in-memory network provides another.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Config says who this rank is, how to reach its peers and how to behave.
// Start from DefaultConfig (or LocalConfig in tests) and set the identity.
type Config struct {
	Rank  int      // this rank, in [0, Size)
	Size  int      // world size, >= 1
	Peers []string // rank -> "host:port"; len(Peers) == Size when Size > 1

	// Listener is this rank's listening socket, opened by the caller (so a
	// launcher can listen on port 0 and announce the port). New owns it and
	// closes it once the ring is connected or has failed. If nil, New
	// listens on ListenAddr, or on Peers[Rank] if ListenAddr is empty.
	Listener   net.Listener
	ListenAddr string

	// Dialer opens connections; nil means a net.Dialer with TCP keepalive.
	Dialer Dialer

	JobID  string // every rank of a job must agree; checked in the handshake
	Secret []byte // per-job secret proven by HMAC-SHA256; never sent

	// WireDType is how Float32 buffers travel during AllReduce: Float32
	// (the default, also when zero), BFloat16 or Float16. Other buffer
	// dtypes always travel as themselves, as do Broadcast and AllGather.
	WireDType collective.DType

	// Integrity adds a tag to every message on the ring's links (AES-GCM
	// over the data, keyed per connection from the handshake), so that a
	// changed, dropped, replayed or reordered byte fails the call instead
	// of corrupting the result. Data stay unencrypted. All ranks must agree:
	// a rank that differs fails New at the handshake. Off by default. See
	// Note [Integrity].
	Integrity bool

	// Timeout bounds how long a call waits without progress from a peer.
	// Default 5 minutes: generous for training, where a slow rank
	// legitimately keeps the others waiting.
	Timeout time.Duration
	// ConnectTimeout bounds New: peers may start in any order within it.
	// Default 5 minutes.
	ConnectTimeout time.Duration
	// HandshakeTimeout bounds each connection's handshake. Handshakes run
	// concurrently, so a silent stranger on the port holds up only itself.
	// Default 10s.
	HandshakeTimeout time.Duration
	// DialBackoff is the first wait between failed dials, doubled up to
	// DialBackoffMax. Defaults 20ms and 1s.
	DialBackoff, DialBackoffMax time.Duration
	// KeepAlive is the TCP keepalive idle time and probe interval; a dead
	// peer host is detected after about KeepAlive*4. Default 15s;
	// negative disables keepalive.
	KeepAlive time.Duration

	// ChunkBytes is the pipelining unit on the wire. Default 1 MiB.
	ChunkBytes int
	// SmallBytes: AllReduce of at most this many wire bytes per rank uses
	// the latency path (one all-gather, then a local reduction: n-1 hops
	// instead of 2(n-1)). Default 32 KiB; negative disables it.
	SmallBytes int
	// SocketBuffer sets SO_SNDBUF and SO_RCVBUF on TCP connections. Default
	// 4 MiB; negative leaves the kernel's autotuning alone.
	SocketBuffer int

	Logger *slog.Logger // nil: discard
}

// DefaultConfig is the production preset.
func DefaultConfig() Config {
	return Config{
		Timeout:          5 * time.Minute,
		ConnectTimeout:   5 * time.Minute,
		HandshakeTimeout: 10 * time.Second,
		DialBackoff:      20 * time.Millisecond,
		DialBackoffMax:   time.Second,
		KeepAlive:        15 * time.Second,
		ChunkBytes:       1 << 20,
		SmallBytes:       32 << 10,
		SocketBuffer:     4 << 20,
	}
}

// LocalConfig is the preset for tests and single-machine runs: failures
// surface in seconds rather than minutes.
func LocalConfig() Config {
	c := DefaultConfig()
	c.Timeout = 10 * time.Second
	c.ConnectTimeout = 10 * time.Second
	c.KeepAlive = time.Second
	return c
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setDefault(&c.Timeout, d.Timeout)
	setDefault(&c.ConnectTimeout, d.ConnectTimeout)
	setDefault(&c.HandshakeTimeout, d.HandshakeTimeout)
	setDefault(&c.DialBackoff, d.DialBackoff)
	setDefault(&c.DialBackoffMax, d.DialBackoffMax)
	setDefault(&c.KeepAlive, d.KeepAlive)
	setDefault(&c.ChunkBytes, d.ChunkBytes)
	setDefault(&c.SmallBytes, d.SmallBytes)
	setDefault(&c.SocketBuffer, d.SocketBuffer)
	if c.WireDType == 0 {
		c.WireDType = collective.Float32
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func setDefault[T comparable](p *T, d T) {
	var zero T
	if *p == zero {
		*p = d
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.Size < 1 || c.Rank < 0 || c.Rank >= c.Size {
		errs = append(errs, fmt.Errorf("rank %d not in world of size %d", c.Rank, c.Size))
	}
	if c.Size > 1 && len(c.Peers) != c.Size {
		errs = append(errs, fmt.Errorf("%d peer addresses for world size %d", len(c.Peers), c.Size))
	}
	switch c.WireDType {
	case collective.Float32, collective.BFloat16, collective.Float16:
	default:
		errs = append(errs, fmt.Errorf("wire dtype %v: want float32, bfloat16 or float16", c.WireDType))
	}
	if c.ChunkBytes < 64 {
		errs = append(errs, fmt.Errorf("chunk of %d bytes: want at least 64", c.ChunkBytes))
	}
	if c.Size > 1 && len(c.Secret) == 0 {
		errs = append(errs, errors.New("empty secret"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: ring config: %w", collective.ErrInvalid, err)
	}
	return nil
}
