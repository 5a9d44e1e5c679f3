package cli

import (
	"flag"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/ddp"
)

// An unknown flag suggests the same flag in Python's spelling, another
// trainer's name for it (HF, torchrun), or the nearest name; nothing when
// nothing is near, and only flags the command has.
func TestSuggest(t *testing.T) {
	cfg := ddp.DefaultConfig()
	train := trainFlags(&cfg)
	launch := flag.NewFlagSet("ddprun", flag.ContinueOnError)
	new(launchFlags).Register(launch)
	doctor := flag.NewFlagSet("doctor", flag.ContinueOnError)
	doctor.String("device", "", "")
	for _, tc := range []struct {
		fs         *flag.FlagSet
		name, want string
	}{
		{train, "learning_rate", "--lr"},
		{train, "warmup_ratio", "--warmup-ratio"},
		{train, "Save_Steps", "--save-steps"},
		{train, "evaluation_strategy", "--eval-strategy"},
		{train, "model_name_or_path", "--model"},
		{train, "bf16", "--precision bf16"},
		{train, "epoch", "--epochs"},
		{train, "lr-schedular", "--lr-scheduler"},
		{train, "wramup-steps", "--warmup-steps"},
		{train, "xyzzy", ""},
		{train, "master-addr", ""}, // a launch flag's spelling, not train's
		{launch, "master_addr", "--join"},
		{launch, "nprocs", "--nproc"},
		{doctor, "bf16", ""},
		{doctor, "devices", "--device"},
	} {
		if got := suggest(tc.fs, tc.name); got != tc.want {
			t.Errorf("%s: suggest(%q) = %q, want %q", tc.fs.Name(), tc.name, got, tc.want)
		}
	}
	for a, b := range map[[2]string]int{{"", "abc"}: 3, {"kitten", "sitting"}: 3, {"lr", "lr"}: 0, {"epoch", "epochs"}: 1, {"trian", "train"}: 1, {"ab", "ba"}: 1, {"abc", "ca"}: 3} {
		if d := editDistance(a[0], a[1]); d != b {
			t.Errorf("editDistance(%q, %q) = %d, want %d", a[0], a[1], d, b)
		}
	}
}

// The suggestion is part of the one-line message.
func TestUsageError_Suggests(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--learning_rate", "1e-4"}, "train: unknown flag --learning_rate (did you mean --lr? see ddprun train --help)"},
		{[]string{"--master_addr", "h:1", "train"}, "unknown flag --master_addr (did you mean --join? see ddprun --help)"},
		{[]string{"trian"}, `unknown command "trian" (did you mean train? see ddprun --help)`},
		{[]string{"--nproc", "2", "trian"}, `unknown command "trian" (did you mean train? see ddprun --help)`},
	} {
		_, errOut, err := run(t, tc.args...)
		if ExitCode(err) != 2 || err.Error() != tc.want || errOut != "" {
			t.Errorf("%q: exit %d, %q, stderr %q; want exit 2 and %q", tc.args, ExitCode(err), err, errOut, tc.want)
		}
	}
	if _, _, err := run(t, "train", "--xyzzy"); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("--xyzzy: %v, want no suggestion", err)
	}
}
