package ddp

import (
	"fmt"
	"os"
	"time"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/ddp/report"
	"github.com/ddprun/ddprun/ddp/runlog"
)

func (r *fileRecorder) report(path string, info report.RunInfo, test *metrics.Summary, base *report.Baseline) error {
	if err := r.log.Flush(); err != nil {
		return err
	}
	entries, err := runlog.Read(r.logPath)
	if err != nil {
		return err
	}
	return report.Write(path, report.Report{Title: "ddprun training report", Run: info, Entries: entries, Test: test, Baseline: base, Generated: time.Now()})
}

// reportBaseline is the report's view of res.Baseline.
func reportBaseline(res *Result) *report.Baseline {
	if res.Baseline == nil {
		return nil
	}
	return &report.Baseline{Name: res.Baseline.Model, Val: res.Baseline.Val, Test: res.Baseline.Test, ModelVal: res.Val}
}

// reportInfo describes the run for the report's header.
func (t *trainer) reportInfo(res *Result) report.RunInfo {
	model := t.cfg.Model
	if model == "" {
		model = t.cfg.ModelType + " (from scratch)"
	}
	plan := t.env.Plan
	info := report.RunInfo{Model: model, Preset: t.cfg.Preset, WorldSize: t.world(), Precision: t.cfg.Precision, Wire: plan.Wire.String(),
		Steps: int64(res.Steps), Epochs: res.Epochs, WallTime: time.Since(t.start), BestCheckpoint: res.BestCheckpoint,
		BestMetric: t.cfg.MetricForBest, Started: t.start}
	if res.BestMetric != nil {
		info.BestValue = *res.BestMetric
	}
	host, _ := os.Hostname()
	info.Extra = []report.Field{
		{Name: "Training data", Value: fmt.Sprintf("%s (%d rows)", t.cfg.Train, t.data.Train.Len())},
		{Name: "Global batch", Value: fmt.Sprint(t.cfg.BatchSize * t.world() * t.accum)},
		{Name: "Learning rate", Value: fmt.Sprintf("%g (%s, warmup %d)", t.cfg.LR, t.cfg.Scheduler, t.eng.sched.Warmup)},
		{Name: "Max length", Value: fmt.Sprint(t.cfg.MaxLength)},
		{Name: "Stop", Value: res.Stop},
		{Name: "Host", Value: host},
		{Name: "Seed", Value: fmt.Sprint(t.cfg.Seed)},
		{Name: "Parameters", Value: paramSummary(t.model.Params())},
		{Name: "Plan", Value: plan.String()},
		{Name: "Overlap", Value: plan.Why["overlap"]},
	}
	return info
}

// paramSummary says how many parameters train: "11.17M, all trainable" or
// "11.17M, 2.3k trainable".
func paramSummary(ps []bert.Param) string {
	total, trainable := paramCounts(ps)
	if trainable == total {
		return humanCount(total) + ", all trainable"
	}
	return humanCount(total) + ", " + humanCount(trainable) + " trainable"
}

func humanCount(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
