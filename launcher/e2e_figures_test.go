package launcher_test

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ddprun/ddprun/internal/netns"
	"github.com/ddprun/ddprun/internal/testbin"
)

// TestE2EHosts_RecoveryFigures measures what a SIGKILL costs, recovered in
// place and by a restart from the newest checkpoint, on 2 test hosts x 2
// ranks (launcher/README-notes.md has the figures). It runs only with
// DDPRUN_FIGURES=N (N runs per mode, one at a time);
// DDPRUN_FIGURES_PRESET picks the preset (micro). Each run trains 200
// steps with a checkpoint every 50 and --log-every 1, kills rank 3 (host
// 1) once rank 0 has logged step 75, and reads rank 0's metrics.jsonl:
// the time from the kill to the first step logged after the recovery (or
// the resume), and the completed steps done again.
func TestE2EHosts_RecoveryFigures(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("DDPRUN_FIGURES"))
	if n == 0 {
		t.Skip("set DDPRUN_FIGURES=N to measure")
	}
	if err := netns.Check(); err != nil {
		t.Skip(err)
	}
	preset := cmp.Or(os.Getenv("DDPRUN_FIGURES_PRESET"), "micro")
	bin, data := testbin.Ddprun(t), trainData(t)
	for _, mode := range []string{"inplace", "restart"} {
		for i := range n {
			j := &hostsJob{t: t, bin: bin, net: netns.ForTest(t, netns.Config{Hosts: 2}),
				job: fmt.Sprintf("figures-%s-%d-%d", mode, i, os.Getpid()), nodes: "2", nproc: 2,
				launch: []string{"--max-restarts", "1", "--recovery", mode}}
			j.train = append(microTrain(data, "--max-steps", "200", "--save-steps", "50", "--log-every", "1"), "--preset", preset)
			out := filepath.Join(t.TempDir(), "out")
			ps := j.startAll(2, out)
			waitForStep(t, filepath.Join(out, "metrics.jsonl"), 75, 5*time.Minute)
			syscall.Kill(awaitRank(t, j.job, 0, 3, time.Minute), syscall.SIGKILL)
			killed := time.Now()
			if codes := waitAll(t, ps, 10*time.Minute); codes[0] != 0 || codes[1] != 0 {
				t.Fatalf("%s run %d: exit codes %v", mode, i, codes)
			}
			c := recoveryCost(t, filepath.Join(out, "metrics.jsonl"), killed)
			t.Logf("figures: preset %s, %s, run %d: training again %.2f s after the kill, %d completed steps lost, back at step %d after %.2f s",
				preset, mode, i, c.again.Seconds(), c.lost, c.reached, c.caughtUp.Seconds())
		}
	}
}

type logEntry struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	Step int       `json:"step"`
	Msg  string    `json:"msg"`
}

func readLog(t *testing.T, path string) []logEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var es []logEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e logEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			es = append(es, e)
		}
	}
	return es
}

// waitForStep waits until the log holds a train entry of step >= step.
func waitForStep(t *testing.T, path string, step int, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		for _, e := range readLog(t, path) {
			if e.Kind == "train" && e.Step >= step {
				return
			}
		}
	}
	t.Fatalf("no step %d in %s after %v", step, path, d)
}

// cost is what a kill cost: the time to the first step after the
// recovery, the completed steps done again, and the time until the job
// was back at the step it had reached.
type cost struct {
	again, caughtUp time.Duration
	lost, reached   int
}

// recoveryCost reads rank 0's log: the first step logged after the
// recovery (event "recovered") or the resume (event "resume"), and the
// steps logged before it.
func recoveryCost(t *testing.T, path string, killed time.Time) cost {
	t.Helper()
	es := readLog(t, path)
	back := -1
	for i, e := range es {
		if e.Kind == "event" && (e.Msg == "recovered" || e.Msg == "resume") && e.Time.After(killed) {
			back = i
			break
		}
	}
	if back < 0 {
		t.Fatalf("no recovery or resume in %s after the kill", path)
	}
	last := 0
	for _, e := range es[:back] {
		if e.Kind == "train" {
			last = max(last, e.Step)
		}
	}
	var c cost
	for _, e := range es[back:] {
		if e.Kind != "train" {
			continue
		}
		if c.again == 0 {
			c.again, c.lost, c.reached = e.Time.Sub(killed), last+1-e.Step, last
		}
		if e.Step >= last {
			c.caughtUp = e.Time.Sub(killed)
			return c
		}
	}
	t.Fatalf("no step after the recovery in %s", path)
	return c
}
