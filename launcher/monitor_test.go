package launcher

import (
	"strings"
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
