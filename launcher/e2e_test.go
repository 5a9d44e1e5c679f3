package launcher_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ddprun/ddprun/internal/testbin"
)

// The end-to-end tests run the real ddprun binary (built here with the
// gotch environment): two launchers as two nodes on loopback, two ranks
// each, training the micro preset. They are skipped with -short.

func ddprunBinary(t *testing.T) string { return testbin.Ddprun(t) }

// trainData writes a 64-row, 2-label CSV.
func trainData(t *testing.T) string { return testbin.TrainCSV(t, t.TempDir()) }

func startLauncher(t *testing.T, bin string, args ...string) *testbin.Proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DDPRUN_SECRET=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
	l, err := testbin.Start(t, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// twoNodes starts two launchers x 2 ranks on loopback; nodes is the
// --nodes value, extra are launch flags of both.
func twoNodes(t *testing.T, bin, job, out, data, nodes string, extra ...string) (a, b *testbin.Proc) {
	port := testbin.FreePort(t)
	train := []string{"train", "--train", data, "--preset", "micro", "--batch-size", "4", "--max-length", "32",
		"--threads", "1", "--eval-strategy", "no", "--no-report", "--wire", "fp32", "--max-steps", "24",
		"--save-strategy", "steps", "--save-steps", "3", "--seed", "7", "--output", out}
	common := append([]string{"--nodes", nodes, "--nproc", "2", "--bind", "127.0.0.1", "--job-id", job, "--stall-timeout", "2m"}, extra...)
	a = startLauncher(t, bin, append(append(append([]string{}, common...), "--node-name", "a", "--port", fmt.Sprint(port)), train...)...)
	b = startLauncher(t, bin, append(append(append([]string{}, common...), "--node-name", "b", "--port", "0", "--join", fmt.Sprintf("127.0.0.1:%d", port)), train...)...)
	return a, b
}

// rankPID finds the process of a rank of job through /proc.
func rankPID(job string, rank int) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		vars := strings.Split(string(env), "\x00")
		if contains(vars, "DDPRUN_JOB_ID="+job) && contains(vars, fmt.Sprintf("RANK=%d", rank)) {
			return pid
		}
	}
	return 0
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// waitForCheckpoint waits until out holds a checkpoint of step >= step.
func waitForCheckpoint(t *testing.T, out string, step int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		dirs, _ := filepath.Glob(filepath.Join(out, "checkpoint-*"))
		for _, dir := range dirs {
			var s int
			if _, err := fmt.Sscanf(filepath.Base(dir), "checkpoint-%d", &s); err == nil && s >= step {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no checkpoint of step >= %d in %s after %v", step, out, d)
}

func TestE2E_TwoNodes(t *testing.T) {
	bin := ddprunBinary(t)
	data := trainData(t)
	refOut := filepath.Join(t.TempDir(), "ref")

	// An uninterrupted run is the reference.
	start := time.Now()
	a, b := twoNodes(t, bin, "e2e-ref", refOut, data, "2")
	if ca, cb := a.Wait(t, "node a", 2*time.Minute), b.Wait(t, "node b", 30*time.Second); ca != 0 || cb != 0 {
		t.Fatalf("exit codes %d, %d", ca, cb)
	}
	t.Logf("uninterrupted 2x2 run: %v", time.Since(start))
	ents, _ := os.ReadDir(refOut)
	for _, e := range ents {
		t.Logf("reference output: %s", e.Name())
	}
	ref, err := os.ReadFile(filepath.Join(refOut, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("rank killed", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		start := time.Now()
		a, b := twoNodes(t, bin, "e2e-kill", out, data, "2", "--max-restarts", "1", "--recovery", "restart")
		waitForCheckpoint(t, out, 6, time.Minute)
		pid := rankPID("e2e-kill", 3)
		if pid == 0 {
			t.Fatal("rank 3 not found")
		}
		syscall.Kill(pid, syscall.SIGKILL)
		ca, cb := a.Wait(t, "node a", 2*time.Minute), b.Wait(t, "node b", 30*time.Second)
		t.Logf("killed and restarted run: %v", time.Since(start))
		if ca != 0 || cb != 0 {
			t.Fatalf("exit codes %d, %d", ca, cb)
		}
		for _, want := range []string{"Root cause", "rank      : 3", "signal    : SIGKILL (9)", "restarting all ranks"} {
			if !strings.Contains(b.Output(), want) {
				t.Errorf("node b's output lacks %q", want)
			}
		}
		got, err := os.ReadFile(filepath.Join(out, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, ref) {
			t.Error("final weights differ from the uninterrupted run's")
		}
	})

	// Rank 3 killed, recovered in place (the default): no rank restarts,
	// no checkpoint is read (rank 0 would log "resuming"), and the final
	// weights are the uninterrupted run's.
	t.Run("rank killed, in place", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		a, b := twoNodes(t, bin, "e2e-inplace", out, data, "2", "--max-restarts", "1")
		waitForCheckpoint(t, out, 6, time.Minute)
		pid := rankPID("e2e-inplace", 3)
		if pid == 0 {
			t.Fatal("rank 3 not found")
		}
		syscall.Kill(pid, syscall.SIGKILL)
		if ca, cb := a.Wait(t, "node a", 2*time.Minute), b.Wait(t, "node b", 30*time.Second); ca != 0 || cb != 0 {
			t.Fatalf("exit codes %d, %d", ca, cb)
		}
		if !strings.Contains(a.Output(), "recovered in place: every rank has the job's state") {
			t.Error("node a did not see every rank recover in place")
		}
		for _, p := range []*testbin.Proc{a, b} {
			if o := p.Output(); strings.Contains(o, "Root cause") || strings.Contains(o, `msg=resuming`) {
				t.Error("a restart or a checkpoint read")
			}
		}
		got, err := os.ReadFile(filepath.Join(out, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, ref) {
			t.Error("final weights differ from the uninterrupted run's")
		}
	})

	t.Run("launcher killed", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		a, b := twoNodes(t, bin, "e2e-node", out, data, "1:2", "--max-restarts", "1", "--rdzv-timeout", "3s")
		waitForCheckpoint(t, out, 6, time.Minute)
		b.Cmd.Process.Kill() // its ranks die with it (Pdeathsig)
		if ca := a.Wait(t, "node a", 2*time.Minute); ca != 0 {
			t.Fatalf("node a: exit %d", ca)
		}
		// Elastic, and recovered in place: node a's ranks go on as a ring
		// of 2 (Note [Recovery in place]).
		if !strings.Contains(a.Output(), "node b left: generation 0 continues in place without it as generation 1, world size 2") {
			t.Error("node a did not continue alone")
		}
	})
}
