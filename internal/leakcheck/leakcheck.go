// Package leakcheck fails a test whose goroutines outlive it: at cleanup it
// waits up to 5 s for every goroutine whose stack mentions the given code
// to end (a ResourceCheck in the style of raft's tests).
package leakcheck

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// Check registers a cleanup that fails t if goroutines whose stacks
// contain marker (e.g. "collective/ring.") are still running.
func Check(t testing.TB, marker string) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			leaked := Goroutines(marker)
			if leaked == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("leaked goroutines:\n%s", leaked)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// Goroutines returns the stacks, other than the caller's, that contain
// marker.
func Goroutines(marker string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i > 0 && strings.Contains(g, marker) { // the first stack is the caller's
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
