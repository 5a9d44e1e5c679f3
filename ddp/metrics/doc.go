// Package metrics computes classification metrics (loss, accuracy, macro-F1,
// per-class precision, recall and F1, the confusion matrix) from sums, so
// that data-parallel ranks can combine them exactly.
//
// Every rank evaluates its own shard into a Counts. The counts are integers
// and the loss is a sum, so adding the ranks' Counts element-wise gives the
// same Counts as evaluating the whole set in one process: no average of
// averages, no weighting by shard size. See Note [Wire layout] for the
// all-reduce.
//
// Step by step:
//
//	c := metrics.NewCounts(len(labels))
//	for batch := range val {
//		// preds, labels from the model; lossSum = mean batch loss * batch size
//		c.AddBatch(preds, gold, lossSum)
//	}
//	// Reduce across ranks: the integers and the loss sum travel separately.
//	ints := c.Int64s()           // all-reduce (sum) this ...
//	loss := []float64{c.LossSum()} // ... and this
//	c, err := metrics.FromInt64s(len(labels), ints)
//	c.SetLossSum(loss[0])
//	s := c.Summary(labels)
//	v, greater, err := s.Metric("macro_f1") // for --metric-for-best
//	fmt.Fprint(os.Stderr, s.Table())
//
// A Summary marshals to JSON with snake_case keys, for the JSONL log and
// `ddprun eval --json`.
//
// Note [Zero division]: precision of a class that is never predicted, and
// recall of a class with no examples, are 0 (scikit-learn's default
// zero_division=0, with its warning left out). F1 is then 0 too, and the
// class still counts in the macro average, so a class absent from both the
// labels and the predictions pulls macro-F1 down exactly as
// sklearn.metrics.f1_score(average="macro", labels=range(k)) does.
package metrics
