package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/ddp"
	"github.com/ddprun/ddprun/internal/rankenv"
	"github.com/ddprun/ddprun/internal/testbin"
)

func microTrain(t *testing.T, out string, extra ...string) (string, error) {
	t.Helper()
	args := append([]string{"train", "--train", testbin.TrainCSV(t, t.TempDir()), "--preset", "micro", "--batch-size", "4",
		"--max-length", "32", "--threads", "1", "--eval-strategy", "no", "--no-report", "--max-steps", "2", "--output", out}, extra...)
	_, errOut, err := run(t, args...)
	return errOut, err
}

// A run leaves training_args.json in --output: every flag's final value
// under its own name (an alias's value under the flag's), and the ddprun
// that ran.
func TestTrain_SavesTrainingArgs(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run") // train creates it
	if errOut, err := microTrain(t, out, "--learning-rate", "0.00025", "--collective-timeout", "90s"); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	b, err := os.ReadFile(filepath.Join(out, trainingArgsFile))
	if err != nil {
		t.Fatal(err)
	}
	var got trainingArgs
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	var cfg ddp.Config
	fs := trainFlags(&cfg)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		if aliasOf(fs, f) == "" {
			n++
		}
	})
	a := got.Args
	if len(a) != n || a["lr"] != 0.00025 || a["max-steps"] != 2.0 || a["preset"] != "micro" || a["no-report"] != true ||
		a["collective-timeout"] != "1m30s" || a["output"] != out || a["learning-rate"] != nil || a["weight-decay"] != 0.0 {
		t.Errorf("%d args (want %d): %v", len(a), n, a)
	}
	if got.Ddprun.Go != runtime.Version() || got.Ddprun.Version == "" || got.WorldSize != 1 {
		t.Errorf("ddprun %+v, world size %d", got.Ddprun, got.WorldSize)
	}
}

// A run that ddp refuses, because the output holds another run, leaves
// that run's training_args.json as it was.
func TestTrain_RefusedRunKeepsTrainingArgs(t *testing.T) {
	out := t.TempDir()
	old := []byte(`{"args": {"lr": 0.1}}`)
	for name, data := range map[string][]byte{trainingArgsFile: old, "metrics.jsonl": nil} {
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := microTrain(t, out, "--resume", "no"); !errors.Is(err, ddp.ErrOutputInUse) {
		t.Fatalf("%v, want ddp.ErrOutputInUse", err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, trainingArgsFile)); string(b) != string(old) {
		t.Errorf("the earlier run's %s was replaced:\n%s", trainingArgsFile, b)
	}
}

// Only rank 0 writes.
func TestSaveTrainingArgs_RankZeroOnly(t *testing.T) {
	var cfg ddp.Config
	if saveTrainingArgs(rankenv.Identity{Rank: 1, WorldSize: 2}, trainFlags(&cfg), t.TempDir(), nil) != nil {
		t.Error("rank 1 got a hook")
	}
	out := filepath.Join(t.TempDir(), "a", "b")
	hook := saveTrainingArgs(rankenv.Identity{Rank: 0, WorldSize: 2}, trainFlags(&cfg), out, nil)
	hook(1)
	var got trainingArgs
	b, err := os.ReadFile(filepath.Join(out, trainingArgsFile))
	if err != nil || json.Unmarshal(b, &got) != nil || got.WorldSize != 2 {
		t.Errorf("%s, %v", b, err)
	}
}

// predict and eval apply a model as it was trained: the --max-length and
// --precision of its training_args.json, unless given.
func TestPredict_TrainedDefaults(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if errOut, err := microTrain(t, out, "--precision", "bf16"); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	data := testbin.TrainCSV(t, t.TempDir())
	_, errOut, err := run(t, "predict", "--model", out, "--data", data, "--threads", "1", "--output", filepath.Join(t.TempDir(), "p.csv"))
	if err != nil || !strings.Contains(errOut, "predict: as the model was trained: --max-length 32, --precision bf16") {
		t.Errorf("predict: %v\n%s", err, errOut)
	}
	_, errOut, err = run(t, "eval", "--model", out, "--data", data, "--threads", "1", "--max-length", "24")
	if err != nil || !strings.Contains(errOut, "eval: as the model was trained: --precision bf16") || strings.Contains(errOut, "max-length 32") {
		t.Errorf("eval with --max-length 24: %v\n%s", err, errOut)
	}
}
