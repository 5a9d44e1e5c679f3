// Package optim holds ddprun's optimizers (AdamW, Adam, SGD), learning-rate
// schedules and gradient clipping. It works on parameters as Go slices over
// the tensors' memory, so one fused loop per parameter does the whole update
// (PyTorch's single-tensor AdamW makes six passes over memory with
// temporaries), and it has no libtorch dependency: the numerics are tested
// in pure Go against values PyTorch recorded (testdata/, made by
// testdata/gen_reference.py).
//
// Use:
//
//	opt, _ := optim.New(optim.Config{Kind: optim.AdamW, WeightDecay: 0.01})
//	sched := optim.Schedule{Kind: optim.Linear, Warmup: 500, Total: 10000}
//	for step := range total {
//		// ... backward, all-reduce: the gradients are ready ...
//		norm := optim.ClipGradNorm(params, 1.0)
//		opt.Step(params, sched.LR(5e-5, step))
//	}
package optim
