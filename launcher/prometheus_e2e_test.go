package launcher_test

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ddprun/ddprun/internal/testbin"
)

// TestE2E_Prometheus scrapes a real 2-rank job with Debian's Prometheus
// server (package prometheus, 2.42; scripts/setup.sh installs it) every
// second, stops the job once a few scrapes hold data, and asks
// Prometheus' query API what an operator would: is it progressing, how
// large is the world, how long do steps take. Rank 0's step-time
// histogram must hold exactly the steps its metrics.jsonl logged.
func TestE2E_Prometheus(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("no prometheus binary (Debian package prometheus; scripts/setup.sh installs it): skipping the scrape test")
	}
	bin := ddprunBinary(t)
	data, out := trainData(t), filepath.Join(t.TempDir(), "out")
	const job = "prom-e2e"
	metricsPort := testbin.FreePort(t)
	prom := startPrometheus(t, promBin, metricsPort)

	began := time.Now()
	l := startLauncher(t, bin, "--nproc", "2", "--bind", "127.0.0.1", "--job-id", job, "--metrics-addr", fmt.Sprintf(":%d", metricsPort),
		"train", "--train", data, "--preset", "micro", "--batch-size", "4", "--max-length", "32", "--threads", "1",
		"--eval-strategy", "no", "--no-report", "--baseline", "none", "--max-steps", "100000", "--log-every", "1",
		"--save-steps", "20", "--save-total-limit", "1", "--seed", "7", "--output", out)
	// Enough scrapes for a rate, and a checkpoint, then stop (a clean
	// stop: exit 3); a fixed --max-steps would take 2 s here and minutes
	// on a slow machine.
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := prom.scalar(t, `count_over_time(ddprun_samples_total{job="`+job+`",rank="0"}[1m])`, time.Now())
		c := prom.scalar(t, `ddprun_checkpoint_write_duration_seconds_count{job="`+job+`",rank="0"}`, time.Now())
		if n >= 5 && c >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s Prometheus holds %v scrapes of ddprun_samples_total and %v checkpoints; launcher:\n%s", n, c, l.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	l.Cmd.Process.Signal(syscall.SIGTERM)
	if code := l.Wait(t, "launcher", 30*time.Second); code != 3 {
		t.Fatalf("launcher exit %d after SIGTERM, want 3 (stopped cleanly)", code)
	}

	// The target is gone and its series stale: query at its last scrape.
	last := prom.rangeMax(t, `timestamp(ddprun_step_duration_seconds_count{job="`+job+`",rank="0"})`, began, time.Now())
	at := time.UnixMilli(int64(last * 1000))
	if rate := prom.rangeMax(t, `sum(rate(ddprun_samples_total{job="`+job+`"}[30s]))`, began, at); !(rate > 0) {
		t.Errorf("sum(rate(ddprun_samples_total[30s])) never above 0: max %v", rate)
	}
	for q, want := range map[string]float64{
		`max(ddprun_world_size{job="` + job + `"})`:      2,
		`max(ddprun_generation{job="` + job + `"})`:      0,
		`sum(ddprun_restarts_total{job="` + job + `"})`:  0,
		`count(ddprun_step{job="` + job + `"})`:          2, // both ranks
		`count(ddprun_learning_rate{job="` + job + `"})`: 2,
	} {
		if got := prom.scalar(t, q, at); got != want {
			t.Errorf("%s = %v, want %v", q, got, want)
		}
	}
	if ar := prom.scalar(t, `histogram_quantile(0.9, sum by (le) (ddprun_allreduce_duration_seconds_bucket{job="`+job+`",rank="1"}))`, at); !(ar > 0 && ar < 10) {
		t.Errorf("rank 1's all-reduce p90 %v s", ar)
	}

	// Rank 0's histogram against its metrics.jsonl: each bucket holds the
	// logged steps up to the scrape (every step, once), and the median
	// Prometheus estimates is the one those counts give.
	count := prom.scalar(t, `ddprun_step_duration_seconds_count{job="`+job+`",rank="0"}`, at)
	steps := stepTimes(t, filepath.Join(out, "metrics.jsonl"))
	if count < 3 || int(count) > len(steps) {
		t.Fatalf("%v steps in the histogram, %d in metrics.jsonl", count, len(steps))
	}
	steps = steps[:int(count)]
	buckets := prom.vector(t, `ddprun_step_duration_seconds_bucket{job="`+job+`",rank="0"}`, at, "le")
	var cum []bucket
	for le, got := range buckets {
		ub, err := strconv.ParseFloat(le, 64)
		if err != nil {
			t.Fatalf("le %q: %v", le, err)
		}
		want := 0
		for _, s := range steps {
			if s <= ub {
				want++
			}
		}
		if got != float64(want) {
			t.Errorf("bucket le=%s holds %v steps, metrics.jsonl %d", le, got, want)
		}
		cum = append(cum, bucket{ub, float64(want)})
	}
	median := prom.scalar(t, `histogram_quantile(0.5, ddprun_step_duration_seconds_bucket{job="`+job+`",rank="0"})`, at)
	lo, hi := slices.Min(steps), slices.Max(steps)
	if want := bucketQuantile(0.5, cum); math.Abs(median-want) > 1e-9 || median < lo/2 || median > 2*hi {
		t.Errorf("step time median %v s, want %v from metrics.jsonl (steps took %v to %v s)", median, want, lo, hi)
	}
	t.Logf("%d steps scraped; step time median %.4f s (measured %.4f to %.4f s)", len(steps), median, lo, hi)
}

// promServer is a Prometheus server's query API.
type promServer struct{ url string }

// startPrometheus starts Prometheus on loopback, scraping
// 127.0.0.1:metricsPort every second with honor_labels (the job label is
// ddprun's, as with the PodMonitor), and waits until it is ready.
func startPrometheus(t *testing.T, bin string, metricsPort int) promServer {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: ddprun
    honor_labels: true
    static_configs: [{targets: ['127.0.0.1:%d']}]
`, metricsPort)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t))
	p, err := testbin.Start(t, exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // before TempDir's cleanup removes its data
		p.Cmd.Process.Kill()
		p.Wait(t, "prometheus", 10*time.Second)
	})
	s := promServer{url: "http://" + addr}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(s.url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 15 s:\n%s", p.Output())
		}
	}
}

// sample is one [timestamp, "value"] of the query API.
type sample [2]any

func (s sample) value() float64 {
	v, _ := strconv.ParseFloat(fmt.Sprint(s[1]), 64)
	return v
}

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  sample            `json:"value"`
	Values []sample          `json:"values"`
}

func (s promServer) get(t *testing.T, path string, q url.Values) []promSeries {
	t.Helper()
	resp, err := http.Get(s.url + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSeries `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		t.Fatalf("%s %v: %v %s", path, q, err, r.Error)
	}
	return r.Data.Result
}

func promTime(at time.Time) string {
	return strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)
}

// vector evaluates query at at: label's value -> sample value.
func (s promServer) vector(t *testing.T, query string, at time.Time, label string) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	for _, r := range s.get(t, "/api/v1/query", url.Values{"query": {query}, "time": {promTime(at)}}) {
		m[r.Metric[label]] = r.Value.value()
	}
	return m
}

// scalar evaluates a query of one series at at; NaN if it has none.
func (s promServer) scalar(t *testing.T, query string, at time.Time) float64 {
	t.Helper()
	m := s.vector(t, query, at, "")
	if len(m) != 1 {
		return math.NaN()
	}
	return m[""]
}

// rangeMax is the largest value of query from start to end, every
// second; NaN if it has none.
func (s promServer) rangeMax(t *testing.T, query string, start, end time.Time) float64 {
	t.Helper()
	best := math.NaN()
	for _, r := range s.get(t, "/api/v1/query_range", url.Values{"query": {query}, "start": {promTime(start)}, "end": {promTime(end)}, "step": {"1"}}) {
		for _, v := range r.Values {
			if math.IsNaN(best) || v.value() > best {
				best = v.value()
			}
		}
	}
	return best
}

// stepTimes reads rank 0's per-step time from metrics.jsonl: what the
// step heartbeat reports, data wait + forward/backward + all-reduce +
// optimizer, in step order.
func stepTimes(t *testing.T, path string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		f := func(k string) float64 { v, _ := e[k].(float64); return v }
		if e["kind"] != "train" {
			continue
		}
		if step := int(f("step")); step != len(steps)+1 {
			t.Fatalf("metrics.jsonl: step %d after %d", step, len(steps))
		}
		steps = append(steps, f("data_wait_s")+f("compute_s")+f("allreduce_s")+f("optimizer_s"))
	}
	return steps
}

type bucket struct{ upper, count float64 }

// bucketQuantile is Prometheus' histogram_quantile over cumulative
// classic buckets (promql/quantile.go): linear interpolation within the
// bucket holding the rank, the first bucket starting at 0.
func bucketQuantile(q float64, b []bucket) float64 {
	slices.SortFunc(b, func(x, y bucket) int { return cmp.Compare(x.upper, y.upper) })
	if len(b) < 2 || !math.IsInf(b[len(b)-1].upper, 1) || b[len(b)-1].count == 0 {
		return math.NaN()
	}
	rank := q * b[len(b)-1].count
	i := 0
	for i < len(b)-1 && b[i].count < rank {
		i++
	}
	if i == len(b)-1 {
		return b[len(b)-2].upper
	}
	start, count := 0.0, b[i].count
	if i > 0 {
		start, count, rank = b[i-1].upper, count-b[i-1].count, rank-b[i-1].count
	}
	return start + (b[i].upper-start)*rank/count
}
