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

// envTestMain makes a re-executed test binary act as ddprun: the launcher
// starts os.Executable() once per rank.
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

// doctor alone: the machine's checks as JSON; a device that cannot be had
// is a failed check and exit code 1.
func TestDoctor(t *testing.T) {
	out, errOut, err := run(t, "doctor", "--json", "--output", t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var rep doctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	got := map[string]string{}
	for _, c := range rep.Checks {
		got[c.Name] = c.Status
	}
	for name, want := range map[string]string{"libtorch": "ok", "device": "info", "output": "ok"} {
		if got[name] != want {
			t.Errorf("check %s: %q, want %q (report %+v)", name, got[name], want, rep.Checks)
		}
	}
	if got["nccl"] == "" || got["cpu"] == "" {
		t.Errorf("checks missing: %+v", rep.Checks)
	}
	_, _, err = run(t, "doctor", "--device", "cuda")
	if ExitCode(err) != 1 || !strings.Contains(err.Error(), "device") {
		t.Errorf("doctor --device cuda without CUDA: %v (exit %d), want exit 1 naming the device check", err, ExitCode(err))
	}
}

// doctor under the launcher: every rank joins the ring, agrees on the
// placement and checks and times all-reduces.
func TestDoctorJob(t *testing.T) {
	t.Setenv(envTestMain, "1")
	out, errOut, err := run(t, "--nproc", "2", "doctor", "--json", "--max-bytes", "1M", "--iters", "2")
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	ranks := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		js := line // rank 0's, unprefixed (launcher Note [Rank output])
		if _, rest, ok := strings.Cut(line, "] "); ok && strings.HasPrefix(line, "[rank ") {
			js = rest
		}
		if !strings.HasPrefix(js, "{") {
			continue
		}
		var rep doctorReport
		if err := json.Unmarshal([]byte(js), &rep); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		ranks++
		if rep.WorldSize != 2 || len(rep.Placement) != 2 || len(rep.Links) != 1 || rep.Links[0].BusBW <= 0 {
			t.Errorf("rank %d: %+v", rep.Rank, rep)
		}
		for _, c := range rep.Checks {
			if c.Status == "fail" {
				t.Errorf("rank %d: %s failed: %s", rep.Rank, c.Name, c.Detail)
			}
		}
	}
	if ranks != 2 {
		t.Fatalf("%d rank reports in:\n%s", ranks, out)
	}
}
