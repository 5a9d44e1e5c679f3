package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/internal/testbin"
)

// pretrain's help lists train's shared flags and --mlm-probability, not
// the classifier's; its mistakes are usage errors (exit 2), under the
// launcher too, before any rank starts.
func TestPretrain_FlagsAndErrors(t *testing.T) {
	out, _, err := run(t, "pretrain", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Usage: ddprun [launch flags] pretrain", "--mlm-probability", "(default 0.15)", "--epochs", "--precision",
		"--resume", "--save-steps", "--threads", "--lr", "aliases: "} {
		if !strings.Contains(out, want) {
			t.Errorf("pretrain --help lacks %q", want)
		}
	}
	for _, flag := range classifierOnly {
		if strings.Contains(out, "\n  --"+flag+" ") || strings.Contains(out, "\n  --"+flag+"\n") {
			t.Errorf("pretrain --help lists the classifier's --%s", flag)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pretrain", "--train", "x.csv", "--preset", "micro", "--class-weights", "balanced"}, "pretrain: unknown flag --class-weights"},
		{[]string{"pretrain", "--train", "x.csv", "--preset", "micro", "--mlm-probability", "1.5"}, "pretrain: --mlm-probability 1.5"},
		{[]string{"pretrain", "--train", "x.csv"}, "pretrain: give exactly one of --model DIR"},
		{[]string{"--nproc", "2", "pretrain", "--train", "x.csv", "--preset", "micro", "--metric-for-best", "macro_f1"}, "pretrain: --metric-for-best"},
	} {
		if _, _, err := run(t, tc.args...); ExitCode(err) != 2 || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: exit %d, %v; want exit 2 and a message starting %q", tc.args, ExitCode(err), err, tc.want)
		}
	}
}

// `ddprun --nproc 2 pretrain` under the launcher (ranks re-executed, the
// ring between them), then `ddprun train --model` on its output.
func TestPretrain_TwoRanksThenTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two training jobs")
	}
	t.Setenv(envTestMain, "1")
	dir := t.TempDir()
	data := testbin.TrainCSV(t, dir)
	pre := filepath.Join(dir, "pre")
	out, errOut, err := run(t, "--nproc", "2", "pretrain", "--train", data, "--preset", "micro", "--batch-size", "4",
		"--max-length", "16", "--max-steps", "3", "--threads", "1", "--output", pre, "--no-report")
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, errOut)
	}
	if !strings.Contains(out, "pretrained 3 steps") || !strings.Contains(out, "on 2 rank(s)") {
		t.Errorf("pretrain's result:\n%s", out)
	}
	var cfg struct {
		Architectures []string `json:"architectures"`
	}
	b, err := os.ReadFile(filepath.Join(pre, "config.json"))
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil || len(cfg.Architectures) != 1 || cfg.Architectures[0] != "BertForMaskedLM" {
		t.Errorf("config.json: %v, %s", err, b)
	}
	cls := filepath.Join(dir, "cls")
	out, errOut, err = run(t, "train", "--train", data, "--model", pre, "--batch-size", "8", "--max-length", "16",
		"--max-steps", "2", "--threads", "1", "--output", cls, "--no-report", "--baseline", "none")
	if err != nil {
		t.Fatalf("train --model %s: %v\nstderr:\n%s", pre, err, errOut)
	}
	if !strings.Contains(errOut, "newly initialised") || !strings.Contains(errOut, "classifier.weight") || !strings.Contains(errOut, "cls.predictions.bias") {
		t.Errorf("train --model <pretrain output> does not report the classifier initialised and the MLM head ignored:\n%s", errOut)
	}
}
