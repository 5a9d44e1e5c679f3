package cli

import (
	"strings"
	"testing"
)

// helpCommands is every command line that asks for help.
var helpCommands = [][]string{
	{"train", "--help"}, {"predict", "--help"}, {"eval", "-h"}, {"doctor", "--help"},
	{"bench", "--help"}, {"bench", "allreduce", "--help"}, {"bench", "step", "--help"},
	{"k8s", "--help"}, {"k8s", "render", "--help"}, {"version", "--help"},
	{"--help"}, {"help"}, {"--nproc", "1", "--help"}, {"help", "train"},
}

// Help that was asked for is the result: stdout, exit 0, nothing on
// stderr (`ddprun train --help | grep lr` works).
func TestHelp_Stdout(t *testing.T) {
	for _, args := range helpCommands {
		out, errOut, err := run(t, args...)
		if err != nil || !strings.HasPrefix(out, "Usage: ddprun") || errOut != "" {
			t.Errorf("%q: err %v, stdout %d bytes starting %.40q, stderr %q", args, err, len(out), out, errOut)
		}
	}
	if out, _, _ := run(t, "train", "--help"); !strings.Contains(out, "\n  --lr float") {
		t.Errorf("train --help does not list --lr:\n%s", out)
	}
}

// A mistake in a command line is one line naming it and the help, exit 2,
// never the whole flag list.
func TestUsageError_OneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the message's start
	}{
		{[]string{"train", "--nonsense", "1"}, "train: unknown flag --nonsense ("},
		{[]string{"train", "--lr", "fast"}, `train: invalid value "fast" for --lr: parse error (see ddprun train --help)`},
		{[]string{"train", "--lr"}, "train: flag needs an argument: --lr (see ddprun train --help)"},
		{[]string{"train", "--train", "x.csv", "--preset", "micro", "--eval-strategy", "epoch"}, "train: --eval-strategy epoch needs --val"},
		{[]string{"train", "--train", "x.csv", "--preset", "micro", "stray"}, `train: unexpected arguments ["stray"]`},
		{[]string{"train", "--train", "x.csv", "--preset", "micro", "--load-best-at-end", "false", "--lr", "1"}, `train: unexpected arguments ["false" "--lr" "1"]: a switch takes its value with '=', as in --load-best-at-end=false`},
		{[]string{"doctor", "--iters=x"}, `doctor: invalid value "x" for --iters`},
		{[]string{"bench", "step", "--preset"}, "bench step: flag needs an argument: --preset"},
		{[]string{"bench", "nonsense"}, "bench: want a benchmark name"},
		{[]string{"k8s", "render", "--nodez", "2"}, "k8s render: unknown flag --nodez ("},
		{[]string{"k8s", "nonsense"}, "k8s: want a subcommand: render"},
		{[]string{"nonsense"}, `unknown command "nonsense" (see ddprun --help)`},
	} {
		out, errOut, err := run(t, tc.args...)
		if ExitCode(err) != 2 || out != "" || errOut != "" {
			t.Errorf("%q: exit %d (%v), stdout %q, stderr %q; want exit 2 and no output", tc.args, ExitCode(err), err, out, errOut)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, tc.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "usage error") {
			t.Errorf("%q: message %q, want one line starting %q", tc.args, msg, tc.want)
		}
	}
}

// Every flag entry of every help reads "--name TYPE" or "--name": the flag
// package takes the first `backquoted` word of a usage as the value's
// name ("--device ddprun train --device"), and says "value" for a flag
// type of ours unless the usage names it.
func TestHelp_NoMangledLines(t *testing.T) {
	for _, args := range helpCommands {
		out, _, _ := run(t, args...)
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if !strings.HasPrefix(line, "  -") || len(f) == 0 {
				continue
			}
			if !strings.HasPrefix(line, "  --") || len(f) > 2 || len(f) == 2 && f[1] == "value" {
				t.Errorf("%q: mangled flag line %q", args, line)
			}
		}
	}
}

// ddprun --help lists the launch flags and their aliases.
func TestHelp_LaunchFlags(t *testing.T) {
	out, _, _ := run(t, "--help")
	for _, want := range []string{"\n  --nproc int\n", "\n  --nodes N\n", "\n  --max-restarts int\n", "--nnodes (--nodes)", "\n  train "} {
		if !strings.Contains(out, want) {
			t.Errorf("ddprun --help lacks %q:\n%s", want, out)
		}
	}
}
