package progress_test

import (
	"os"
	"time"

	"github.com/ddprun/ddprun/ddp/progress"
)

func Example() {
	// A fake clock makes the output reproducible: one step per second.
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }

	bar := progress.New(os.Stdout, progress.Config{
		Desc: "train", Total: 6, Epochs: 2, LogEvery: 3,
		Mode: progress.Plain, Now: clock,
	})
	for step := int64(1); step <= 6; step++ {
		now = now.Add(time.Second)
		bar.Step(progress.Step{Done: step, Epoch: float64(step) / 3, Loss: 0.7, LR: 2e-5, Samples: 16})
	}
	bar.Finish()
	// Output:
	// train step 3/6 (50.0%) epoch 1.00/2 ema loss 0.7000 lr 2.00e-05 16.0 samples/s elapsed 00:03 eta 00:03
	// train step 6/6 (100.0%) epoch 2.00/2 ema loss 0.7000 lr 2.00e-05 16.0 samples/s elapsed 00:06 eta 00:00
}
