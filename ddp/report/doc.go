// Package report writes a training run's HTML report: one self-contained
// file (inline CSS and SVG, no JavaScript, no external assets) that opens
// in any browser, offline, years later.
//
// It shows the run's settings, the final test metrics, line charts of the
// training loss (raw and smoothed) with the validation loss, validation
// accuracy and macro-F1, learning rate and throughput, the evaluations in a
// table, the test confusion matrix as a heatmap (colour normalised per true
// class, counts in the cells) and a per-class precision/recall/F1 table.
//
// The charts come from the run's runlog entries (see runlog's Field…
// names); the last two sections from the test metrics.Summary. At the end
// of training, rank 0 does:
//
//	entries, err := runlog.Read(filepath.Join(out, "metrics.jsonl"))
//	test := counts.Summary(labels)
//	err = report.Write(filepath.Join(out, "report.html"), report.Report{
//		Run: report.RunInfo{Model: "bert-mini", WorldSize: 2, Precision: "bf16", Wire: "bf16",
//			Steps: step, WallTime: time.Since(start), BestCheckpoint: best},
//		Entries: entries,
//		Test:    &test,
//	})
//
// Write replaces the file atomically, so a reader never sees half a report.
//
// Note [Resumed runs]: after a resume, the log holds the steps between the
// last checkpoint and the crash twice. When a series' step goes back, the
// report drops the earlier points from that step on, so each chart shows
// the run that produced the final model.
package report
