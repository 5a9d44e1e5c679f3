// Package tblog writes TensorBoard event files with scalar summaries, and
// reads them back, with no protobuf or TensorFlow dependency.
//
// An event file is a sequence of TFRecords (see Note [TFRecord framing]),
// each holding one hand-encoded tensorflow.Event protobuf (see Note [Event
// encoding]). The first record carries file_version "brain.Event:2"; each
// later one a step, a wall time and one scalar. The file is named as
// PyTorch's SummaryWriter and the HF Trainer name theirs,
// events.out.tfevents.<unix seconds>.<hostname>.<pid>.<n>, so `tensorboard
// --logdir` finds it next to theirs.
//
// Use, on rank 0:
//
//	w, err := tblog.Open(filepath.Join(out, "runs"))
//	defer w.Close()
//	w.Scalar("train/loss", step, loss)
//	w.Scalar("train/learning_rate", step, lr)
//	w.Scalar("eval/accuracy", step, acc)
//	w.Flush() // after an evaluation or a checkpoint: flushed and fsynced
//
// and to read a file back (both CRCs are checked):
//
//	recs, err := tblog.ReadScalars(path)
//	for _, r := range recs { fmt.Println(r.Tag, r.Step, r.Value) }
//
// A Writer is safe for concurrent use.
package tblog
