package collective

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

// Options is what every backend needs to join a job. Backends document
// which fields they use; zero values mean the backend's defaults.
type Options struct {
	Rank  int
	Size  int
	Peers []string // rank -> "host:port", for backends that connect directly
	// Listener, if set, is this rank's listening socket (opened by the
	// launcher so that it can announce port 0's real port). The backend
	// takes ownership and closes it.
	Listener  net.Listener
	JobID     string
	Secret    []byte
	WireDType DType         // wire type for Float32 buffers; 0 = Float32
	Timeout   time.Duration // how long a peer may make no progress
	// ChunkBytes is the pipelining unit on the wire, for backends that
	// chunk (the ring); 0 leaves it to the backend.
	ChunkBytes int
	Logger     *slog.Logger
	// Device is the accelerator this rank drives, for backends that drive
	// one: "cuda:N" for nccl, which requires it. Backends never guess it
	// from the environment: the caller resolves it from the rank's
	// identity (ddp.ResolveDevice).
	Device string
	// Integrity asks a backend that carries data over its own connections
	// (the ring) to authenticate every message, so that nobody on the path
	// can alter gradients undetected; a backend that cannot refuses it.
	Integrity bool
}

// Factory opens a Comm for a backend.
type Factory func(ctx context.Context, o Options) (Comm, error)

// Capabilities are what a backend declares about itself, so that callers
// choose and configure backends without knowing their names.
type Capabilities struct {
	// Native lists the devices whose buffers the backend reduces where
	// they are; a caller choosing a backend automatically picks one of
	// these. Staged lists devices it also accepts by copying (for tests).
	Native, Staged []Device
	// ConvertsWire: the backend reduces Float32 buffers with a narrower
	// Options.WireDType on the wire by itself (the ring). Without it the
	// backend reduces every buffer in its own dtype, and a caller that
	// wants bf16 on the wire converts its buffers first.
	ConvertsWire bool
	// Integrity: the backend can authenticate every message
	// (Options.Integrity).
	Integrity bool
}

// Accepts reports whether buffers on d can be reduced at all.
func (c Capabilities) Accepts(d Device) bool {
	return slices.Contains(c.Native, d) || slices.Contains(c.Staged, d)
}

type backend struct {
	open Factory
	caps Capabilities
}

var registry struct {
	sync.Mutex
	m map[string]backend
}

// Register makes a backend available by name, with what it can do.
// Backends call it from init; it panics on a duplicate name, like
// database/sql.Register.
func Register(name string, f Factory, caps Capabilities) {
	registry.Lock()
	defer registry.Unlock()
	if registry.m == nil {
		registry.m = map[string]backend{}
	}
	if _, dup := registry.m[name]; dup {
		panic("collective: Register called twice for backend " + name)
	}
	registry.m[name] = backend{f, caps}
}

// CapabilitiesOf returns what the named backend declared, and whether it
// is registered.
func CapabilitiesOf(name string) (Capabilities, bool) {
	registry.Lock()
	defer registry.Unlock()
	b, ok := registry.m[name]
	return b.caps, ok
}

// NativeBackends lists the registered backends that reduce buffers on d
// natively, sorted by name.
func NativeBackends(d Device) []string {
	var out []string
	for _, n := range Backends() {
		if c, _ := CapabilitiesOf(n); slices.Contains(c.Native, d) {
			out = append(out, n)
		}
	}
	return out
}

// Backends lists the registered backend names, sorted.
func Backends() []string {
	registry.Lock()
	defer registry.Unlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Open opens a Comm with the named backend. The backend's package must be
// imported (for its init), e.g. _ "github.com/ddprun/ddprun/collective/ring".
func Open(ctx context.Context, backend string, o Options) (Comm, error) {
	registry.Lock()
	b, ok := registry.m[backend]
	registry.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: no backend %q (have %v)", ErrUnsupported, backend, Backends())
	}
	if o.Integrity && !b.caps.Integrity {
		return nil, fmt.Errorf("%w: backend %s cannot authenticate every message (Options.Integrity)", ErrUnsupported, backend)
	}
	return b.open(ctx, o)
}
