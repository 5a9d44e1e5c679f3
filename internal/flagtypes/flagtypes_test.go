package flagtypes

import (
	"flag"
	"io"
	"strings"
	"testing"
)

type options struct {
	precision, device, impl string
	threads                 int
}

func newFlags() (*flag.FlagSet, *options) {
	var o options
	o.precision, o.device, o.impl, o.threads = "x", "x", "x", -7 // overwritten with the defaults
	fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	PrecisionVar(fs, &o.precision)
	DeviceVar(fs, &o.device)
	ThreadsVar(fs, &o.threads)
	OptimizerImplVar(fs, &o.impl)
	return fs, &o
}

// One default each, set when the flag is defined and shown by help.
func TestDefaults(t *testing.T) {
	fs, o := newFlags()
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	want := options{precision: DefaultPrecision, device: DefaultDevice, impl: DefaultOptimizerImpl, threads: DefaultThreads}
	if *o != want {
		t.Errorf("defaults %+v, want %+v", *o, want)
	}
	for name, def := range map[string]string{"precision": "fp32", "device": "auto", "threads": "0", "optimizer-impl": "auto"} {
		if got := fs.Lookup(name).DefValue; got != def {
			t.Errorf("--%s default %q, want %q", name, got, def)
		}
	}
}

// Good values land in the bound variable, with the type Get reports.
func TestSet_Accepts(t *testing.T) {
	fs, o := newFlags()
	err := fs.Parse([]string{"--precision", "bf16", "--device", "cuda:3", "--threads", "4", "--optimizer-impl", "flat"})
	if err != nil {
		t.Fatal(err)
	}
	want := options{precision: "bf16", device: "cuda:3", impl: "flat", threads: 4}
	if *o != want {
		t.Errorf("parsed %+v, want %+v", *o, want)
	}
	if v, ok := fs.Lookup("threads").Value.(flag.Getter).Get().(int); !ok || v != 4 {
		t.Errorf("--threads Get() = %v, want int 4", fs.Lookup("threads").Value.(flag.Getter).Get())
	}
	for _, d := range []string{"auto", "cpu", "cuda", "cuda:0", "cuda:12"} {
		if err := fs.Set("device", d); err != nil {
			t.Errorf("--device %s: %v", d, err)
		}
	}
}

// A bad value fails the parse, naming the values allowed, and leaves the
// variable as it was.
func TestSet_Rejects(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"precision", "fp16", "want fp32 or bf16"},
		{"precision", "BF16", "want fp32 or bf16"},
		{"precision", "", "want fp32 or bf16"},
		{"device", "gpu", "want auto, cpu, cuda or cuda:N"},
		{"device", "cuda:", "want auto, cpu, cuda or cuda:N"},
		{"device", "cuda:-1", "want auto, cpu, cuda or cuda:N"},
		{"device", "cuda1", "want auto, cpu, cuda or cuda:N"},
		{"threads", "-1", "want a whole number of threads >= 0"},
		{"threads", "two", "want a whole number of threads >= 0"},
		{"optimizer-impl", "gpu", "want auto, host or flat"},
	} {
		fs, o := newFlags()
		before := *o
		err := fs.Parse([]string{"--" + tc.flag, tc.value})
		if err == nil || !strings.Contains(err.Error(), `invalid value "`+tc.value+`" for flag -`+tc.flag+": "+tc.want) {
			t.Errorf("--%s %q: err = %v, want one saying %q", tc.flag, tc.value, err, tc.want)
		}
		if *o != before {
			t.Errorf("--%s %q changed the options to %+v", tc.flag, tc.value, *o)
		}
	}
}
