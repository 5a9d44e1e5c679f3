package launcher

import "errors"

// Sentinel errors; match them with errors.Is.
var (
	ErrRendezvous = errors.New("launcher: rendezvous failed")
	ErrRankFailed = errors.New("launcher: a rank failed")
	ErrNodeLeft   = errors.New("launcher: a node left")
	ErrStalled    = errors.New("launcher: job stalled")
	ErrStopped    = errors.New("launcher: stopped on request")
)
