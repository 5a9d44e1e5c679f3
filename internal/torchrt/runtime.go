package torchrt

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/sugarme/gotch/ts"
)

// Config says how the compute thread is set up. The zero value is valid.
type Config struct {
	// Threads is libtorch's intra-op thread count. 0 means
	// DefaultThreads(LocalRanks). ATen's own default is half the cores,
	// which is 1 on a 2-core machine: always set explicitly.
	Threads int
	// LocalRanks is how many ranks share this machine's cores (the rank
	// identity's LOCAL_WORLD_SIZE, which the caller knows; torchrt does
	// not read the rank environment). 0 or 1: this process alone.
	LocalRanks int
	// BLASThreads is OpenBLAS's thread count; 0 means Threads. OpenBLAS
	// runs its own pool and ignores Threads: two pools that both take
	// every core make fp32 training slower than one thread.
	BLASThreads int
	// Seed seeds libtorch's generators when non-zero.
	Seed int64
	// DefaultMalloc leaves glibc malloc at its defaults. See Note [Allocator].
	DefaultMalloc bool
}

// Note [Allocator]: glibc malloc serves blocks of 128 KiB and more (the
// threshold adapts up to 32 MiB) with mmap and gives them back with munmap
// on free. A training step makes the same big tensors every step (the dense
// word-embedding gradient, optimizer temporaries), so each step page-faults
// them in again: 16,876 minor faults and 255 ms of system time per step for
// the tiny preset (measured, ../shared/design/LIBTORCH.md). Raising the mmap
// threshold to 32 MiB and the trim threshold to 2 GiB keeps those blocks in
// the heap for reuse: 205 faults per step and a 2.2-3x faster step. PyTorch
// users get the same with MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_.
const (
	mmapThreshold = 32 << 20
	trimThreshold = 1<<31 - 1 // mallopt takes an int: 4 GiB would wrap to 0 and trim always
)

// Thread is the handle of the compute thread, given to the function Run
// runs. Its methods must be called from that function only.
type Thread struct {
	steps int
}

var (
	gcMu     sync.Mutex
	gcActive int
	gcPrev   int
	once     sync.Once
	mallocOK bool
)

// Run runs f on a new goroutine locked to its own OS thread and waits for
// it. All libtorch calls of f must be made from that goroutine (see
// Note [Compute thread]). A panic in f is returned as an error.
func Run(cfg Config, f func(*Thread) error) error {
	once.Do(func() {
		if !cfg.DefaultMalloc {
			mallocOK = cSetMallocPolicy(mmapThreshold, trimThreshold)
		}
	})
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread dies with the goroutine, and with it
		// libtorch's thread-local state (last error, grad mode, autocast).
		runtime.LockOSThread()
		stopGC()
		defer startGC()
		done <- run(cfg, f)
	}()
	return <-done
}

func run(cfg Config, f func(*Thread) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("torchrt: panic on the compute thread: %v\n%s", r, debug.Stack())
		}
	}()
	n := cfg.Threads
	if n <= 0 {
		n = DefaultThreads(cfg.LocalRanks)
	}
	cSetNumThreads(n)
	b := cfg.BLASThreads
	if b <= 0 {
		b = n
	}
	cSetBLASThreads(b)
	if cfg.Seed != 0 {
		cManualSeed(cfg.Seed)
	}
	return f(&Thread{})
}

// Note [Compute thread]: gotch v0.9.1 has two bugs that a long run hits.
// (1) Every *ts.Tensor carries a GC finalizer that frees the C++ tensor, and
// gotch never calls runtime.KeepAlive: a GC during a cgo call can free an
// argument still in use (SIGSEGV, or garbage like "SmallVector unable to
// grow"; 9 crashes in 9 stress runs). (2) The last error is a C
// thread-local read by a second cgo call: a goroutine that moves between
// the two loses or misattributes it. So all libtorch work of a process runs
// on one goroutine locked to its OS thread, and the Go GC runs only at step
// boundaries (Thread.Boundary), where no cgo call is in flight. Tensors the
// step still needs are reachable from Go (the model's parameters, a Scope),
// so the boundary GC frees only garbage.

func stopGC() {
	gcMu.Lock()
	defer gcMu.Unlock()
	if gcActive == 0 {
		gcPrev = debug.SetGCPercent(-1)
	}
	gcActive++
}

func startGC() {
	gcMu.Lock()
	defer gcMu.Unlock()
	gcActive--
	if gcActive == 0 {
		debug.SetGCPercent(gcPrev)
	}
}

// Boundary marks the end of a step: no tensor operation is in flight, so
// the Go GC may run and finalize the tensors nothing refers to.
func (t *Thread) Boundary() {
	t.steps++
	runtime.GC()
}

// Steps reports how many boundaries have passed.
func (t *Thread) Steps() int { return t.steps }

// LiveTensors reports how many gotch tensors exist (created and not yet
// freed). A training loop that frees its intermediates keeps it flat.
func LiveTensors() int {
	// gotch keeps the set under an unexported lock; CheckCMemLeak takes it
	// and prints the names as a %q-formatted slice.
	s := ts.CheckCMemLeak()
	i := strings.Index(s, "Tensors not been released: [")
	if i < 0 {
		return -1
	}
	s = s[i+len("Tensors not been released: ["):]
	s = s[:strings.IndexByte(s, ']')]
	if s == "" {
		return 0
	}
	return strings.Count(s, `" "`) + 1
}

// DefaultThreads is the intra-op thread count for one rank: the CPUs this
// process may run on, shared evenly by localRanks ranks (the ranks on this
// machine; 0 or 1: this process alone), at least 1.
func DefaultThreads(localRanks int) int {
	return max(runtime.NumCPU()/max(localRanks, 1), 1)
}

// NumThreads reports libtorch's intra-op thread count on the calling
// thread's pool.
func NumThreads() int { return cNumThreads() }

// ManualSeed seeds libtorch's default generators (CPU and CUDA).
func ManualSeed(seed int64) { cManualSeed(seed) }

// Version is the libtorch version this binary was built against.
func Version() string { return cTorchVersion() }

// CUDADevices reports how many CUDA devices libtorch sees (0 on a CPU build).
func CUDADevices() int { return cCUDADevices() }

// SetCUDADevice makes CUDA device n the calling thread's current device
// (torch.cuda.set_device): call it on the compute thread before touching
// the device, so that a rank creates no context on another GPU (each costs
// hundreds of MiB; the classic "every rank on GPU 0" OOM) and library calls
// that use the current device (NCCL's stream waits) agree with the model.
func SetCUDADevice(n int) error {
	switch r := cCUDASetDevice(n); r {
	case 0:
		return nil
	case -1:
		return fmt.Errorf("torchrt: setting CUDA device %d: no CUDA runtime is loaded (libtorch %s has no CUDA)", n, Version())
	default:
		return fmt.Errorf("torchrt: cudaSetDevice(%d) failed: cudaError_t %d", n, r)
	}
}

// MallocTuned reports whether the malloc policy of Note [Allocator] is set.
func MallocTuned() bool { return mallocOK }

// Autocast turns libtorch's autocast (mixed precision) on or off for the
// calling thread: bf16 compute for matmuls and linear layers, fp32 for
// reductions such as softmax and layer norm, fp32 parameters. cuda selects
// the CUDA autocast state instead of the CPU one.
func Autocast(enabled, cuda bool) error {
	const bfloat16 = 15 // c10::ScalarType::BFloat16
	if !cAutocast(enabled, cuda, bfloat16) {
		return fmt.Errorf("torchrt: setting autocast to %v failed", enabled)
	}
	return nil
}
