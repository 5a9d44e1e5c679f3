package cli

import (
	"flag"
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
