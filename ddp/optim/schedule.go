package optim

import (
	"fmt"
	"math"
)

// ScheduleKind names a learning-rate schedule, as HF's lr_scheduler_type.
type ScheduleKind string

const (
	Linear   ScheduleKind = "linear"   // warmup, then linear decay to 0 at Total
	Cosine   ScheduleKind = "cosine"   // warmup, then half a cosine to 0 at Total
	Constant ScheduleKind = "constant" // warmup, then constant
)

// Schedule gives the learning-rate factor of each optimizer step, exactly
// as HF's get_*_schedule_with_warmup: step s (0-based, the s-th call of
// optimizer.step()) uses factor(s), so with warmup the first step uses 0.
type Schedule struct {
	Kind   ScheduleKind
	Warmup int // steps of linear warmup from 0
	Total  int // optimizer steps in the whole run
}

// Validate checks the schedule.
func (s Schedule) Validate() error {
	switch s.Kind {
	case Linear, Cosine, Constant:
	default:
		return fmt.Errorf("optim: unknown schedule %q (linear, cosine, constant)", s.Kind)
	}
	if s.Warmup < 0 || s.Total < 0 {
		return fmt.Errorf("optim: warmup %d and total %d steps must not be negative", s.Warmup, s.Total)
	}
	return nil
}

// LR is the learning rate of step s for base rate lr.
func (s Schedule) LR(lr float64, step int) float64 { return lr * s.Factor(step) }

// Factor is the multiplier of the base learning rate at step s.
func (s Schedule) Factor(step int) float64 {
	if step < s.Warmup {
		return float64(step) / float64(max(1, s.Warmup))
	}
	rest := float64(max(1, s.Total-s.Warmup))
	switch s.Kind {
	case Linear:
		return math.Max(0, float64(s.Total-step)/rest)
	case Cosine:
		progress := math.Min(1, float64(step-s.Warmup)/rest) // HF rises again past Total; stay at 0
		return math.Max(0, 0.5*(1+math.Cos(math.Pi*progress)))
	}
	return 1
}
