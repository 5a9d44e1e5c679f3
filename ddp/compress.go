package ddp

import (
	"fmt"
	"strconv"
	"strings"
)

// Compression says how the dense gradient buckets travel: as they are
// (the zero value), or compressed by PowerSGD (Note [PowerSGD]).
type Compression struct {
	// Rank is PowerSGD's matrix approximation rank; 0: no compression.
	Rank int
	// Start is the number of optimizer steps all-reduced uncompressed
	// before compression starts (torch's start_powerSGD_iter); AfterWarmup:
	// the end of the learning-rate warmup, and at least 2, as torch
	// requires with error feedback.
	Start int
}

// AfterWarmup is Compression.Start's default: compression starts when the
// learning-rate warmup ends, as torch's PowerSGDState advises.
const AfterWarmup = -1

// ParseCompression parses --compress: "none" (or ""), "powersgd:R" or
// "powersgd:R:S", R the rank (1 to 64) and S the uncompressed steps first.
func ParseCompression(s string) (Compression, error) {
	if s == "" || s == "none" {
		return Compression{}, nil
	}
	f := strings.Split(s, ":")
	if f[0] != "powersgd" || len(f) < 2 || len(f) > 3 {
		return Compression{}, fmt.Errorf("ddp: --compress %q: none, powersgd:RANK or powersgd:RANK:START_STEP", s)
	}
	c := Compression{Start: AfterWarmup}
	var err error
	if c.Rank, err = strconv.Atoi(f[1]); err != nil || c.Rank < 1 || c.Rank > 64 {
		return Compression{}, fmt.Errorf("ddp: --compress %q: the rank must be 1 to 64 (1 to 4 is usual)", s)
	}
	if len(f) == 3 {
		if c.Start, err = strconv.Atoi(f[2]); err != nil || c.Start < 2 {
			return Compression{}, fmt.Errorf("ddp: --compress %q: the start step must be at least 2 (error feedback and warm start need plain steps first, as in torch)", s)
		}
	}
	return c, nil
}

// On reports whether gradients are compressed.
func (c Compression) On() bool { return c.Rank > 0 }

// String is the flag's form of c.
func (c Compression) String() string {
	switch {
	case !c.On():
		return "none"
	case c.Start == AfterWarmup:
		return fmt.Sprintf("powersgd:%d", c.Rank)
	}
	return fmt.Sprintf("powersgd:%d:%d", c.Rank, c.Start)
}

// startStep is the first compressed step for a schedule warming up over
// warmup steps.
func (c Compression) startStep(warmup int) int {
	if c.Start == AfterWarmup {
		return max(2, warmup)
	}
	return c.Start
}
