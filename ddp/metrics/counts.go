package metrics

import (
	"errors"
	"fmt"
)

// ErrMismatch is returned when Counts of different shapes are combined.
var ErrMismatch = errors.New("metrics: class count mismatch")

// Counts accumulates the sums a classification evaluation needs for K
// classes: a K×K confusion matrix, the loss sum and the example count. The
// zero value is not usable; make one with NewCounts.
type Counts struct {
	k         int
	confusion []int64 // k*k, row-major: row = true label, column = predicted
	n         int64
	lossSum   float64
}

// NewCounts returns empty Counts for k classes. It panics if k < 1.
func NewCounts(k int) *Counts {
	if k < 1 {
		panic(fmt.Sprintf("metrics: NewCounts(%d): need at least one class", k))
	}
	return &Counts{k: k, confusion: make([]int64, k*k)}
}

// K returns the number of classes.
func (c *Counts) K() int { return c.k }

// N returns the number of examples added.
func (c *Counts) N() int64 { return c.n }

// LossSum returns the sum of the per-example losses added.
func (c *Counts) LossSum() float64 { return c.lossSum }

// SetLossSum replaces the loss sum, for instance with its all-reduced value.
func (c *Counts) SetLossSum(v float64) { c.lossSum = v }

// Cell returns the number of examples with true label label that were
// predicted as pred.
func (c *Counts) Cell(label, pred int) int64 { return c.confusion[label*c.k+pred] }

// Add records one example with its predicted class, true class and loss.
// Like a slice index, a class outside [0, K) is a programming error (the
// data loader checks labels) and panics.
func (c *Counts) Add(pred, label int, loss float64) {
	c.check(pred, label)
	c.confusion[label*c.k+pred]++
	c.n++
	c.lossSum += loss
}

// AddBatch records a batch: preds[i] and labels[i] per example, and the
// batch's loss sum (a mean-reduced loss times the batch size). It panics if
// the slices differ in length or hold a class outside [0, K).
func (c *Counts) AddBatch(preds, labels []int, lossSum float64) {
	if len(preds) != len(labels) {
		panic(fmt.Sprintf("metrics: AddBatch: %d predictions for %d labels", len(preds), len(labels)))
	}
	for i, p := range preds {
		c.check(p, labels[i])
		c.confusion[labels[i]*c.k+p]++
	}
	c.n += int64(len(preds))
	c.lossSum += lossSum
}

func (c *Counts) check(pred, label int) {
	if pred < 0 || pred >= c.k || label < 0 || label >= c.k {
		panic(fmt.Sprintf("metrics: class out of range: pred %d, label %d, %d classes", pred, label, c.k))
	}
}

// Merge adds other's sums into c, as an all-reduce with op Sum would.
func (c *Counts) Merge(other *Counts) error {
	if other.k != c.k {
		return fmt.Errorf("merge %d classes into %d: %w", other.k, c.k, ErrMismatch)
	}
	for i, v := range other.confusion {
		c.confusion[i] += v
	}
	c.n += other.n
	c.lossSum += other.lossSum
	return nil
}

// Reset empties c for the next evaluation.
func (c *Counts) Reset() {
	clear(c.confusion)
	c.n, c.lossSum = 0, 0
}
