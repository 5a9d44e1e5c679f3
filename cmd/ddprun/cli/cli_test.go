package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
)

// envTestMain makes a re-executed test binary act as ddprun (see Note
// [Local launch]: launchLocal re-executes os.Executable).
const envTestMain = "DDPRUN_CLI_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envTestMain) == "1" {
		var stdout, stderr = os.Stdout, os.Stderr
		if err := Run(context.Background(), os.Args[1:], stdout, stderr); err != nil {
			stderr.WriteString(err.Error() + "\n")
			os.Exit(ExitCode(err))
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := Run(t.Context(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestRun_Help(t *testing.T) {
	out, _, err := run(t, "--help")
	if err != nil || !strings.Contains(out, "bench") {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	if _, _, err := run(t, "nonsense"); ExitCode(err) != 2 {
		t.Errorf("unknown command: got %v, want a usage error", err)
	}
	if _, _, err := run(t, "bench", "allreduce", "--wire", "int8"); !errors.Is(err, ErrUsage) {
		t.Errorf("bad --wire: got %v, want a usage error", err)
	}
}

func TestBenchAllReduce(t *testing.T) {
	t.Setenv(envTestMain, "1")
	out, errOut, err := run(t, "bench", "allreduce", "--nproc", "3", "--min-bytes", "4", "--max-bytes", "64K",
		"--iters", "2", "--warmup", "1", "--json", "--wire", "both", "--op", "avg")
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2*15 {
		t.Fatalf("got %d rows, want 30:\n%s", len(lines), out)
	}
	for _, line := range lines {
		var row benchRow
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("row %q: %v", line, err)
		}
		if row.Wrong != 0 || row.Ranks != 3 || row.Count*4 != int(row.Size) || row.BusBW <= 0 {
			t.Errorf("bad row %+v", row)
		}
	}
}

// bench step: a micro model's steps on both optimizer implementations,
// JSON with a positive throughput and the device; bad input is a usage
// error, and CUDA on a CPU-only libtorch a clear one.
func TestBenchStep(t *testing.T) {
	for _, impl := range []string{"host", "flat"} {
		out, errOut, err := run(t, "bench", "step", "--preset", "micro", "--batch-size", "2", "--max-length", "16",
			"--steps", "2", "--warmup", "1", "--optimizer-impl", impl, "--json")
		if err != nil {
			t.Fatalf("%s: %v\nstderr:\n%s", impl, err, errOut)
		}
		var row struct {
			Rate   float64 `json:"samples_per_sec"`
			Impl   string  `json:"optimizer_impl"`
			Device string  `json:"device"`
		}
		if err := json.Unmarshal([]byte(out), &row); err != nil {
			t.Fatalf("%s: %q: %v", impl, out, err)
		}
		if row.Rate <= 0 || row.Impl != impl || row.Device != "cpu" {
			t.Errorf("%s: %+v", impl, row)
		}
	}
	if _, _, err := run(t, "bench", "step", "--optimizer-impl", "gpu"); !errors.Is(err, ErrUsage) {
		t.Errorf("bad --optimizer-impl: %v, want a usage error", err)
	}
	if _, _, err := run(t, "bench", "step", "--preset", "huge"); !errors.Is(err, ErrUsage) {
		t.Errorf("bad --preset: %v, want a usage error", err)
	}
	_, _, err := run(t, "bench", "step", "--preset", "micro", "--device", "cuda")
	if err == nil || !strings.Contains(err.Error(), "no CUDA device") {
		t.Errorf("--device cuda without CUDA: %v", err)
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "4K": 4096, "256M": 256 << 20, "1G": 1 << 30, "2kb": 2048} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	var b byteSize
	if err := b.Set("12Q"); err == nil {
		t.Error("Set(12Q) succeeded")
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var f allReduceFlags
	f.Register(fs)
	if err := fs.Parse([]string{"--max-bytes", "1M", "--nproc", "8"}); err != nil || f.maxBytes != 1<<20 || f.nproc != 8 {
		t.Errorf("parsed %+v, %v", f, err)
	}
}
