package ring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"
)

// allocatedBytes is how many bytes f allocates per run, on average.
func allocatedBytes(runs int, f func()) uint64 {
	f() // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// TestReadFrame_BoundBeforeAlloc feeds frame headers that announce more
// than the bound (and no payload): readFrame must refuse them before
// allocating the payload. Allocating even the smallest of them (maxFrame+1
// bytes) would exceed the budget, which leaves room for the error only.
func TestReadFrame_BoundBeforeAlloc(t *testing.T) {
	const budget = maxFrame / 2
	for _, n := range []uint32{maxFrame + 1, 1 << 20, 1 << 31, 0xffffffff} {
		t.Run(fmt.Sprintf("length=%d", n), func(t *testing.T) {
			var hdr [5]byte
			hdr[0] = frameHello
			binary.BigEndian.PutUint32(hdr[1:], n)
			runs := 100
			if n > 1<<20 {
				runs = 2 // should the bound be gone, keep the test's own allocations sane
			}
			var err error
			got := allocatedBytes(runs, func() {
				_, _, err = readFrame(bytes.NewReader(hdr[:]), maxFrame)
			})
			if !errors.Is(err, errFrame) {
				t.Errorf("got %v, want errFrame", err)
			}
			t.Logf("%d bytes allocated per refusal", got)
			if got > budget {
				t.Errorf("refusing a %d-byte frame allocated %d bytes, want at most %d", n, got, budget)
			}
		})
	}
}
