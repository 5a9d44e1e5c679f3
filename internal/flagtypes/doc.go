// Package flagtypes holds the flags that several ddprun commands share:
// --precision, --device, --threads and --optimizer-impl. Each has one
// flag.Value whose Set checks the value, one default and one usage text,
// so train, predict, eval, bench step and doctor accept the same values
// with the same defaults, and a bad value fails while the command line is
// parsed, naming the values allowed.
//
// A command binds a field of its configuration:
//
//	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
//	flagtypes.PrecisionVar(fs, &cfg.Precision) // cfg.Precision = DefaultPrecision
//	flagtypes.DeviceVar(fs, &cfg.Device)
//	err := fs.Parse(args) // --precision fp16: invalid value "fp16" for flag -precision: want fp32 or bf16
//
// The libraries behind the commands (ddp) still check their
// configuration: they are called without flags too.
package flagtypes
