package cli

import (
	"flag"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/ddp"
)

// HF's names of train's flags set the same field as ddprun's.
func TestTrainAliases(t *testing.T) {
	for _, a := range trainAliases {
		var got, want ddp.Config
		if err := trainFlags(&got).Parse([]string{"--" + a[0], "7"}); err != nil {
			t.Fatalf("--%s: %v", a[0], err)
		}
		trainFlags(&want).Parse([]string{"--" + a[1], "7"})
		if !reflect.DeepEqual(got, want) || reflect.DeepEqual(got, ddp.Config{}) {
			t.Errorf("--%s 7 gave %+v, want what --%s 7 gives: %+v", a[0], got, a[1], want)
		}
	}
}

// torchrun's names of the launch flags.
func TestLaunchAliases(t *testing.T) {
	for _, args := range [][]string{
		{"--nproc", "3", "--nodes", "2"},
		{"--nproc-per-node", "3", "--nnodes", "2"},
		{"--nproc_per_node=3", "--nnodes=2"},
	} {
		var f launchFlags
		fs := flag.NewFlagSet("ddprun", flag.ContinueOnError)
		f.Register(fs)
		if err := fs.Parse(args); err != nil || f.nproc != 3 || f.nodes.String() != "2" {
			t.Errorf("%q: nproc %d, nodes %v, %v", args, f.nproc, &f.nodes, err)
		}
	}
}

// Help lists an alias on the aliases line, not as an entry of its own.
func TestHelp_Aliases(t *testing.T) {
	out, _, err := run(t, "train", "--help")
	if err != nil {
		t.Fatal(err)
	}
	var aliasLines []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "aliases: ") {
			aliasLines = append(aliasLines, line)
		}
	}
	if len(aliasLines) != 1 {
		t.Fatalf("%d aliases lines in:\n%s", len(aliasLines), out)
	}
	for _, a := range trainAliases {
		if strings.Contains(out, "\n  --"+a[0]) || strings.Contains(out, "alias of") {
			t.Errorf("--%s has an entry of its own:\n%s", a[0], out)
		}
		if !strings.Contains(aliasLines[0], "--"+a[0]+" (--"+a[1]+")") {
			t.Errorf("aliases line lacks --%s (--%s): %s", a[0], a[1], aliasLines[0])
		}
	}
	// Flags set before --help do not show as defaults.
	if out, _, _ := run(t, "train", "--lr", "0.25", "--help"); strings.Contains(out, "0.25") || !strings.Contains(out, "(default 5e-05)") {
		t.Errorf("--lr 0.25 --help shows the value as the default:\n%s", out)
	}
}

// The flags several commands share are one flag.Value each
// (internal/flagtypes): every command shows the same default, and a bad
// value is a usage error while the command line is parsed, naming the
// values allowed, before anything runs (bench step used to run fp32 on
// --precision fp16, and take --threads -1).
func TestSharedFlags(t *testing.T) {
	bad := map[string][2]string{ // flag -> a bad value, the message's end
		"precision":      {"fp16", "want fp32 or bf16"},
		"device":         {"gpu", "want auto, cpu, cuda or cuda:N"},
		"threads":        {"-1", "want a whole number of threads >= 0"},
		"optimizer-impl": {"gpu", "want auto, host or flat"},
	}
	defaults := map[string]string{"precision": "(default fp32)", "device": "(default auto)", "optimizer-impl": "(default auto)", "threads": ""}
	for _, tc := range []struct {
		cmd   []string
		flags []string
	}{
		{[]string{"train"}, []string{"precision", "device", "threads", "optimizer-impl"}},
		{[]string{"predict"}, []string{"precision", "device", "threads"}},
		{[]string{"eval"}, []string{"precision", "device", "threads"}},
		{[]string{"bench", "step"}, []string{"precision", "device", "threads", "optimizer-impl"}},
		{[]string{"doctor"}, []string{"device"}},
	} {
		help, _, err := run(t, append(tc.cmd, "--help")...)
		if err != nil {
			t.Fatalf("%s --help: %v", tc.cmd, err)
		}
		for _, name := range tc.flags {
			if got := helpEntry(help, name); !strings.HasSuffix(got, defaults[name]) || defaults[name] == "" && strings.Contains(got, "(default") {
				t.Errorf("%s --help, --%s: %q, want the default shown as %q", tc.cmd, name, got, defaults[name])
			}
			args := append(append([]string{}, tc.cmd...), "--"+name, bad[name][0])
			out, errOut, err := run(t, args...)
			want := fmt.Sprintf("%s: invalid value %q for --%s: %s", strings.Join(tc.cmd, " "), bad[name][0], name, bad[name][1])
			if ExitCode(err) != 2 || out != "" || errOut != "" || err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%q: exit %d, %v\nstdout %q\nstderr %q\nwant exit 2, no output and a message starting %q", args, ExitCode(err), err, out, errOut, want)
			}
		}
	}
}

// helpEntry is the usage line of --name in help output, spaces trimmed.
func helpEntry(help, name string) string {
	lines := strings.Split(help, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "--"+name+" ") && i+1 < len(lines) {
			return strings.TrimSpace(lines[i+1])
		}
	}
	return ""
}
