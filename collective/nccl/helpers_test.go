package nccl

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/nccl/nccltest"
	"github.com/ddprun/ddprun/internal/leakcheck"
)

func TestMain(m *testing.M) {
	code := m.Run()
	nccltest.Cleanup()
	os.Exit(code)
}

// fakes builds the fake libraries (package nccltest), or skips the test
// when this build cannot load them.
func fakes(t *testing.T) nccltest.Libs {
	t.Helper()
	if !haveCgo {
		t.Skip("built without cgo: nothing can be loaded")
	}
	return nccltest.Build(t)
}

// useFakes points the loader at the fake libraries.
func useFakes(t *testing.T) {
	t.Helper()
	libs := fakes(t)
	t.Setenv(EnvNCCLLib, libs.NCCL)
	t.Setenv(EnvCUDARTLib, libs.CUDART)
}

// memBootstrap is a Bootstrap over channels for ranks in one process.
type memBootstrap struct {
	size int
	ch   chan []byte
}

func newMemBootstrap(size int) *memBootstrap {
	return &memBootstrap{size: size, ch: make(chan []byte, size)}
}

type memRank struct {
	b    *memBootstrap
	rank int
}

func (r memRank) BroadcastBytes(ctx context.Context, p []byte, root int) error {
	if r.rank == root {
		for range r.b.size - 1 {
			r.b.ch <- append([]byte(nil), p...)
		}
		return nil
	}
	select {
	case got := <-r.b.ch:
		copy(p, got)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// testConfigs returns configs for n ranks wired to one memBootstrap.
func testConfigs(n int, timeout time.Duration) []Config {
	b := newMemBootstrap(n)
	cfgs := make([]Config, n)
	for r := range cfgs {
		cfgs[r] = DefaultConfig()
		cfgs[r].Rank, cfgs[r].Size, cfgs[r].Bootstrap = r, n, memRank{b, r}
		cfgs[r].Timeout, cfgs[r].InitTimeout = timeout, 10*time.Second
	}
	return cfgs
}

// runRanks opens one Comm per config concurrently, runs f on each and
// returns every rank's error. Comms are closed before it returns.
func runRanks(t *testing.T, cfgs []Config, f func(ctx context.Context, c *Comm) error) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for r, cfg := range cfgs {
		wg.Go(func() {
			c, err := New(ctx, cfg)
			if err != nil {
				errs[r] = err
				return
			}
			defer c.Close()
			errs[r] = f(ctx, c)
		})
	}
	wg.Wait()
	return errs
}

func mustRun(t *testing.T, cfgs []Config, f func(ctx context.Context, c *Comm) error) {
	t.Helper()
	for r, err := range runRanks(t, cfgs, f) {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

// devSlice copies host values into fake device memory and back.
type devSlice[T any] struct {
	cu  *CUDA
	p   unsafe.Pointer
	n   int
	buf collective.Buffer
}

func toDevice[T any](t *testing.T, cu *CUDA, host []T, dt collective.DType) *devSlice[T] {
	t.Helper()
	var zero T
	bytes := len(host) * int(unsafe.Sizeof(zero))
	p, err := cu.Malloc(max(bytes, 1))
	if err != nil {
		t.Fatal(err)
	}
	if bytes > 0 {
		if err := cu.CopyToDevice(p, unsafe.Pointer(&host[0]), bytes); err != nil {
			t.Fatal(err)
		}
	}
	d := &devSlice[T]{cu: cu, p: p, n: len(host)}
	d.buf = collective.Buffer{Ptr: p, Count: len(host), DType: dt, Device: collective.CUDA}
	t.Cleanup(func() { cu.Free(p) })
	return d
}

func (d *devSlice[T]) host(t *testing.T) []T {
	out := make([]T, d.n)
	if d.n > 0 {
		var zero T
		if err := d.cu.CopyToHost(unsafe.Pointer(&out[0]), d.p, d.n*int(unsafe.Sizeof(zero))); err != nil {
			t.Error(err)
		}
	}
	return out
}

func mustCUDA(t *testing.T) *CUDA {
	t.Helper()
	cu, err := OpenCUDA()
	if err != nil {
		t.Fatal(err)
	}
	return cu
}

// checkNoLeaks fails the test if goroutines running this package's code
// outlive it.
func checkNoLeaks(t *testing.T) { leakcheck.Check(t, "collective/nccl.(*Comm)") }
