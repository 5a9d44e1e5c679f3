package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/ddp"
	"github.com/ddprun/ddprun/ddp/metrics"
)

// The console result shows the model beside the baseline and says which
// one wins, on the test split (else validation).
func TestPrintBaseline(t *testing.T) {
	sum := func(acc, f1 float64) *metrics.Summary { return &metrics.Summary{Accuracy: acc, MacroF1: f1} }
	res := &ddp.Result{Test: sum(0.9442, 0.636), Baseline: &ddp.BaselineResult{Model: "naive Bayes", Test: sum(0.9695, 0.898)}}
	var out bytes.Buffer
	printBaseline(&out, res)
	for _, want := range []string{"baseline: naive Bayes", "model        0.9442    0.6360", "baseline     0.9695    0.8980",
		"the baseline beats the model on macro-F1 by 0.2620"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q:\n%s", want, out.String())
		}
	}
	res.Test, res.Baseline.Test = nil, nil
	res.Val, res.Baseline.Val = sum(0.98, 0.95), sum(0.97, 0.9)
	out.Reset()
	printBaseline(&out, res)
	if !strings.Contains(out.String(), "validation") || !strings.Contains(out.String(), "the model beats the baseline on macro-F1 by 0.0500") {
		t.Errorf("validation comparison:\n%s", out.String())
	}
}
