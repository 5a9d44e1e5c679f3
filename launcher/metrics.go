package launcher

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ddprun/ddprun/internal/control"
)

// Note [Metrics]: each launcher has its own Prometheus registry (never
// the global one: tests run several launchers in one process) whose
// series all carry job and node labels, plus rank on the per-rank ones.
//
// A launcher exports the ranks it runs, not every rank it hears: the
// heartbeats of the whole job reach every launcher, but Prometheus
// scrapes every launcher (the PodMonitor selects every pod), and a rank
// exported by each node would count once per node in every sum. The
// job-wide gauges (world size, generation) and the restarts counter have
// the same value on every launcher: aggregate them with max.
//
// Heartbeats repeat a step (a rank heartbeats on every phase change with
// the step it is at), so the histograms observe a step once per rank: on
// the heartbeat sent after the step (StepTime > 0) whose step is above
// the last one observed. Counters follow the rank's cumulative totals
// (Heartbeat.Samples, AllReduceMB), so a dropped heartbeat loses nothing.
// A new generation starts new rank processes, whose totals start from
// zero, and redoes the steps after its checkpoint: the cursors are
// forgotten and those steps are observed again (they ran again).
//
// Lock order: monitor.mu -> metrics.mu.

// durationBuckets are the histograms' upper bounds: 1 ms to 17 min,
// doubling. A micro model's step on a CPU takes milliseconds; a large
// model's checkpoint on a network volume, minutes.
var durationBuckets = prometheus.ExponentialBuckets(0.001, 2, 21)

// metrics is a launcher's Prometheus registry and what it needs to fill
// it from heartbeats; safe for concurrent use.
type metrics struct {
	reg  *prometheus.Registry
	wrap prometheus.Registerer // adds the job and node labels
	node string

	stepTime, allReduce, dataWait, checkpoint *prometheus.HistogramVec
	samples, wireBytes                        *prometheus.CounterVec
	step, loss, lr, heartbeat                 *prometheus.GaugeVec
	restarts, recoveries                      prometheus.Counter
	worldSize, generation                     prometheus.Gauge

	mu    sync.Mutex
	gen   int
	since time.Time           // when the generation started
	ranks map[int]*rankCursor // this node's ranks in the current generation
}

// rankCursor is how far a rank's series have been filled.
type rankCursor struct {
	step, checkpoint int     // last step observed in the histograms, last checkpoint
	samples          int64   // the rank's Heartbeat.Samples so far
	wireMB           float64 // and its AllReduceMB
}

func newRankCursor() *rankCursor { return &rankCursor{step: -1, checkpoint: -1} }

// newMetrics returns the registry of the launcher of node in job, with
// the process and Go collectors.
func newMetrics(job, node string) *metrics {
	reg := prometheus.NewRegistry()
	x := &metrics{reg: reg, wrap: prometheus.WrapRegistererWith(prometheus.Labels{"job": job, "node": node}, reg),
		node: node, ranks: map[int]*rankCursor{}}
	x.wrap.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	x.stepTime = x.histogram("ddprun_step_duration_seconds",
		"Time of each optimizer step: data wait, forward and backward, all-reduce and optimizer (the *_s fields of metrics.jsonl added up; evaluation and checkpoints excluded).")
	x.allReduce = x.histogram("ddprun_allreduce_duration_seconds",
		"Time of each step's gradient all-reduce, after the backward pass (the part that did not overlap with it).")
	x.dataWait = x.histogram("ddprun_data_wait_seconds",
		"Time each step waited for its batches.")
	x.checkpoint = x.histogram("ddprun_checkpoint_write_duration_seconds",
		"Time rank 0 took to write each checkpoint (weights, optimizer state, tokenizer); other ranks write none.")
	x.samples = x.counter("ddprun_samples_total", "Training rows the rank has trained on (sum over ranks for the job's throughput).")
	x.wireBytes = x.counter("ddprun_allreduce_bytes_total",
		"Gradient bytes the rank sent in all-reduces (estimated for the ring backend: 2(n-1)/n of each bucket).")
	x.step = x.gauge("ddprun_step", "Optimizer step the rank is at (steps done).")
	x.loss = x.gauge("ddprun_loss", "Training loss of the last step (the global batch's: the mean over ranks).")
	x.lr = x.gauge("ddprun_learning_rate", "Learning rate of the last step.")
	x.heartbeat = x.gauge("ddprun_heartbeat_timestamp_seconds", "Unix time the launcher received the rank's last heartbeat.")
	x.restarts = prometheus.NewCounter(prometheus.CounterOpts{Name: "ddprun_restarts_total",
		Help: "Times the job restarted every rank from its last checkpoint (the generation number)."})
	x.recoveries = prometheus.NewCounter(prometheus.CounterOpts{Name: "ddprun_recoveries_total",
		Help: "Failures recovered in place: the lost ranks replaced, the others keeping their state (generations that continued the previous one)."})
	x.worldSize = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ddprun_world_size", Help: "Ranks in the job's current generation."})
	x.generation = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ddprun_generation", Help: "The job's current generation (0, then one more per restart)."})
	x.wrap.MustRegister(x.restarts, x.recoveries, x.worldSize, x.generation)
	return x
}

func (x *metrics) histogram(name, help string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: durationBuckets}, []string{"rank"})
	x.wrap.MustRegister(h)
	return h
}

func (x *metrics) counter(name, help string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"rank"})
	x.wrap.MustRegister(c)
	return c
}

func (x *metrics) gauge(name, help string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"rank"})
	x.wrap.MustRegister(g)
	return g
}

// reset starts exporting generation w, started at now: its size and
// number, and this node's ranks in it. The series of ranks this node no
// longer runs are deleted (an elastic restart renumbers ranks), so that
// no stale step gauge looks like a rank that stopped progressing.
func (x *metrics) reset(w World, now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case w.Gen > x.gen && w.InPlace:
		x.recoveries.Add(float64(w.Gen - x.gen))
	case w.Gen > x.gen:
		x.restarts.Add(float64(w.Gen - x.gen))
	}
	x.gen, x.since = w.Gen, now
	x.generation.Set(float64(w.Gen))
	x.worldSize.Set(float64(w.Size()))
	old := x.ranks
	x.ranks = map[int]*rankCursor{}
	if me, i := w.Node(x.node); i >= 0 {
		for r := me.FirstRank; r < me.FirstRank+me.Slots; r++ {
			x.ranks[r] = newRankCursor()
		}
	}
	for r := range old {
		if _, ok := x.ranks[r]; !ok {
			x.forget(r)
		}
	}
}

func (x *metrics) forget(rank int) {
	l := prometheus.Labels{"rank": strconv.Itoa(rank)}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		x.stepTime, x.allReduce, x.dataWait, x.checkpoint, x.samples, x.wireBytes, x.step, x.loss, x.lr, x.heartbeat,
	} {
		v.DeletePartialMatch(l)
	}
}

// observe records a heartbeat of one of this node's ranks received at
// now; See Note [Metrics] for which heartbeats fill which series.
func (x *metrics) observe(h control.Heartbeat, now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	c, ok := x.ranks[h.Rank]
	if !ok || h.Time.Before(x.since) {
		// Another node's rank, or a late heartbeat of the last
		// generation's process, whose totals the cursor no longer holds.
		// The ranks exported are this machine's: their clock is ours.
		return
	}
	rank := strconv.Itoa(h.Rank)
	x.step.WithLabelValues(rank).Set(float64(h.Step))
	x.heartbeat.WithLabelValues(rank).Set(float64(now.UnixNano()) / 1e9)
	if h.Samples > c.samples {
		x.samples.WithLabelValues(rank).Add(float64(h.Samples - c.samples))
		c.samples = h.Samples
	}
	if h.AllReduceMB > c.wireMB {
		x.wireBytes.WithLabelValues(rank).Add((h.AllReduceMB - c.wireMB) * 1e6)
		c.wireMB = h.AllReduceMB
	}
	if h.StepTime > 0 && h.Step > c.step {
		c.step = h.Step
		x.stepTime.WithLabelValues(rank).Observe(h.StepTime.Seconds())
		x.allReduce.WithLabelValues(rank).Observe(h.AllReduce.Seconds())
		x.dataWait.WithLabelValues(rank).Observe(h.StepDataWait.Seconds())
		x.loss.WithLabelValues(rank).Set(h.Loss)
		x.lr.WithLabelValues(rank).Set(h.LR)
	}
	if h.CheckpointWrite > 0 && h.Step > c.checkpoint {
		c.checkpoint = h.Step
		x.checkpoint.WithLabelValues(rank).Observe(h.CheckpointWrite.Seconds())
	}
}
