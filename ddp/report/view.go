package report

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"time"

	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/ddp/runlog"
)

// view is what the page template reads.
type view struct {
	Title     string
	Generated string
	Info      []Field
	Test      *metrics.Summary
	Cards     []Field
	Charts    []figure
	Evals     []evalRow
	Heatmap   template.HTML
	Baseline  *baselineView
}

// baselineView compares the trained model with the baseline, per split.
type baselineView struct {
	Name   string
	Labels []string
	Rows   []compareRow
}

type compareRow struct {
	Split, Who, Acc, F1 string
	Recall              []string
	Model               bool
}

type figure struct {
	Title, Caption string
	SVG            template.HTML
}

type evalRow struct {
	Step                 int64
	Epoch, Loss, Acc, F1 string
	Best                 bool
}

// Series colours: a restrained, colour-blind-friendly palette.
const (
	blue, orange, green, purple, teal = "#2563eb", "#ea580c", "#16a34a", "#7c3aed", "#0d9488"
)

func newView(r Report) view {
	v := view{Title: r.Title, Generated: r.Generated.UTC().Format("2006-01-02 15:04 UTC"), Info: info(r.Run), Test: r.Test}
	if r.Test != nil {
		v.Cards = []Field{
			{"Test accuracy", pct(r.Test.Accuracy)},
			{"Test macro-F1", fmt.Sprintf("%.4f", r.Test.MacroF1)},
			{"Test loss", fmt.Sprintf("%.4f", r.Test.Loss)},
			{"Test examples", strconv.FormatInt(r.Test.N, 10)},
		}
		v.Heatmap = safe(heatmap(r.Test))
	}
	v.Baseline = baselineRows(r)
	v.Charts = charts(r.Entries)
	v.Evals = evals(r.Entries, r.Run.BestMetric)
	return v
}

func info(run RunInfo) []Field {
	var f []Field
	add := func(name, value string) {
		if value != "" && value != "0" {
			f = append(f, Field{name, value})
		}
	}
	add("Model", run.Model)
	add("Preset", run.Preset)
	add("World size", strconv.Itoa(run.WorldSize))
	add("Precision", run.Precision)
	add("Wire dtype", run.Wire)
	add("Steps", strconv.FormatInt(run.Steps, 10))
	add("Epochs", strconv.FormatFloat(math.Round(run.Epochs*100)/100, 'f', -1, 64))
	if run.WallTime > 0 {
		add("Wall time", run.WallTime.Round(time.Second).String())
	}
	if !run.Started.IsZero() {
		add("Started", run.Started.UTC().Format("2006-01-02 15:04 UTC"))
	}
	add("Best checkpoint", run.BestCheckpoint)
	if run.BestMetric != "" {
		add("Best "+run.BestMetric, strconv.FormatFloat(run.BestValue, 'f', 4, 64))
	}
	return append(f, run.Extra...)
}

func charts(es []runlog.Entry) []figure {
	trainLoss := extract(es, runlog.Train, runlog.FieldLoss)
	evalLoss := extract(es, runlog.Eval, runlog.FieldLoss)
	acc := extract(es, runlog.Eval, runlog.FieldAccuracy)
	f1 := extract(es, runlog.Eval, runlog.FieldMacroF1)
	lr := extract(es, runlog.Train, runlog.FieldLR)
	tput := extract(es, runlog.Train, runlog.FieldSamplesPerSec)
	var xMax float64
	for _, s := range [][]pt{trainLoss, evalLoss, acc, lr, tput} {
		if len(s) > 0 {
			xMax = math.Max(xMax, s[len(s)-1].x)
		}
	}
	out := []figure{
		{"Loss", "Training loss per logged step (light), its moving average, and validation loss at each evaluation.", safe(chart{yLabel: "loss", xMax: xMax, lines: []line{
			{name: "train", pts: trainLoss, color: blue, width: 1, opacity: 0.3},
			{name: "train (smoothed)", pts: smooth(trainLoss), color: blue, width: 2},
			{name: "validation", pts: evalLoss, color: orange, width: 2, markers: true},
		}}.svg())},
		{"Validation metrics", "Accuracy and macro-F1 on the validation set at each evaluation.", safe(chart{yLabel: "score", xMax: xMax, lines: []line{
			{name: "accuracy", pts: acc, color: green, width: 2, markers: true},
			{name: "macro-F1", pts: f1, color: purple, width: 2, markers: true},
		}}.svg())},
		{"Learning rate", "The schedule as applied at each logged step.", safe(chart{yLabel: "learning rate", xMax: xMax, yFloorZero: true, lines: []line{
			{name: "lr", pts: lr, color: teal, width: 2},
		}}.svg())},
		{"Throughput", "Training samples per second across all ranks.", safe(chart{yLabel: "samples/s", xMax: xMax, yFloorZero: true, lines: []line{
			{name: "samples/s", pts: tput, color: orange, width: 1, opacity: 0.3},
			{name: "smoothed", pts: smooth(tput), color: orange, width: 2},
		}}.svg())},
	}
	return out
}

// evals lists the evaluations, marking the best by metric (accuracy when
// none is given).
func evals(es []runlog.Entry, metric string) []evalRow {
	if metric == "" {
		metric = "accuracy"
	}
	var rows []evalRow
	var vals []float64
	for _, e := range es {
		if e.Kind != runlog.Eval {
			continue
		}
		for len(rows) > 0 && rows[len(rows)-1].Step >= e.Step { // Note [Resumed runs]
			rows, vals = rows[:len(rows)-1], vals[:len(vals)-1]
		}
		v, ok := e.Float(trimEval(metric))
		if !ok || !finite(v) {
			v = math.NaN()
		}
		rows = append(rows, evalRow{Step: e.Step, Epoch: strconv.FormatFloat(e.Epoch, 'f', 2, 64),
			Loss: num(e, runlog.FieldLoss), Acc: num(e, runlog.FieldAccuracy), F1: num(e, runlog.FieldMacroF1)})
		vals = append(vals, v)
	}
	greater := trimEval(metric) != "loss"
	best := -1
	for i, v := range vals {
		if !math.IsNaN(v) && (best < 0 || greater && v > vals[best] || !greater && v < vals[best]) {
			best = i
		}
	}
	if best >= 0 {
		rows[best].Best = true
	}
	return rows
}

func trimEval(m string) string {
	if m == "f1" {
		return runlog.FieldMacroF1
	}
	if len(m) > 5 && m[:5] == "eval_" {
		return m[5:]
	}
	return m
}

func num(e runlog.Entry, field string) string {
	if v, ok := e.Float(field); ok {
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	return "–"
}

func pct(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

// baselineRows lays out the model and the baseline, test split first.
func baselineRows(r Report) *baselineView {
	b := r.Baseline
	if b == nil {
		return nil
	}
	bv := &baselineView{Name: b.Name}
	add := func(split, who string, s *metrics.Summary, model bool) {
		if s == nil {
			return
		}
		if bv.Labels == nil {
			bv.Labels = s.Labels
		}
		row := compareRow{Split: split, Who: who, Acc: pct(s.Accuracy), F1: fmt.Sprintf("%.4f", s.MacroF1), Model: model}
		for _, c := range s.Classes {
			row.Recall = append(row.Recall, fmt.Sprintf("%.3f", c.Recall))
		}
		bv.Rows = append(bv.Rows, row)
	}
	add("test", "this model", r.Test, true)
	add("test", "baseline", b.Test, false)
	add("validation", "this model (last evaluation)", b.ModelVal, true)
	add("validation", "baseline", b.Val, false)
	if len(bv.Rows) == 0 {
		return nil
	}
	return bv
}
