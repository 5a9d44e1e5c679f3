package launcher

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ddprun/ddprun/internal/control"
)

// series gathers x's registry: "name{rank}" -> the value of a counter or
// gauge, or a histogram's sample count; only series of x's job and node.
func series(t *testing.T, x *metrics) map[string]float64 {
	t.Helper()
	mfs, err := x.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["job"] != "j" || l["node"] != x.node {
				t.Errorf("%s: labels %v, want job j and node %s", mf.GetName(), l, x.node)
			}
			key := mf.GetName()
			if r, ok := l["rank"]; ok {
				key += "{" + r + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key] = float64(m.GetHistogram().GetSampleCount())
				out[key+"_sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// twoNodes is a world of nodes a (ranks 0, 1) and b (ranks 2, 3).
func twoNodes(gen int) World {
	return World{Gen: gen, Nodes: []WorldNode{{Name: "a", Slots: 2}, {Name: "b", FirstRank: 2, Slots: 2}}, Peers: make([]string, 4)}
}

// feed sends what a rank sends around steps from..to: phase heartbeats
// with the previous step, the step heartbeat (twice: a repeat must not
// count), and rank 0's checkpoint heartbeat every third step (twice).
func feed(m *monitor, ranks []int, from, to int, t0 time.Time) {
	for step := from; step <= to; step++ {
		now := t0.Add(time.Duration(step) * time.Second)
		for _, r := range ranks {
			for _, p := range []control.Phase{control.PhaseData, control.PhaseCompute} {
				m.observe(control.Heartbeat{Rank: r, Step: step - 1, Phase: p, Bucket: -1, Time: now}, now)
			}
			h := control.Heartbeat{Rank: r, Step: step, Phase: control.PhaseCompute, Bucket: -1, Loss: 0.5, LR: 1e-3,
				Compute: 40 * time.Millisecond, AllReduce: 20 * time.Millisecond, AllReduceMB: 2 * float64(step-from+1),
				StepTime: 70 * time.Millisecond, StepDataWait: 5 * time.Millisecond, Samples: int64(4 * (step - from + 1)), Time: now}
			m.observe(h, now)
			m.observe(h, now)
			if r == 0 && step%3 == 0 {
				c := control.Heartbeat{Rank: 0, Step: step, Phase: control.PhaseCheckpoint, Bucket: -1, CheckpointWrite: 300 * time.Millisecond, Time: now}
				m.observe(c, now)
				m.observe(c, now)
			}
		}
	}
}

// TestMetrics_Heartbeats: each step is observed once per rank however
// often it is repeated, counters follow the ranks' totals across a
// restart, only this node's ranks are exported, a restart counts, and
// ranks another node now runs disappear.
func TestMetrics_Heartbeats(t *testing.T) {
	m := newMonitor()
	x := newMetrics("j", "a")
	m.export(x)
	t0 := time.Now()
	m.reset(twoNodes(0))
	feed(m, []int{0, 1, 2, 3}, 1, 6, t0)
	got := series(t, x)
	for k, want := range map[string]float64{
		"ddprun_step_duration_seconds{0}":             6,
		"ddprun_step_duration_seconds{0}_sum":         6 * 0.07,
		"ddprun_allreduce_duration_seconds{1}":        6,
		"ddprun_data_wait_seconds{1}_sum":             6 * 0.005,
		"ddprun_checkpoint_write_duration_seconds{0}": 2,
		"ddprun_samples_total{0}":                     24,
		"ddprun_allreduce_bytes_total{1}":             12e6,
		"ddprun_step{1}":                              6,
		"ddprun_loss{0}":                              0.5,
		"ddprun_learning_rate{0}":                     1e-3,
		"ddprun_world_size":                           4,
		"ddprun_generation":                           0,
		"ddprun_restarts_total":                       0,
		"ddprun_recoveries_total":                     0,
	} {
		if v, ok := got[k]; !ok || fmt.Sprintf("%.6g", v) != fmt.Sprintf("%.6g", want) {
			t.Errorf("%s = %v (present: %v), want %v", k, v, ok, want)
		}
	}
	for k := range got {
		if strings.Contains(k, "{2}") || strings.Contains(k, "{3}") {
			t.Errorf("%s: node b's rank exported by node a", k)
		}
	}
	if _, ok := got["process_cpu_seconds_total"]; !ok {
		t.Error("no process collector")
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no Go collector")
	}

	// A restart resumes from the checkpoint of step 6 and redoes nothing;
	// the new processes count their samples from 0 again.
	late := control.Heartbeat{Rank: 0, Step: 9, StepTime: time.Second, Samples: 1000, Time: time.Now().Add(-time.Millisecond)}
	m.reset(twoNodes(1))
	m.observe(late, time.Now()) // sent by the old process before the restart, received after
	t1 := time.Now()
	feed(m, []int{0, 1}, 7, 8, t1)
	got = series(t, x)
	for k, want := range map[string]float64{
		"ddprun_step_duration_seconds{0}": 8, "ddprun_samples_total{0}": 32, "ddprun_step{0}": 8,
		"ddprun_restarts_total": 1, "ddprun_generation": 1,
	} {
		if got[k] != want {
			t.Errorf("after a restart: %s = %v, want %v", k, got[k], want)
		}
	}

	// An elastic restart where node a runs ranks 2 and 3.
	m.reset(World{Gen: 2, Nodes: []WorldNode{{Name: "b", Slots: 2}, {Name: "a", FirstRank: 2, Slots: 2}}, Peers: make([]string, 4)})
	got = series(t, x)
	for k := range got {
		if strings.Contains(k, "{0}") || strings.Contains(k, "{1}") {
			t.Errorf("%s: a rank node a no longer runs is still exported", k)
		}
	}
	if got["ddprun_restarts_total"] != 2 {
		t.Errorf("restarts %v, want 2", got["ddprun_restarts_total"])
	}
}

// TestMetrics_HTTP: /metrics speaks OpenMetrics to a client that asks
// for it (Prometheus does) and the classic text format otherwise.
func TestMetrics_HTTP(t *testing.T) {
	x := newMetrics("j", "a")
	x.reset(twoNodes(0), time.Now())
	x.observe(control.Heartbeat{Rank: 1, Step: 1, StepTime: time.Millisecond, Samples: 4, Time: time.Now()}, time.Now())
	addr, err := serveMetrics(t.Context(), "127.0.0.1:0", x)
	if err != nil {
		t.Fatal(err)
	}
	get := func(accept string) (string, string) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+addr.String()+"/metrics", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Header.Get("Content-Type"), string(b)
	}
	// What Prometheus 2.42 sends.
	ct, body := get("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	if !strings.HasPrefix(ct, "application/openmetrics-text") || !strings.HasSuffix(body, "# EOF\n") {
		t.Errorf("OpenMetrics asked for, got %q:\n%s", ct, body)
	}
	lines := strings.Split(body, "\n")
	for _, want := range []string{
		`ddprun_samples_total{job="j",node="a",rank="1"} 4.0`,
		`ddprun_step_duration_seconds_bucket{job="j",node="a",rank="1",le="0.001"} 1`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("OpenMetrics output lacks %q:\n%s", want, body)
		}
	}
	ct, body = get("")
	if !strings.HasPrefix(ct, "text/plain; version=0.0.4") || !strings.Contains(body, `ddprun_world_size{job="j",node="a"} 4`) {
		t.Errorf("text format: %q:\n%s", ct, body)
	}
}

// TestMetrics_NamesInRulesAndDashboard: every ddprun metric the shipped
// alert rules and dashboard (k8s/alerts) query is one the launcher
// exports, so that renaming a metric cannot silently empty an alert.
func TestMetrics_NamesInRulesAndDashboard(t *testing.T) {
	x := newMetrics("j", "a")
	x.reset(twoNodes(0), time.Now())
	x.observe(control.Heartbeat{Rank: 0, Step: 1, StepTime: time.Millisecond, Samples: 4, AllReduceMB: 1, CheckpointWrite: time.Millisecond, Time: time.Now()}, time.Now())
	exported := map[string]bool{}
	for k := range series(t, x) {
		name, _, _ := strings.Cut(strings.TrimSuffix(k, "_sum"), "{")
		exported[name] = true
	}
	files, _ := filepath.Glob("../k8s/alerts/*")
	if len(files) < 3 {
		t.Fatalf("k8s/alerts holds %q, want the rules, their tests and the dashboard", files)
	}
	word := regexp.MustCompile(`[a-zA-Z0-9_:]*ddprun_[a-z_]+[a-zA-Z0-9_:]*`)
	used := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range word.FindAllString(string(b), -1) {
			if strings.Contains(w, ":") {
				continue // a recording rule
			}
			name := w
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if n := strings.TrimSuffix(w, suffix); n != w && exported[n] {
					name = n
				}
			}
			if !exported[name] {
				t.Errorf("%s: %s is not a metric the launcher exports", f, w)
			}
			used++
		}
	}
	if used == 0 {
		t.Error("no ddprun metric found in k8s/alerts")
	}
}
