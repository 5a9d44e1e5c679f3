// Package nccl is the NVIDIA GPU backend of package collective: it drives
// NCCL (libnccl.so.2) and the CUDA runtime (libcudart), both loaded at run
// time with dlopen. No CUDA or NCCL headers or libraries are needed to
// build: a machine without them builds and tests the whole project, and
// New fails with an error matching ErrNoLibrary (and
// collective.ErrUnsupported) naming the paths it tried.
//
// # Opening a communicator
//
// Every rank needs the same 128-byte NCCL unique id, which rank 0 creates.
// New sends it through a Bootstrap: any byte broadcast the launcher
// already has. CommBootstrap turns a collective.Comm, such as the TCP ring
// over the peers' addresses, into one:
//
//	boot, err := ring.New(ctx, ringCfg)       // or any CPU collective.Comm
//	if err != nil { ... }
//	defer boot.Close()                        // not needed once New returns
//	cfg := nccl.DefaultConfig()
//	cfg.Rank, cfg.Size = rank, size
//	cfg.Device = localRank                    // one GPU per rank
//	cfg.Stream = 0                            // libtorch's (legacy default) stream
//	cfg.Bootstrap = nccl.CommBootstrap(boot)
//	c, err := nccl.New(ctx, cfg)
//	if err != nil { ... }                     // ErrNoLibrary, ErrNoDevice, timeout, ...
//	defer c.Close()
//
// collective.Open(ctx, "nccl", opts) does the same from collective.Options,
// bootstrapping over a ring it builds from opts and taking the device from
// opts.Device, which must say "cuda:N".
//
// # Buffers and streams
//
// Buffers are device pointers (Buffer.Device == collective.CUDA; a gotch
// CUDA tensor's DataPtr) on the rank's device. NCCL reduces every buffer
// in its own dtype: float32, bfloat16 (NCCL 2.10 or newer), float16, int32
// and int64. There is no wire conversion (that would take a CUDA kernel):
// to all-reduce gradients in bfloat16, hand AllReduce bfloat16 buffers,
// and leave Config.WireDType unset. Op Avg also needs NCCL 2.10.
//
// Each call is enqueued on Config.Stream (SetStream changes it), the
// stream the buffer's producer used, so it runs after them; the call
// returns once the stream has finished it. Host buffers also work (they
// are copied through a device scratch buffer), which is what the
// collective helpers Barrier and AllGatherCounts need; keep them small.
//
// # Failures
//
// While it waits, a call polls ncclCommGetAsyncError and enforces
// Config.Timeout (see Note [Waiting] in wait.go). On NCCL's error, the
// timeout, ctx's end or Close it calls ncclCommAbort and poisons the Comm:
// the error is a *collective.OpError naming the rank, the call and its
// sequence number, wrapping collective.ErrTimeout, collective.ErrPeerLost
// (ncclSystemError, ncclRemoteError), collective.ErrInvalid or the
// context's error; later calls return collective.ErrAborted. NCCL's own
// failures are *Error values carrying ncclGetErrorString's text.
//
// # Libraries
//
// DDPRUN_NCCL_LIB and DDPRUN_CUDART_LIB name the libraries (a file name
// searched like dlopen does, or a path); the defaults are libnccl.so.2 and
// libcudart.so.12 (then .11.0). pip's PyTorch ships both under
// site-packages/nvidia/{nccl,cuda_runtime}/lib. The tests build stand-ins
// for both (package nccltest) and check the binding against them.
package nccl
