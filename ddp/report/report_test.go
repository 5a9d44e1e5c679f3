package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/ddp/runlog"
)

// synthetic returns a plausible run: 3 classes, 2400 steps logged every
// 10, an evaluation every 200 steps, a resume at step 1000 after a crash
// at 1130, and one diverged (NaN) loss.
func synthetic() Report {
	rng := rand.New(rand.NewPCG(7, 7))
	t0 := time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
	const total = 2400
	var es []runlog.Entry
	add := func(kind runlog.Kind, step int64, f map[string]any) {
		es = append(es, runlog.Entry{Time: t0.Add(time.Duration(step) * 250 * time.Millisecond), Kind: kind, Step: step, Epoch: float64(step) / 800, Fields: f})
	}
	train := func(from, to int64) {
		for s := from; s <= to; s += 10 {
			lr := 5e-5 * math.Min(float64(s)/200, float64(total-s)/float64(total-200))
			loss := 1.1*math.Exp(-float64(s)/600) + 0.12 + 0.15*rng.NormFloat64()*math.Exp(-float64(s)/1500)
			add(runlog.Train, s, map[string]any{runlog.FieldLoss: math.Abs(loss), runlog.FieldLR: lr, runlog.FieldSamplesPerSec: 410 + 25*rng.NormFloat64()})
			if s%200 == 0 {
				acc := 0.93 - 0.55*math.Exp(-float64(s)/500)
				add(runlog.Eval, s, map[string]any{runlog.FieldLoss: 0.2 + 0.9*math.Exp(-float64(s)/550), runlog.FieldAccuracy: acc, runlog.FieldMacroF1: acc - 0.04})
			}
		}
	}
	train(10, 1130)
	add(runlog.Event, 1000, map[string]any{runlog.FieldMsg: "resumed from checkpoint-1000"})
	train(1010, total)
	es[50].Fields[runlog.FieldLoss] = math.NaN()

	c := metrics.NewCounts(3)
	conf := [][]int{{412, 18, 6}, {25, 288, 11}, {9, 14, 117}}
	for l, row := range conf {
		for p, n := range row {
			for range n {
				c.Add(p, l, 0.21)
			}
		}
	}
	test := c.Summary([]string{"ham", "spam", "phishing & scams <b>"})
	return Report{
		Title: "spamassassin · bert-mini",
		Run: RunInfo{Model: "bert-mini (from scratch)", Preset: "mini", WorldSize: 2, Precision: "bf16", Wire: "bf16",
			Steps: total, Epochs: 3, WallTime: 10*time.Minute + 3*time.Second, BestCheckpoint: "runs/spam/checkpoint-2200",
			BestMetric: "accuracy", BestValue: 0.9301, Started: t0, Extra: []Field{{"Batch size", "32 × 2 ranks"}, {"Seed", "42"}}},
		Entries:   es,
		Test:      &test,
		Generated: t0.Add(11 * time.Minute),
	}
}

func TestWrite_Structure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.html")
	if out := os.Getenv("DDPRUN_REPORT_OUT"); out != "" {
		path = out // to look at it: DDPRUN_REPORT_OUT=/tmp/report.html go test -run Structure
	}
	if err := Write(path, synthetic()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, want := range []string{
		"<title>spamassassin · bert-mini</title>", ">Loss</h3>", ">Validation metrics</h3>", ">Learning rate</h3>",
		">Throughput</h3>", ">Confusion matrix</h3>", ">Per-class metrics</h3>", "Wire dtype", "runs/spam/checkpoint-2200",
		"phishing &amp; scams &lt;b&gt;", `<span class="tag">best</span>`, "Test accuracy",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "src=", "href=", "@import", "url("} {
		if strings.Contains(doc, bad) {
			t.Errorf("report is not self-contained: has %q", bad)
		}
	}
	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(doc, -1)
	if len(svgs) != 5 {
		t.Errorf("%d SVGs, want 5 (4 charts, 1 heatmap)", len(svgs))
	}
	for i, s := range svgs {
		if err := wellFormed(s); err != nil {
			t.Errorf("svg %d: %v", i, err)
		}
		if regexp.MustCompile(`NaN|Inf`).MatchString(s) {
			t.Errorf("svg %d has a non-finite coordinate", i)
		}
	}
	// The resumed steps 1010..1130 appear once: no path goes backwards in x.
	for _, d := range regexp.MustCompile(`<path d="([^"]+)"`).FindAllStringSubmatch(doc, -1) {
		last := -1.0
		for _, m := range regexp.MustCompile(`[ML]([\d.]+) `).FindAllStringSubmatch(d[1], -1) {
			x := atof(m[1])
			if x < last {
				t.Fatalf("path goes back in x (%v after %v): %.80s…", x, last, d[1])
			}
			last = x
		}
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".report.html.tmp-*"))
	if len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

func atof(s string) float64 {
	var f float64
	for i, c := range s {
		if c == '.' {
			frac := 0.1
			for _, d := range s[i+1:] {
				f += float64(d-'0') * frac
				frac /= 10
			}
			break
		}
		f = f*10 + float64(c-'0')
	}
	return f
}

// wellFormed parses s as XML to the end.
func wellFormed(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func TestRender_Empty(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, Report{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "no data logged") || strings.Contains(buf.String(), "Confusion matrix") {
		t.Error("an empty report should show placeholders and no test section")
	}
}

func TestExtract_Resume(t *testing.T) {
	var es []runlog.Entry
	for _, s := range []int64{10, 20, 30, 40, 30, 40, 50} {
		es = append(es, runlog.Entry{Kind: runlog.Train, Step: s, Fields: map[string]any{"loss": float64(s)}})
	}
	got := extract(es, runlog.Train, "loss")
	want := []pt{{10, 10}, {20, 20}, {30, 30}, {40, 40}, {50, 50}}
	if len(got) != len(want) {
		t.Fatalf("extract = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("extract = %v, want %v", got, want)
		}
	}
}

func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{
		{0, 2400, "0 500 1000 1500 2000 2500"},
		{0, 52000, "0 10k 20k 30k 40k 50k 60k"},
		{0.12, 1.31, "0 0.25 0.50 0.75 1.00 1.25 1.50"},
		{0, 5e-5, "0 1e-5 2e-5 3e-5 4e-5 5e-5"},
		{0.5, 0.5, "0.44 0.46 0.48 0.50 0.52 0.54 0.56"},
		{1.1001, 1.1009, "1.1000 1.1002 1.1004 1.1006 1.1008 1.1010"}, // not 1.1004e0
	} {
		ticks, _, _ := niceTicks(tc.lo, tc.hi, 6)
		var got []string
		for _, v := range ticks {
			got = append(got, tickLabel(v, ticks[1]-ticks[0]))
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("ticks(%v, %v) = %s, want %s", tc.lo, tc.hi, g, tc.want)
		}
	}
}

// A series with one finite point (a short run's learning rate, a lone
// value between non-finite ones) is drawn as a dot, not left out.
func TestPath_LonePoints(t *testing.T) {
	id := func(v float64) float64 { return v }
	for _, tc := range []struct {
		pts  []pt
		want string
	}{
		{[]pt{{1, 2}}, `d="M1.0 2.0h0"`},
		{[]pt{{1, 2}, {2, math.NaN()}, {3, 4}, {4, 5}}, `d="M1.0 2.0h0M3.0 4.0L4.0 5.0"`},
		{[]pt{{1, 2}, {2, 3}}, `d="M1.0 2.0L2.0 3.0"`},
	} {
		var b strings.Builder
		chart{}.path(&b, line{pts: tc.pts, color: "#000", width: 2}, id, id)
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("path of %v: %s, want %s", tc.pts, b.String(), tc.want)
		}
	}
}

func TestWrite_ManyClasses(t *testing.T) {
	r := synthetic()
	const k = 14
	c := metrics.NewCounts(k)
	rng := rand.New(rand.NewPCG(1, 1))
	labels := make([]string, k)
	for i := range k {
		labels[i] = []string{"sports", "politics", "technology and science", "health", "entertainment"}[i%5]
		if i >= 5 {
			labels[i] += "-" + string(rune('a'+i))
		}
		for range 40 + rng.IntN(60) {
			p := i
			if rng.Float64() < 0.3 {
				p = rng.IntN(k)
			}
			c.Add(p, i, 0.5)
		}
	}
	s := c.Summary(labels)
	r.Test = &s
	path := filepath.Join(t.TempDir(), "report.html")
	if out := os.Getenv("DDPRUN_REPORT_OUT"); out != "" {
		path = strings.TrimSuffix(out, ".html") + "-k14.html"
	}
	if err := Write(path, r); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for i, svg := range regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(string(b), -1) {
		if err := wellFormed(svg); err != nil {
			t.Errorf("svg %d: %v", i, err)
		}
	}
}

// The baseline section puts the model and the baseline side by side on
// each split, with per-class recall; without a baseline it is left out.
func TestRender_Baseline(t *testing.T) {
	r := synthetic()
	model := handSummary([][2]int{{0, 0}, {0, 0}, {1, 1}, {1, 0}})
	nb := handSummary([][2]int{{0, 0}, {0, 0}, {0, 1}, {0, 0}})
	r.Test = &model
	r.Baseline = &Baseline{Name: "naive Bayes", Test: &nb}
	var buf bytes.Buffer
	if err := Render(&buf, r); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{
		"<h2>Against a baseline</h2>", "Baseline: naive Bayes",
		"<th>Recall ham</th><th>Recall spam</th>",
		`<tr class="best"><td>test</td><td>this model</td><td>75.00%</td><td>0.7333</td><td>0.667</td><td>1.000</td></tr>`,
		`<tr><td>test</td><td>baseline</td><td>75.00%</td><td>0.4286</td><td>1.000</td><td>0.000</td></tr>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %s", want)
		}
	}
	if strings.Contains(got, "<td>validation</td>") {
		t.Error("a validation row without validation summaries")
	}
	r.Baseline = nil
	buf.Reset()
	if err := Render(&buf, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "Against a baseline") {
		t.Error("a baseline section without a baseline")
	}
}

// handSummary is the summary of {pred, label} pairs over ham and spam.
func handSummary(pairs [][2]int) metrics.Summary {
	c := metrics.NewCounts(2)
	for _, p := range pairs {
		c.Add(p[0], p[1], 0.5)
	}
	return c.Summary([]string{"ham", "spam"})
}
