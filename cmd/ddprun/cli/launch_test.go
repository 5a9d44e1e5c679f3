package cli

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/internal/testbin"
)

// Under the launcher the rank command's flags are parsed and validated
// once, before any rank starts: a mistake is one message and exit 2 (not
// each rank's usage and a root-cause report), and --help prints the
// command's help once, on stdout.
func TestLaunch_ChecksCommandFirst(t *testing.T) {
	t.Setenv(envTestMain, "1") // were ranks started, they would run as ddprun
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nproc", "2", "train", "--train", "x.csv", "--preset", "micro", "--nonsense", "1"}, "train: unknown flag --nonsense"},
		{[]string{"--nproc", "2", "train", "--train", "x.csv", "--preset", "micro", "--load-best-at-end"}, "train: --load-best-at-end needs evaluations"},
		{[]string{"--nproc", "2", "doctor", "--iters", "x"}, `doctor: invalid value "x" for --iters`},
		{[]string{"--nproc", "2", "bench", "allreduce", "--nproc", "2"}, "bench allreduce: --nproc goes before the command"},
	} {
		out, errOut, err := run(t, tc.args...)
		if ExitCode(err) != 2 || out != "" || errOut != "" || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: exit %d, %v\nstdout %q\nstderr %q\nwant exit 2, no output and a message starting %q", tc.args, ExitCode(err), err, out, errOut, tc.want)
		}
	}
	for _, cmd := range []string{"train", "doctor"} {
		out, errOut, err := run(t, "--nproc", "2", cmd, "--help")
		if err != nil || strings.Count(out, "Usage: ddprun [launch flags] "+cmd) != 1 || errOut != "" {
			t.Errorf("--nproc 2 %s --help: %v\nstdout:\n%s\nstderr:\n%s\nwant the help once on stdout", cmd, err, out, errOut)
		}
	}
}

// The same through main and a real process: one line on stderr, exit 2.
func TestLaunch_UsageErrorOneLine(t *testing.T) {
	bin := testbin.Ddprun(t)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "--nproc", "2", "train", "--train", "x.csv", "--preset", "micro", "--nonsense", "1e-4")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.ProcessState.ExitCode() != 2 || stdout.Len() > 0 || strings.Count(stderr.String(), "\n") != 1 ||
		!strings.HasPrefix(stderr.String(), "ddprun: train: unknown flag --nonsense") {
		t.Errorf("%v (exit %d)\nstdout %q\nstderr %q\nwant exit 2 and one line on stderr", err, cmd.ProcessState.ExitCode(), stdout.String(), stderr.String())
	}
}
