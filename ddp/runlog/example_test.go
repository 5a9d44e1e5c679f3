package runlog_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ddprun/ddprun/ddp/runlog"
)

func Example() {
	dir, err := os.MkdirTemp("", "run")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "metrics.jsonl")

	log, err := runlog.Open(path)
	if err != nil {
		panic(err)
	}
	log.Log(runlog.Train, 100, 0.5, map[string]any{runlog.FieldLoss: 0.42, runlog.FieldLR: 3e-5})
	log.Log(runlog.Eval, 100, 0.5, map[string]any{runlog.FieldLoss: 0.38, runlog.FieldAccuracy: 0.91})
	if err := log.Close(); err != nil {
		panic(err)
	}

	entries, err := runlog.Read(path)
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		loss, _ := e.Float(runlog.FieldLoss)
		fmt.Printf("%s step %d epoch %.1f loss %.2f\n", e.Kind, e.Step, e.Epoch, loss)
	}
	// Output:
	// train step 100 epoch 0.5 loss 0.42
	// eval step 100 epoch 0.5 loss 0.38
}
