package metrics

import (
	"fmt"
	"strconv"
	"strings"
)

// Table renders s as plain text for a terminal: the headline metrics, a
// per-class table with macro averages, and the confusion matrix.
func (s Summary) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "n %d  loss %.4f  accuracy %.4f  macro-F1 %.4f\n\n", s.N, s.Loss, s.Accuracy, s.MacroF1)
	w := len("macro avg")
	for _, l := range s.Labels {
		w = max(w, len(l))
	}
	fmt.Fprintf(&b, "%-*s  %9s  %9s  %9s  %9s\n", w, "class", "precision", "recall", "f1", "support")
	for _, c := range s.Classes {
		fmt.Fprintf(&b, "%-*s  %9.4f  %9.4f  %9.4f  %9d\n", w, c.Label, c.Precision, c.Recall, c.F1, c.Support)
	}
	fmt.Fprintf(&b, "%-*s  %9.4f  %9.4f  %9.4f  %9d\n", w, "macro avg", s.MacroPrecision, s.MacroRecall, s.MacroF1, s.N)
	for _, c := range s.NeverPredicted() {
		fmt.Fprintf(&b, "warning: class %s (%d examples) was never predicted: the model ignores it (try --class-weights balanced)\n", c.Label, c.Support)
	}
	b.WriteString("\nconfusion matrix (rows: true label, columns: predicted)\n")
	s.writeConfusion(&b, w)
	return b.String()
}

func (s Summary) writeConfusion(b *strings.Builder, w int) {
	cw := 5
	for i, row := range s.Confusion {
		cw = max(cw, len(s.Labels[i]))
		for _, v := range row {
			cw = max(cw, len(strconv.FormatInt(v, 10)))
		}
	}
	fmt.Fprintf(b, "%-*s", w, "")
	for _, l := range s.Labels {
		fmt.Fprintf(b, "  %*s", cw, l)
	}
	b.WriteByte('\n')
	for i, row := range s.Confusion {
		fmt.Fprintf(b, "%-*s", w, s.Labels[i])
		for _, v := range row {
			fmt.Fprintf(b, "  %*d", cw, v)
		}
		b.WriteByte('\n')
	}
}

// NeverPredicted returns the classes with examples that the model never
// predicted (recall 0): on imbalanced data, the sign of a model that
// learned the majority and nothing else.
func (s Summary) NeverPredicted() []Class {
	var out []Class
	for _, c := range s.Classes {
		if c.Support > 0 && c.Predicted == 0 {
			out = append(out, c)
		}
	}
	return out
}
