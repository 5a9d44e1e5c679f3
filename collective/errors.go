package collective

import (
	"errors"
	"fmt"
)

// Sentinel errors. Backends wrap them (in an *OpError) so callers match
// them with errors.Is.
var (
	// ErrPeerLost means a rank left or its link broke.
	ErrPeerLost = errors.New("collective: peer lost")
	// ErrAborted is returned by calls on a Comm poisoned by an earlier
	// failure; the error also wraps that failure.
	ErrAborted = errors.New("collective: communicator aborted")
	// ErrTimeout means a peer made no progress within the configured timeout.
	ErrTimeout = errors.New("collective: timeout")
	// ErrMismatch means ranks called different collectives, or the same one
	// with different counts, dtypes, ops or roots.
	ErrMismatch = errors.New("collective: mismatched call")
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("collective: communicator closed")
	// ErrInvalid means the arguments are unusable (bad dtype, count, root).
	ErrInvalid = errors.New("collective: invalid argument")
	// ErrUnsupported means the backend cannot do this (dtype, op, device).
	ErrUnsupported = errors.New("collective: unsupported")
)

// OpError records a failed collective: which rank, which call (by its
// sequence number, counted from 1 on every rank), and which peer if known.
type OpError struct {
	Rank int    // the rank reporting the error
	Op   string // "all-reduce", "broadcast", "all-gather", "connect", ...
	Seq  uint64 // the call's sequence number; 0 for connection set-up
	Peer int    // the peer involved, or -1
	Err  error
}

func (e *OpError) Error() string {
	s := fmt.Sprintf("collective: rank %d: %s", e.Rank, e.Op)
	if e.Seq > 0 {
		s += fmt.Sprintf(" #%d", e.Seq)
	}
	if e.Peer >= 0 {
		s += fmt.Sprintf(" (peer rank %d)", e.Peer)
	}
	return s + ": " + e.Err.Error()
}

func (e *OpError) Unwrap() error { return e.Err }
