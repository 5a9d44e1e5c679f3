package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/ddp/runlog"
)

// RunInfo describes the run in the report's header. Zero fields are left
// out.
type RunInfo struct {
	Model          string // an HF folder or a preset's name
	Preset         string
	WorldSize      int
	Precision      string // fp32 | bf16
	Wire           string // the all-reduce dtype: fp32 | bf16
	Steps          int64
	Epochs         float64
	WallTime       time.Duration
	BestCheckpoint string
	BestMetric     string // e.g. "accuracy"
	BestValue      float64
	Started        time.Time
	Extra          []Field // anything else worth a line: dataset, batch size, seed
}

// Field is one named value in the header.
type Field struct{ Name, Value string }

// Report is everything a report shows.
type Report struct {
	Title     string // "Training report" if empty
	Run       RunInfo
	Entries   []runlog.Entry   // the run's metrics log
	Test      *metrics.Summary // the final test evaluation; nil leaves its sections out
	Baseline  *Baseline        // a simple model on the same splits; nil leaves its section out
	Generated time.Time        // time.Now() if zero
}

// Baseline is a simple model fitted on the same training split, shown
// beside the trained one so that a reader sees whether it earns its cost.
type Baseline struct {
	Name      string           // e.g. "multinomial naive Bayes over word counts"
	Val, Test *metrics.Summary // the baseline's evaluations
	ModelVal  *metrics.Summary // the trained model's last validation (its test is Report.Test)
}

// Write renders r and replaces the file at path with it atomically: a
// temporary file in the same folder, fsynced, then renamed.
func Write(path string, r Report) error {
	var buf bytes.Buffer
	if err := Render(&buf, r); err != nil {
		return err
	}
	if err := writeAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	return nil
}

// Render writes r's HTML to w.
func Render(w io.Writer, r Report) error {
	if r.Title == "" {
		r.Title = "Training report"
	}
	if r.Generated.IsZero() {
		r.Generated = time.Now()
	}
	if err := page.Execute(w, newView(r)); err != nil {
		return fmt.Errorf("report: render: %w", err)
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, a no-op
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable; not all file systems support it
		d.Close()
	}
	return nil
}

// safe marks markup this package generated, with all text escaped, as HTML.
func safe(s string) template.HTML { return template.HTML(s) } //nolint:gosec // escaped by the svg builders
