// Package torchrt owns the rules for calling libtorch through gotch v0.9.1
// safely in a long training run, and the few libtorch and libc entry points
// gotch does not wrap.
//
//	err := torchrt.Run(torchrt.Config{Threads: 4}, func(th *torchrt.Thread) error {
//		for step := range steps {
//			... // forward, backward, optimizer: every gotch call here
//			th.Boundary() // the only place the Go GC runs
//		}
//		return nil
//	})
//
// Run locks a goroutine to an OS thread (gotch's errors are C thread-locals),
// turns the Go GC off except at step boundaries (gotch's finalizers could
// free a tensor during a cgo call), sets the intra-op and OpenBLAS thread
// counts, and sets glibc malloc so that big per-step tensors are reused
// instead of page-faulted in every step (Note [Allocator]). See Note [Compute
// thread] for the gotch bugs behind these rules. The package also exposes
// autocast (bf16 mixed precision), gradient shims (set to none, set to a
// view, grad mode), gradient hooks, the CUDA device and the libtorch
// version.
//
// It is the runtime under both bert (the model) and ddp (the trainer), and
// knows neither: nothing here is about BERT (walls_test.go keeps it so).
package torchrt
