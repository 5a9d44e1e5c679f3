package flagtypes

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The defaults, one per option, for every command that takes it.
const (
	DefaultPrecision     = "fp32"
	DefaultDevice        = "auto"
	DefaultThreads       = 0 // the machine's cores shared by the ranks on it
	DefaultOptimizerImpl = "auto"
)

// The values each option accepts.
var (
	Precisions     = []string{"fp32", "bf16"}
	OptimizerImpls = []string{"auto", "host", "flat"}
)

// Definer is where flags are defined; *flag.FlagSet is one.
type Definer interface {
	Var(value flag.Value, name, usage string)
}

// PrecisionVar defines --precision on fs, bound to p, and sets *p to
// DefaultPrecision.
func PrecisionVar(fs Definer, p *string) {
	*p = DefaultPrecision
	fs.Var(&choice{p: p, allowed: Precisions}, "precision",
		"compute in `fp32|bf16`; bf16 is mixed precision (bf16 compute; training keeps fp32 weights and optimizer state)")
}

// DeviceVar defines --device on fs, bound to p, and sets *p to
// DefaultDevice.
func DeviceVar(fs Definer, p *string) {
	*p = DefaultDevice
	fs.Var((*device)(p), "device",
		"where the model runs: `auto|cpu|cuda|cuda:N` (auto: the launcher's GPU, else cuda:LOCAL_RANK when CUDA is visible, else cpu)")
}

// ThreadsVar defines --threads on fs, bound to p, and sets *p to
// DefaultThreads.
func ThreadsVar(fs Definer, p *int) {
	*p = DefaultThreads
	fs.Var((*threads)(p), "threads", "`N` libtorch threads per rank (0: the machine's cores shared by the ranks on it)")
}

// OptimizerImplVar defines --optimizer-impl on fs, bound to p, and sets
// *p to DefaultOptimizerImpl.
func OptimizerImplVar(fs Definer, p *string) {
	*p = DefaultOptimizerImpl
	fs.Var(&choice{p: p, allowed: OptimizerImpls}, "optimizer-impl",
		"`auto|host|flat`: fused C kernel per parameter on host memory, or libtorch ops per flat bucket on any device (auto: host on the CPU, flat on CUDA)")
}

// choice is a string flag that takes one of a fixed list of values.
type choice struct {
	p       *string
	allowed []string
}

func (c *choice) String() string {
	if c.p == nil { // the zero Value flag.PrintDefaults makes
		return ""
	}
	return *c.p
}

func (c *choice) Set(s string) error {
	if !slices.Contains(c.allowed, s) {
		return fmt.Errorf("want %s", orList(c.allowed))
	}
	*c.p = s
	return nil
}

func (c *choice) Get() any { return *c.p }

// device is --device: auto, cpu, cuda or cuda:N.
type device string

func (d *device) String() string { return string(*d) }

func (d *device) Set(s string) error {
	if !ValidDevice(s) {
		return fmt.Errorf("want auto, cpu, cuda or cuda:N")
	}
	*d = device(s)
	return nil
}

func (d *device) Get() any { return string(*d) }

// ValidDevice reports whether s is a --device value: auto, cpu, cuda or
// cuda:N.
func ValidDevice(s string) bool {
	switch s {
	case "auto", "cpu", "cuda":
		return true
	}
	n, ok := strings.CutPrefix(s, "cuda:")
	v, err := strconv.Atoi(n)
	return ok && err == nil && v >= 0 // as ddp.ResolveDevice reads it
}

// threads is --threads: a count of threads, 0 for the default.
type threads int

func (t *threads) String() string { return strconv.Itoa(int(*t)) }

func (t *threads) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return fmt.Errorf("want a whole number of threads >= 0 (0: the machine's cores shared by the ranks on it)")
	}
	*t = threads(v)
	return nil
}

func (t *threads) Get() any { return int(*t) }

// orList writes values as "a, b or c".
func orList(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}
