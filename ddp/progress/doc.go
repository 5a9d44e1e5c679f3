// Package progress draws progress bars for rank 0 on stderr: training steps
// with epoch, smoothed loss, samples/s, elapsed time and ETA, and plain
// counted work such as tokenizing or evaluation.
//
// On a terminal the bar redraws in place with a carriage return, at most
// ten times a second, fitted to the width ($COLUMNS, else 100). Anywhere
// else (a log file, kubectl logs, a CI console) it writes plain lines
// instead: one every LogEvery steps and at least every LogInterval, so logs
// stay readable and small.
//
// Training:
//
//	bar := progress.New(os.Stderr, progress.Config{
//		Desc: "train", Total: totalSteps, Unit: "steps", Epochs: epochs,
//		LogEvery: logEvery, // --log-every
//	})
//	for step := start; step < totalSteps; step++ {
//		loss := trainStep()
//		bar.Step(progress.Step{Done: step + 1, Epoch: epoch, Loss: loss, LR: lr, Samples: globalBatch})
//	}
//	bar.Finish()
//
// Other work:
//
//	bar := progress.New(os.Stderr, progress.Config{Desc: "tokenize", Total: int64(len(docs)), Unit: "docs"})
//	for _, d := range docs { tokenize(d); bar.Add(1) }
//	bar.Finish()
//
// Messages printed through Bar.Println do not tear the bar. A Bar is safe
// for concurrent use.
package progress
