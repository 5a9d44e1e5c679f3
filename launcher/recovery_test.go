package launcher_test

import (
	"strings"
	"testing"

	"github.com/ddprun/ddprun/launcher"
)

// TestRun_RecoverInPlace: rank 1 of 3 is killed; its launcher starts a
// replacement in its slot, with the same ring address, and the other
// ranks keep running into generation 1 (Note [Recovery in place]). No
// rank restarts, and the job succeeds.
func TestRun_RecoverInPlace(t *testing.T) {
	r := run(t, t.Context(), launcher.Config{NProc: 3, MaxRestarts: 1}, "FAKE_RANK=recover", "FAKE_TARGET=1")
	if r.code != launcher.ExitOK {
		t.Fatalf("exit %d, %v", r.code, r.err)
	}
	for _, want := range []string{"rank 1 replaces a lost rank in generation 1", "rank 0 continues in generation 1",
		"rank 2 continues in generation 1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	for _, want := range []string{"rank 1 (local_rank 1, node ", "failed (killed by signal SIGKILL (9)); recovering in place",
		"generation 0 continues in place as generation 1; replacing rank 1", "recovered in place: every rank has the job's state"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(r.stderr, "Root cause") || strings.Contains(r.stdout, "restart 2") || strings.Count(r.stdout, "restart 1") != 1 {
		t.Error("a summary or a restart")
	}
}

// TestRun_RecoveryFallsBack: the replacement dies too, before every rank
// is back: the coordinator gives up on the recovery in place, says so,
// and every rank restarts (generation 2) from the newest checkpoint.
func TestRun_RecoveryFallsBack(t *testing.T) {
	r := run(t, t.Context(), launcher.Config{NProc: 3, MaxRestarts: 2}, "FAKE_RANK=recover-fail", "FAKE_TARGET=1")
	if r.code != launcher.ExitOK {
		t.Fatalf("exit %d, %v", r.code, r.err)
	}
	for _, want := range []string{"the recovery in place of generation 1 failed (rank 1 (local_rank 1, node ",
		"restarting every rank from the newest verified checkpoint", "restarting all ranks from the last checkpoint"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	for rank := range 3 {
		if want := "rank " + string(rune('0'+rank)) + " of 3 restart 2"; !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q: no restart", want)
		}
	}
}
