package k8s

import "errors"

var (
	// ErrOptions is wrapped by every error about bad render options.
	ErrOptions = errors.New("k8s: bad options")
	// ErrPodEnv is wrapped by errors about a pod environment that names a
	// ddprun pod but is inconsistent.
	ErrPodEnv = errors.New("k8s: bad pod environment")
	// ErrNoDNS is wrapped when a peer's name did not resolve in time.
	ErrNoDNS = errors.New("k8s: peer name does not resolve")
)
