package netns

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Capabilities New needs (linux/capability.h): interfaces and qdiscs need
// CAP_NET_ADMIN; `ip netns add` mounts, which needs CAP_SYS_ADMIN.
const (
	capNetAdmin = 12
	capSysAdmin = 21
)

// Check reports why New cannot work here (wrapping ErrUnavailable), or
// nil: Linux, an ip binary, and CAP_NET_ADMIN and CAP_SYS_ADMIN (root).
func Check() error {
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("%w: no ip binary (iproute2) in PATH", ErrUnavailable)
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("%w: reading capabilities: %v", ErrUnavailable, err)
	}
	caps, ok := effectiveCaps(string(b))
	if !ok {
		return fmt.Errorf("%w: no CapEff in /proc/self/status", ErrUnavailable)
	}
	for _, c := range []struct {
		bit  uint
		name string
	}{{capNetAdmin, "CAP_NET_ADMIN"}, {capSysAdmin, "CAP_SYS_ADMIN"}} {
		if caps&(1<<c.bit) == 0 {
			return fmt.Errorf("%w: needs root (%s is missing; uid %d)", ErrUnavailable, c.name, os.Getuid())
		}
	}
	return nil
}

func effectiveCaps(status string) (uint64, bool) {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return caps, err == nil
		}
	}
	return 0, false
}

// ForTest makes the hosts for a test: it skips t (with Check's reason)
// where namespaces cannot be made, fails it if New fails otherwise, and
// closes the Net when t and its subtests end, failed or panicked alike.
func ForTest(t testing.TB, cfg Config) *Net {
	t.Helper()
	if err := Check(); err != nil {
		t.Skipf("%v (these tests run as root, as in CI)", err)
	}
	n, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("removing the test hosts: %v", err)
		}
	})
	return n
}
