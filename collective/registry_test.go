package collective_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ddprun/ddprun/collective"
)

// Backends declare what they can do; Open refuses what a backend cannot
// (message integrity) before calling it, and NativeBackends picks by
// device.
func TestRegistry_Capabilities(t *testing.T) {
	opened := 0
	collective.Register("test-gpu-only", func(context.Context, collective.Options) (collective.Comm, error) {
		opened++
		return collective.Solo(), nil
	}, collective.Capabilities{Native: []collective.Device{collective.CUDA}, Staged: []collective.Device{collective.CPU}})
	caps, ok := collective.CapabilitiesOf("test-gpu-only")
	if !ok || !caps.Accepts(collective.CPU) || caps.ConvertsWire {
		t.Fatalf("capabilities %+v, %v", caps, ok)
	}
	if got := collective.NativeBackends(collective.CUDA); !slices.Contains(got, "test-gpu-only") {
		t.Errorf("native CUDA backends %v", got)
	}
	if got := collective.NativeBackends(collective.CPU); slices.Contains(got, "test-gpu-only") {
		t.Errorf("a staged device counted as native: %v", got)
	}
	if _, err := collective.Open(t.Context(), "test-gpu-only", collective.Options{Integrity: true}); !errors.Is(err, collective.ErrUnsupported) || opened != 0 {
		t.Errorf("integrity from a backend without it: %v (opened %d times)", err, opened)
	}
	c, err := collective.Open(t.Context(), "test-gpu-only", collective.Options{})
	if err != nil || opened != 1 {
		t.Fatalf("open: %v", err)
	}
	c.Close()
	if _, err := collective.Open(t.Context(), "no-such-backend", collective.Options{}); !errors.Is(err, collective.ErrUnsupported) {
		t.Errorf("unknown backend: %v", err)
	}
}
