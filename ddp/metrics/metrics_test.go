package metrics

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// handCase: three classes; class c is never predicted.
//
//	true\pred  a  b  c
//	a          3  1  0
//	b          1  2  0
//	c          1  1  0
func handCase() *Counts {
	c := NewCounts(3)
	pairs := [][2]int{ // {pred, label}
		{0, 0}, {0, 0}, {0, 0}, {1, 0},
		{0, 1}, {1, 1}, {1, 1},
		{0, 2}, {1, 2},
	}
	for i, p := range pairs {
		c.Add(p[0], p[1], 0.1*float64(i+1)) // losses 0.1 .. 0.9, sum 4.5
	}
	return c
}

func TestSummary_HandComputed(t *testing.T) {
	s := handCase().Summary([]string{"a", "b", "c"})
	want := Summary{
		N:              9,
		Loss:           0.5,
		Accuracy:       5.0 / 9,
		MacroPrecision: (0.6 + 0.5 + 0) / 3,
		MacroRecall:    (0.75 + 2.0/3 + 0) / 3,
		MacroF1:        26.0 / 63, // (2/3 + 4/7 + 0) / 3
		Labels:         []string{"a", "b", "c"},
		Classes: []Class{
			{Label: "a", Precision: 0.6, Recall: 0.75, F1: 2.0 / 3, Support: 4, Predicted: 5},
			{Label: "b", Precision: 0.5, Recall: 2.0 / 3, F1: 4.0 / 7, Support: 3, Predicted: 4},
			{Label: "c", Precision: 0, Recall: 0, F1: 0, Support: 2, Predicted: 0},
		},
		Confusion: [][]int64{{3, 1, 0}, {1, 2, 0}, {1, 1, 0}},
	}
	if d := cmp.Diff(want, s, cmpopts.EquateApprox(0, 1e-12)); d != "" {
		t.Errorf("Summary (-want +got):\n%s", d)
	}
}

func TestSummary_AbsentClass(t *testing.T) {
	// Class 2 has no examples and no predictions: F1 0, still averaged
	// (sklearn f1_score(average="macro", labels=[0,1,2]) = 1/3).
	c := NewCounts(3)
	c.Add(0, 0, 0)
	c.Add(1, 1, 0)
	s := c.Summary(nil)
	if s.Accuracy != 1 || math.Abs(s.MacroF1-2.0/3) > 1e-12 {
		t.Errorf("accuracy %v macro-F1 %v, want 1 and 2/3", s.Accuracy, s.MacroF1)
	}
	if got := s.Labels; !cmp.Equal(got, []string{"0", "1", "2"}) {
		t.Errorf("default labels %q", got)
	}
}

func TestSummary_Empty(t *testing.T) {
	s := NewCounts(2).Summary([]string{"x", "y"})
	if s.Loss != 0 || s.Accuracy != 0 || s.MacroF1 != 0 {
		t.Errorf("empty summary %+v, want zeros", s)
	}
	if _, err := json.Marshal(s); err != nil {
		t.Errorf("marshal empty summary: %v", err)
	}
}

// reference computes the metrics by their definitions, example by example,
// with no confusion matrix: the independent check for Summary.
func reference(k int, preds, labels []int, losses []float64) (loss, acc, macroF1 float64, f1 []float64) {
	var correct int
	for i := range preds {
		loss += losses[i]
		if preds[i] == labels[i] {
			correct++
		}
	}
	n := float64(len(preds))
	loss, acc = loss/n, float64(correct)/n
	for cl := range k {
		var tp, fp, fn float64
		for i := range preds {
			switch {
			case preds[i] == cl && labels[i] == cl:
				tp++
			case preds[i] == cl:
				fp++
			case labels[i] == cl:
				fn++
			}
		}
		var p, r, f float64
		if tp+fp > 0 {
			p = tp / (tp + fp)
		}
		if tp+fn > 0 {
			r = tp / (tp + fn)
		}
		if p+r > 0 {
			f = 2 * p * r / (p + r)
		}
		f1 = append(f1, f)
		macroF1 += f / float64(k)
	}
	return loss, acc, macroF1, f1
}

func TestSummary_Reference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		k := 1 + rng.IntN(6)
		n := 1 + rng.IntN(200)
		preds, labels, losses := make([]int, n), make([]int, n), make([]float64, n)
		c := NewCounts(k)
		for i := range n {
			labels[i] = rng.IntN(k)
			preds[i] = labels[i]
			if rng.Float64() < 0.4 {
				preds[i] = rng.IntN(max(1, k-1)) // the last class is rarely predicted
			}
			losses[i] = rng.Float64()
			c.Add(preds[i], labels[i], losses[i])
		}
		loss, acc, mf1, f1 := reference(k, preds, labels, losses)
		s := c.Summary(nil)
		got := []float64{s.Loss, s.Accuracy, s.MacroF1}
		want := []float64{loss, acc, mf1}
		for i := range k {
			got = append(got, s.Classes[i].F1)
			want = append(want, f1[i])
		}
		if d := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-12)); d != "" {
			t.Fatalf("trial %d k=%d n=%d: loss, acc, macro-F1, F1s (-want +got):\n%s", trial, k, n, d)
		}
	}
}

func TestCounts_ReduceEqualsWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const k, ranks = 4, 3
	whole := NewCounts(k)
	shards := make([]*Counts, ranks)
	for r := range shards {
		shards[r] = NewCounts(k)
	}
	for i := range 1001 {
		p, l, loss := rng.IntN(k), rng.IntN(k), rng.Float64()
		whole.Add(p, l, loss)
		shards[i%ranks].Add(p, l, loss)
	}
	// All-reduce by hand: sum the int64 slices and the loss sums.
	sum := make([]int64, len(whole.Int64s()))
	var lossSum float64
	for _, s := range shards {
		for i, v := range s.Int64s() {
			sum[i] += v
		}
		lossSum += s.LossSum()
	}
	got, err := FromInt64s(k, sum)
	if err != nil {
		t.Fatal(err)
	}
	got.SetLossSum(lossSum)
	if d := cmp.Diff(whole.Summary(nil), got.Summary(nil), cmpopts.EquateApprox(0, 1e-12)); d != "" {
		t.Errorf("reduced (-whole +reduced):\n%s", d)
	}
	merged := NewCounts(k)
	for _, s := range shards {
		if err := merged.Merge(s); err != nil {
			t.Fatal(err)
		}
	}
	if d := cmp.Diff(whole.Int64s(), merged.Int64s()); d != "" {
		t.Errorf("Merge (-whole +merged):\n%s", d)
	}
}

func TestFromInt64s_Errors(t *testing.T) {
	for name, tc := range map[string]struct {
		k int
		v []int64
	}{
		"short":    {2, []int64{1, 0, 0, 1}},
		"negative": {2, []int64{-1, 0, 0, 1, 0}},
		"total":    {2, []int64{1, 0, 0, 1, 3}},
	} {
		if _, err := FromInt64s(tc.k, tc.v); err == nil {
			t.Errorf("%s: FromInt64s(%d, %v) succeeded", name, tc.k, tc.v)
		}
	}
	if err := NewCounts(2).Merge(NewCounts(3)); !errors.Is(err, ErrMismatch) {
		t.Errorf("Merge 3 into 2: %v, want ErrMismatch", err)
	}
}

func TestSummary_Metric(t *testing.T) {
	s := handCase().Summary(nil)
	for _, tc := range []struct {
		name    string
		want    float64
		greater bool
	}{
		{"accuracy", 5.0 / 9, true},
		{"eval_accuracy", 5.0 / 9, true},
		{"macro_f1", 26.0 / 63, true},
		{"f1", 26.0 / 63, true},
		{"loss", 0.5, false},
	} {
		v, g, err := s.Metric(tc.name)
		if err != nil || math.Abs(v-tc.want) > 1e-12 || g != tc.greater {
			t.Errorf("Metric(%q) = %v, %v, %v; want %v, %v", tc.name, v, g, err, tc.want, tc.greater)
		}
	}
	if _, _, err := s.Metric("bleu"); !errors.Is(err, ErrUnknownMetric) {
		t.Errorf("Metric(bleu) error %v, want ErrUnknownMetric", err)
	}
	lower := s
	lower.Loss = 0.4
	if b, _ := Better("loss", lower, s); !b {
		t.Error("Better(loss): 0.4 not better than 0.5")
	}
}

func TestSummary_JSON(t *testing.T) {
	b, err := json.Marshal(handCase().Summary([]string{"a", "b", "c"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"n":9`, `"loss":0.5`, `"macro_f1":`, `"classes":[{"label":"a","precision":0.6`, `"support":4`, `"confusion":[[3,1,0],[1,2,0],[1,1,0]]`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s:\n%s", key, b)
		}
	}
}

func TestSummary_Table(t *testing.T) {
	got := handCase().Summary([]string{"ham", "spam", "phish"}).Table()
	for _, line := range []string{
		"n 9  loss 0.5000  accuracy 0.5556  macro-F1 0.4127",
		"phish         0.0000     0.0000     0.0000          2",
		"macro avg     0.3667     0.4722     0.4127          9",
		"phish          1      1      0",
		"warning: class phish (2 examples) was never predicted",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("table lacks %q:\n%s", line, got)
		}
	}
	if n := strings.Count(got, "never predicted"); n != 1 {
		t.Errorf("%d never-predicted warnings, want 1 (ham and spam are predicted):\n%s", n, got)
	}
}

func TestCounts_AddPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Add(3, 0) on 3 classes did not panic")
		}
	}()
	NewCounts(3).Add(3, 0, 0)
}
