package ddp

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// predict and eval on the final model folder agree with the test metrics
// the training run reported on the same model.
func TestPredictAndEvaluate(t *testing.T) {
	model, data, out := tinyModelDir(t, 0), t.TempDir(), t.TempDir()
	cfg := testTrainConfig(t, model, data, out)
	res, err := Train(t.Context(), cfg, Env{})
	if err != nil {
		t.Fatal(err)
	}
	ic := InferConfig{Model: out, Data: cfg.Test, TextColumn: "text", LabelColumn: "label", MaxLength: cfg.MaxLength, BatchSize: 4, Threads: 1, Precision: "fp32"}
	sum, err := Evaluate(t.Context(), ic, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.N != res.Test.N || math.Abs(sum.Accuracy-res.Test.Accuracy) > 1e-12 || math.Abs(sum.Loss-res.Test.Loss) > 1e-5 {
		t.Errorf("eval %+v, training's test %+v", sum, res.Test)
	}
	var buf bytes.Buffer
	n, err := Predict(t.Context(), ic, &buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if n != 15 || len(rows) != 16 || strings.Join(rows[0], ",") != "row,line,label,score,p_neg,p_neu,p_pos" {
		t.Fatalf("%d predictions, rows %v", n, rows[:min(3, len(rows))])
	}
	correct := 0
	labels := map[int]string{}
	for i, l := range strings.Split(strings.TrimSpace(readFile(t, cfg.Test)), "\n")[1:] {
		labels[i+2] = l[strings.LastIndexByte(l, ',')+1:]
	}
	for i, r := range rows[1:] {
		if atoi(t, r[0]) != i {
			t.Errorf("prediction %d is for row %s", i, r[0])
		}
		if labels[atoi(t, r[1])] == r[2] {
			correct++
		}
	}
	if acc := float64(correct) / 15; math.Abs(acc-sum.Accuracy) > 1e-12 {
		t.Errorf("predictions' accuracy %v, eval's %v", acc, sum.Accuracy)
	}
	buf.Reset()
	ic.JSON = true
	if _, err := Predict(t.Context(), ic, &buf, nil); err != nil {
		t.Fatal(err)
	}
	var p Prediction
	if err := json.Unmarshal([]byte(strings.SplitN(buf.String(), "\n", 2)[0]), &p); err != nil || len(p.Probs) != 3 || p.Line != 2 || p.Row != 0 {
		t.Errorf("first JSONL prediction %+v, %v", p, err)
	}
}

// --id-column passes a column through to each prediction, by data row
// (rows with multi-line texts make the file line a poor key).
func TestPredictIDColumn(t *testing.T) {
	model, data, out := tinyModelDir(t, 0), t.TempDir(), t.TempDir()
	cfg := testTrainConfig(t, model, data, out)
	cfg.MaxSteps, cfg.Test, cfg.NoReport, cfg.LoadBestAtEnd, cfg.EvalStrategy, cfg.Val = 1, "", true, false, "no", ""
	if _, err := Train(t.Context(), cfg, Env{}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(data, "ids.csv")
	if err := os.WriteFile(file, []byte("id,text\nm-1,\"alpha beta\ngamma\"\nm-2,delta\nm-3,\"eps\nzeta\neta\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ic := InferConfig{Model: out, Data: file, TextColumn: "text", IDColumn: "id", MaxLength: 16, BatchSize: 2, Threads: 1, Precision: "fp32"}
	var buf bytes.Buffer
	if _, err := Predict(t.Context(), ic, &buf, nil); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, strings.Join(r[:3], " "))
	}
	if want := []string{"id row line", "m-1 0 2", "m-2 1 4", "m-3 2 5"}; !slices.Equal(got, want) {
		t.Errorf("predictions start %q, want %q", got, want)
	}
}
