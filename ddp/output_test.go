package ddp

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An output folder the recorder cannot write into (here metrics.jsonl is
// a folder) is a clear error naming the file on every rank, not a panic
// in the deferred clean-up (a nil *fileRecorder once hid the cause).
func TestUnwritableOutputIsAClearError(t *testing.T) {
	model, data := tinyModelDir(t, 0), t.TempDir()
	cfg := testTrainConfig(t, model, data, "")
	cfg.Test, cfg.NoReport = "", true
	blocked := func(t *testing.T) string {
		out := t.TempDir()
		if err := os.Mkdir(filepath.Join(out, metricsFile), 0o755); err != nil {
			t.Fatal(err)
		}
		return out
	}
	check := func(t *testing.T, who string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), metricsFile) || strings.Contains(err.Error(), "panic") {
			t.Errorf("%s: got %v, want an error naming %s", who, err, metricsFile)
		}
	}
	t.Run("ranks=1", func(t *testing.T) {
		c := cfg
		c.Output = blocked(t)
		_, err := Train(t.Context(), c, Env{})
		check(t, "rank 0", err)
	})
	t.Run("ranks=2", func(t *testing.T) {
		_, errs := trainRanks(t, cfg, []string{blocked(t), t.TempDir()}, 0, fp32Ring)
		for r, err := range errs {
			check(t, fmt.Sprint("rank ", r), err)
		}
	})
}
