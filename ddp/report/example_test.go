package report_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/ddp/report"
	"github.com/ddprun/ddprun/ddp/runlog"
)

func Example() {
	dir, err := os.MkdirTemp("", "run")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	var entries []runlog.Entry
	for step := int64(10); step <= 100; step += 10 {
		entries = append(entries, runlog.Entry{Kind: runlog.Train, Step: step,
			Fields: map[string]any{runlog.FieldLoss: 1 / float64(step), runlog.FieldLR: 1e-4}})
	}
	c := metrics.NewCounts(2)
	c.AddBatch([]int{0, 1, 1, 0}, []int{0, 1, 0, 0}, 1.2)
	test := c.Summary([]string{"ham", "spam"})

	path := filepath.Join(dir, "report.html")
	err = report.Write(path, report.Report{
		Run:     report.RunInfo{Model: "bert-tiny", WorldSize: 2, Steps: 100, WallTime: time.Minute},
		Entries: entries,
		Test:    &test,
	})
	fmt.Println(err)
	// Output: <nil>
}
