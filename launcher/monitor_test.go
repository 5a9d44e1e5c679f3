package launcher

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ddprun/ddprun/internal/control"
)

func TestMonitor_Straggler(t *testing.T) {
	m := newMonitor()
	m.reset(World{Gen: 1, Nodes: []WorldNode{{Name: "a", Slots: 2}, {Name: "b", FirstRank: 2, Slots: 2}}, Peers: make([]string, 4)})
	t0 := time.Unix(1000, 0)
	var lines []string
	for step := 1; step <= 10; step++ {
		for r := range 4 {
			h := control.Heartbeat{Rank: r, Step: step, Phase: control.PhaseCompute, Compute: 40 * time.Millisecond,
				AllReduce: 30 * time.Millisecond, Loss: 0.5, SamplesPerSec: 100, AllReduceMB: float64(step)}
			if r == 2 {
				h.Compute, h.AllReduce = 80*time.Millisecond, 2*time.Millisecond
			}
			m.observe(h, t0.Add(time.Duration(step)*time.Second))
		}
		lines = append(lines, m.stragglers(t0.Add(time.Duration(step)*time.Minute))...)
	}
	if len(lines) == 0 || !strings.Contains(lines[0], "straggler: rank 2 (node b)") || !strings.Contains(lines[0], "mostly compute") {
		t.Errorf("straggler lines: %q", lines)
	}
	if m.stalled(t0.Add(11*time.Second), time.Minute) || !m.stalled(t0.Add(2*time.Minute), time.Minute) {
		t.Error("stall detection")
	}
}

// TestMetricsListenAddr: a bare port listens on the bind address, never
// on every interface; an explicit host is kept.
func TestMetricsListenAddr(t *testing.T) {
	for _, tc := range []struct{ addr, bind, want string }{
		{":9400", "10.1.2.3", "10.1.2.3:9400"},
		{":0", "127.0.0.1", "127.0.0.1:0"},
		{":9400", "fd00::7", "[fd00::7]:9400"},
		{"0.0.0.0:9400", "10.1.2.3", "0.0.0.0:9400"},
		{"[::]:9400", "10.1.2.3", "[::]:9400"},
		{"localhost:9400", "10.1.2.3", "localhost:9400"},
		{"9400", "10.1.2.3", "9400"}, // net.Listen says what is wrong
	} {
		if got := metricsListenAddr(tc.addr, tc.bind); got != tc.want {
			t.Errorf("metricsListenAddr(%q, %q) = %q, want %q", tc.addr, tc.bind, got, tc.want)
		}
	}
}

// TestMonitor_StallReportBehind: the ranks behind are those that got less
// far (progressKey): at the same step, a rank still computing is behind
// ranks waiting in the all-reduce; the heartbeat after a step is ahead of
// the step before; equal positions name nobody; local process notes are
// printed on their rank's line.
func TestMonitor_StallReportBehind(t *testing.T) {
	hb := func(rank, step int, phase control.Phase, bucket int) control.Heartbeat {
		return control.Heartbeat{Rank: rank, Step: step, Phase: phase, Bucket: bucket}
	}
	for _, tc := range []struct {
		name  string
		hbs   []control.Heartbeat
		local map[int]string
		want  []string
	}{
		{"computing while the others reduce", []control.Heartbeat{
			hb(0, 3, control.PhaseAllReduce, 0), hb(1, 3, control.PhaseCompute, -1), hb(2, 3, control.PhaseAllReduce, 0)},
			nil, []string{"ranks behind: 1 (the others wait for them)"}},
		{"waiting for data while the others reduce", []control.Heartbeat{
			hb(0, 5, control.PhaseData, -1), hb(1, 5, control.PhaseAllReduce, 1), hb(2, 5, control.PhaseAllReduce, 1)},
			nil, []string{"ranks behind: 0 (the others wait for them)"}},
		{"an earlier bucket", []control.Heartbeat{
			hb(0, 5, control.PhaseAllReduce, 2), hb(1, 5, control.PhaseAllReduce, 1), hb(2, 5, control.PhaseAllReduce, 2)},
			nil, []string{"ranks behind: 1 (the others"}},
		{"a step behind", []control.Heartbeat{
			hb(0, 6, control.PhaseCompute, -1), hb(1, 5, control.PhaseAllReduce, 3), hb(2, 6, control.PhaseData, -1)},
			nil, []string{"ranks behind: 1 (the others"}},
		{"all at step 0", []control.Heartbeat{
			hb(0, 0, control.PhaseCompute, -1), hb(1, 0, control.PhaseCompute, -1), hb(2, 0, control.PhaseCompute, -1)},
			nil, []string{"no rank is behind"}},
		{"frozen inside the all-reduce", []control.Heartbeat{
			hb(0, 4, control.PhaseAllReduce, 0), hb(1, 4, control.PhaseAllReduce, 0), hb(2, 4, control.PhaseAllReduce, 0)},
			map[int]string{1: "its process is stopped"},
			[]string{"no rank is behind", "rank 1 (node a): step 4, phase allreduce, bucket 0, collective #0, last heartbeat 1m0s ago; its process is stopped\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMonitor()
			m.reset(World{Nodes: []WorldNode{{Name: "a", Slots: 3}}, Peers: make([]string, 3)})
			t0 := time.Unix(1000, 0)
			for _, h := range tc.hbs {
				m.observe(h, t0)
			}
			var b strings.Builder
			m.writeStallReport(&b, t0.Add(time.Minute), time.Minute, tc.local)
			for _, want := range tc.want {
				if !strings.Contains(b.String(), want) {
					t.Errorf("the report lacks %q:\n%s", want, b.String())
				}
			}
		})
	}
}

// TestProcessState: the state letter of a running, then a stopped child.
func TestProcessState(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if s := processState(cmd.Process.Pid); s != "S" && s != "R" {
		t.Errorf("a sleeping child: state %q", s)
	}
	cmd.Process.Signal(syscall.SIGSTOP)
	for deadline := time.Now().Add(5 * time.Second); processState(cmd.Process.Pid) != "T" && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if s := processState(cmd.Process.Pid); s != "T" {
		t.Errorf("a stopped child: state %q, want T", s)
	}
	if s := processState(1 << 30); s != "" {
		t.Errorf("no such process: %q", s)
	}
}
