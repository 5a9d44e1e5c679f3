package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/ddp"
)

// k8s render checks the train flags after -- as the pods' ranks will, so
// a mistake is exit 2 at render time, not a failed pod on the cluster.
func TestK8sRender_ChecksTrainFlags(t *testing.T) {
	render := []string{"k8s", "render", "--image", "ddprun:dev", "--secret", "s", "--"}
	for _, tc := range []struct {
		train []string
		want  string
	}{
		{[]string{"--train", "/data/t.csv", "--preset", "mini", "--eval-strategy", "epoch"}, "k8s render: train: --eval-strategy epoch needs --val (or use --eval-strategy no)"},
		{[]string{"--train", "/data/t.csv", "--preset", "mini", "--eval-strategy", "no", "--learning_rate", "1e-4"}, "k8s render: train: unknown flag --learning_rate (did you mean --lr?"},
		{[]string{"--preset", "mini", "--eval-strategy", "no"}, "k8s render: train: --train is required"},
		{[]string{"--train", "/data/t.csv", "--preset", "mini", "--eval-strategy", "no", "--output="}, "k8s render: train: --output is required"},
	} {
		out, errOut, err := run(t, append(slices.Clone(render), tc.train...)...)
		if ExitCode(err) != 2 || out != "" || errOut != "" || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: exit %d, %v\nstdout %.200q\nstderr %q\nwant exit 2 and %q", tc.train, ExitCode(err), err, out, errOut, tc.want)
		}
	}
	out, _, err := run(t, append(slices.Clone(render), "--train", "/data/t.csv", "--val", "/data/v.csv", "--preset", "mini")...)
	if err != nil || !strings.Contains(out, "kind: Job") || !strings.Contains(out, "- --output=/output\n") {
		t.Errorf("valid flags: %v\n%s", err, out)
	}
}

// An alias of --output is the pod's output: the renderer's default
// --output=/output must not follow it and win.
func TestK8sRender_OutputAlias(t *testing.T) {
	out, _, err := run(t, "k8s", "render", "--image", "ddprun:dev", "--secret", "s", "--",
		"--train", "/data/t.csv", "--preset", "mini", "--eval-strategy", "no", "--output-dir", "/output/run")
	if err != nil || strings.Contains(out, "--output=/output") || strings.Contains(out, "- --output-dir\n") ||
		!strings.Contains(out, "- --output\n        - /output/run\n") {
		t.Errorf("%v\n%s", err, out)
	}
}

func TestCanonicalArgs(t *testing.T) {
	var cfg ddp.Config
	fs := trainFlags(&cfg)
	args := []string{"--output-dir", "/x", "-learning-rate=1", "--no-report", "--logging-steps", "5", "--no-report=true",
		"--labels", "--output-dir", "--num-train-epochs=2"}
	want := []string{"--output", "/x", "-lr=1", "--no-report", "--log-every", "5", "--no-report=true",
		"--labels", "--output-dir", "--epochs=2"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if got := canonicalArgs(fs, args); !slices.Equal(got, want) {
		t.Errorf("canonicalArgs(%q)\n = %q\nwant %q", args, got, want)
	}
}
