// Package runlog writes and reads a training run's metrics log: a JSONL file
// with one JSON object per line,
//
//	{"time":"2025-01-02T15:04:05.123Z","kind":"train","step":120,"epoch":0.25,"loss":0.41,"lr":4.9e-05,"samples_per_sec":211.5}
//	{"time":"2025-01-02T15:04:31.002Z","kind":"eval","step":200,"epoch":0.42,"loss":0.33,"accuracy":0.91,"macro_f1":0.89}
//	{"time":"2025-01-02T15:09:12.761Z","kind":"event","step":400,"epoch":0.83,"msg":"checkpoint","path":"out/checkpoint-400"}
//
// time, kind, step and epoch are always there; the rest are the entry's
// Fields. The Field… constants name the fields the report and the CLI
// read, so the trainer and its readers agree on spelling.
//
// Use, on rank 0:
//
//	log, err := runlog.Open(filepath.Join(out, "metrics.jsonl")) // appends on resume
//	defer log.Close()
//	log.Log(runlog.Train, step, epoch, map[string]any{runlog.FieldLoss: loss, runlog.FieldLR: lr})
//	log.Flush() // after evaluations and checkpoints: written and fsynced
//
// and to read it:
//
//	entries, err := runlog.Read(path)
//	for _, e := range entries {
//		if loss, ok := e.Float(runlog.FieldLoss); ok && e.Kind == runlog.Eval { … }
//	}
//
// A crash can leave the last line half-written. Read ignores such a torn
// last line, and Open cuts it off before appending, so a resumed run's log
// stays valid. A malformed line anywhere else is an error naming its line.
package runlog
