package metrics

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUnknownMetric is returned by Summary.Metric for a name it does not know.
var ErrUnknownMetric = errors.New("metrics: unknown metric")

// Summary is the result of an evaluation, ready to print, log or compare.
// Rates are in [0, 1]. With no examples, Loss and Accuracy are 0 (JSON has
// no NaN).
type Summary struct {
	N              int64     `json:"n"`
	Loss           float64   `json:"loss"`
	Accuracy       float64   `json:"accuracy"`
	MacroPrecision float64   `json:"macro_precision"`
	MacroRecall    float64   `json:"macro_recall"`
	MacroF1        float64   `json:"macro_f1"` // mean of Classes[i].F1; see Note [Zero division]
	Labels         []string  `json:"labels"`
	Classes        []Class   `json:"classes"`
	Confusion      [][]int64 `json:"confusion"` // [true][predicted]
}

// Class holds one class's scores. Support is the number of examples whose
// true label is the class; Predicted the number predicted as it.
type Class struct {
	Label     string  `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int64   `json:"support"`
	Predicted int64   `json:"predicted"`
}

// Summary computes the metrics. labels names the classes; a missing or
// empty name is replaced by the class index.
func (c *Counts) Summary(labels []string) Summary {
	k := c.k
	s := Summary{N: c.n, Labels: make([]string, k), Classes: make([]Class, k), Confusion: make([][]int64, k)}
	var correct int64
	for i := range k {
		s.Labels[i] = strconv.Itoa(i)
		if i < len(labels) && labels[i] != "" {
			s.Labels[i] = labels[i]
		}
		s.Confusion[i] = append([]int64(nil), c.confusion[i*k:(i+1)*k]...)
		correct += c.Cell(i, i)
	}
	for i := range k {
		s.Classes[i] = c.class(i, s.Labels[i])
		s.MacroPrecision += s.Classes[i].Precision / float64(k)
		s.MacroRecall += s.Classes[i].Recall / float64(k)
		s.MacroF1 += s.Classes[i].F1 / float64(k)
	}
	if c.n > 0 {
		s.Loss = c.lossSum / float64(c.n)
		s.Accuracy = float64(correct) / float64(c.n)
	}
	return s
}

// class scores class i. See Note [Zero division].
func (c *Counts) class(i int, label string) Class {
	cl := Class{Label: label}
	for j := range c.k {
		cl.Support += c.Cell(i, j)
		cl.Predicted += c.Cell(j, i)
	}
	tp := float64(c.Cell(i, i))
	cl.Precision = ratio(tp, float64(cl.Predicted))
	cl.Recall = ratio(tp, float64(cl.Support))
	cl.F1 = ratio(2*tp, float64(cl.Predicted+cl.Support))
	return cl
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Metric returns the metric called name and whether a greater value is
// better, for choosing the best checkpoint and early stopping. Names are
// "accuracy", "macro_f1" (alias "f1"), "macro_precision", "macro_recall"
// and "loss" (lower is better); an "eval_" prefix, as HF's
// metric_for_best_model writes it, is ignored.
func (s Summary) Metric(name string) (value float64, greaterIsBetter bool, err error) {
	switch strings.TrimPrefix(name, "eval_") {
	case "accuracy", "acc":
		return s.Accuracy, true, nil
	case "macro_f1", "f1":
		return s.MacroF1, true, nil
	case "macro_precision", "precision":
		return s.MacroPrecision, true, nil
	case "macro_recall", "recall":
		return s.MacroRecall, true, nil
	case "loss":
		return s.Loss, false, nil
	}
	return 0, false, fmt.Errorf("%w %q (want accuracy, macro_f1, f1, macro_precision, macro_recall or loss)", ErrUnknownMetric, name)
}

// Better reports whether a is better than b for the metric called name.
func Better(name string, a, b Summary) (bool, error) {
	va, greater, err := a.Metric(name)
	if err != nil {
		return false, err
	}
	vb, _, _ := b.Metric(name)
	if greater {
		return va > vb, nil
	}
	return va < vb, nil
}
