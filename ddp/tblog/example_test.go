package tblog_test

import (
	"fmt"
	"os"

	"github.com/ddprun/ddprun/ddp/tblog"
)

func Example() {
	dir, err := os.MkdirTemp("", "runs")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	w, err := tblog.Open(dir)
	if err != nil {
		panic(err)
	}
	for step := int64(1); step <= 3; step++ {
		w.Scalar("train/loss", step, 1/float64(step))
	}
	if err := w.Close(); err != nil {
		panic(err)
	}

	recs, err := tblog.ReadScalars(w.Path())
	if err != nil {
		panic(err)
	}
	for _, r := range recs {
		fmt.Printf("%s step %d: %.4f\n", r.Tag, r.Step, r.Value)
	}
	// Output:
	// train/loss step 1: 1.0000
	// train/loss step 2: 0.5000
	// train/loss step 3: 0.3333
}
