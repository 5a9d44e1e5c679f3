package launcher

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ddprun/ddprun/internal/control"
	"github.com/ddprun/ddprun/internal/stats"
)

// Note [Hang diagnosis]: every rank heartbeats on each phase change and
// after every step (step, phase, bucket, collective sequence number, step
// timings). The monitor keeps the latest heartbeat of every rank of the
// running generation. The job progresses while any rank's position
// (step, phase, bucket, coll_seq) changes; after StallTimeout without a
// change the launcher reports where every rank is and which are behind
// (as Horovod's stall inspector lists missing ranks: see progressKey),
// dumps goroutine stacks (SIGQUIT) and stops the job. The report also says
// which of this node's rank processes the kernel shows stopped (SIGSTOP, a
// debugger) or in uninterruptible sleep: when a rank freezes inside a
// collective, its peers wait at the same position and heartbeats cannot
// tell who is to blame, but its own node can. The clock starts with the
// first heartbeat of a generation, so rank subcommands that never
// heartbeat are never declared stalled.

// rankState is what the monitor knows about one rank.
type rankState struct {
	hb       control.Heartbeat
	received time.Time
	steps    int // step heartbeats seen (those with timings)

	// Exponentially weighted step-time components, for straggler lines.
	busy, data, compute, reduce float64 // seconds per step
	lastDataWait                time.Duration
}

// monitor tracks heartbeats; safe for concurrent use.
type monitor struct {
	mu           sync.Mutex
	gen          int
	nodes        map[int]string // rank -> node
	ranks        map[int]*rankState
	lastProgress time.Time
	stragglerAt  map[int]time.Time
	strikes      map[int]int
	world        World    // the generation watched
	exp          *metrics // nil: --metrics-addr not set
}

func newMonitor() *monitor {
	return &monitor{ranks: map[int]*rankState{}, nodes: map[int]string{}, stragglerAt: map[int]time.Time{}, strikes: map[int]int{}}
}

// reset starts watching a new generation.
func (m *monitor) reset(w World) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen, m.world = w.Gen, w
	m.ranks, m.nodes = map[int]*rankState{}, map[int]string{}
	m.lastProgress = time.Time{}
	m.strikes = map[int]int{}
	for _, n := range w.Nodes {
		for r := n.FirstRank; r < n.FirstRank+n.Slots; r++ {
			m.nodes[r] = n.Name
		}
	}
	if m.exp != nil {
		m.exp.reset(w, time.Now())
	}
}

// export feeds x from now on, starting with the generation being watched.
func (m *monitor) export(x *metrics) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.exp = x
	if len(m.world.Peers) > 0 {
		x.reset(m.world, time.Now())
	}
}

const ewma = 0.2

// observe records a heartbeat received at now.
func (m *monitor) observe(h control.Heartbeat, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.nodes[h.Rank]; !ok {
		return // not of this generation's world
	}
	if m.exp != nil {
		m.exp.observe(h, now)
	}
	s := m.ranks[h.Rank]
	if s == nil {
		s = &rankState{}
		m.ranks[h.Rank] = s
	}
	if s.received.IsZero() || position(s.hb) != position(h) {
		m.lastProgress = now
	}
	if h.Compute > 0 || h.AllReduce > 0 {
		wait := h.DataWait - s.lastDataWait
		if wait < 0 || s.steps == 0 {
			wait = 0
		}
		s.lastDataWait = h.DataWait
		data, comp, red := wait.Seconds(), h.Compute.Seconds(), h.AllReduce.Seconds()
		if s.steps == 0 {
			s.data, s.compute, s.reduce = data, comp, red
		} else {
			s.data += ewma * (data - s.data)
			s.compute += ewma * (comp - s.compute)
			s.reduce += ewma * (red - s.reduce)
		}
		s.busy = s.data + s.compute
		s.steps++
	} else if h.DataWait == 0 && h.Step == s.hb.Step {
		h.DataWait, h.Loss, h.SamplesPerSec, h.AllReduceMB = s.hb.DataWait, s.hb.Loss, s.hb.SamplesPerSec, s.hb.AllReduceMB
		h.Compute, h.AllReduce = s.hb.Compute, s.hb.AllReduce
	}
	s.hb, s.received = h, now
}

func position(h control.Heartbeat) string {
	return fmt.Sprintf("%d/%s/%d/%d", h.Step, h.Phase, h.Bucket, h.CollSeq)
}

// stalled reports whether nothing progressed for timeout (timeout <= 0:
// never).
func (m *monitor) stalled(now time.Time, timeout time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return timeout > 0 && !m.lastProgress.IsZero() && now.Sub(m.lastProgress) >= timeout
}

// writeStallReport says where every rank is and which are behind; local
// adds what this node knows of its own ranks' processes (rank -> note).
func (m *monitor) writeStallReport(w io.Writer, now time.Time, timeout time.Duration, local map[int]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ranks := make([]int, 0, len(m.nodes))
	furthest := progressKey{step: math.MinInt}
	for r := range m.nodes {
		ranks = append(ranks, r)
		if s := m.ranks[r]; s != nil && furthest.less(keyOf(s.hb)) {
			furthest = keyOf(s.hb)
		}
	}
	sort.Ints(ranks)
	var b strings.Builder
	fmt.Fprintf(&b, "ddprun: no progress for %v (--stall-timeout): where each rank is:\n", timeout.Round(time.Second))
	var behind []string
	for _, r := range ranks {
		s := m.ranks[r]
		note := ""
		if local[r] != "" {
			note = "; " + local[r]
		}
		if s == nil {
			fmt.Fprintf(&b, "  rank %d (node %s): no heartbeat%s\n", r, m.nodes[r], note)
			behind = append(behind, fmt.Sprint(r))
			continue
		}
		h := s.hb
		fmt.Fprintf(&b, "  rank %d (node %s): step %d, phase %s, bucket %d, collective #%d, last heartbeat %v ago%s\n",
			r, m.nodes[r], h.Step, h.Phase, h.Bucket, h.CollSeq, now.Sub(s.received).Round(time.Second), note)
		if keyOf(h).less(furthest) {
			behind = append(behind, fmt.Sprint(r))
		}
	}
	if len(behind) > 0 {
		fmt.Fprintf(&b, "  ranks behind: %s (the others wait for them)\n", strings.Join(behind, ", "))
	} else {
		b.WriteString("  no rank is behind: all are stuck at the same place\n")
	}
	io.WriteString(w, b.String())
}

// progressKey orders heartbeats by how far a rank got: by step; within a
// step, a rank inside the gradient all-reduce is ahead of one still
// waiting for data or computing (it has finished its backward pass and
// waits for the others: the usual picture of a hang is everyone in
// bucket b but one rank still computing); then by bucket and collective
// number. The heartbeat sent after a step already carries the next step,
// so it is ahead of every position of the step before.
type progressKey struct {
	step     int
	inReduce bool
	bucket   int
	seq      uint64
}

func keyOf(h control.Heartbeat) progressKey {
	k := progressKey{step: h.Step, bucket: -1, seq: h.CollSeq}
	if h.Phase == control.PhaseAllReduce {
		k.inReduce, k.bucket = true, h.Bucket
	}
	return k
}

func (a progressKey) less(b progressKey) bool {
	switch {
	case a.step != b.step:
		return a.step < b.step
	case a.inReduce != b.inReduce:
		return b.inReduce
	case a.bucket != b.bucket:
		return a.bucket < b.bucket
	}
	return a.seq < b.seq
}

// stragglers returns a log line for each rank whose busy time per step
// (data wait + forward/backward) has been above the others' median by more
// than 25% (and 5 ms) at three checks in a row, at most once a minute per
// rank. In data-parallel training the others then wait for it in the
// all-reduce, so its all-reduce time is the lowest.
func (m *monitor) stragglers(now time.Time) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.ranks) < 2 {
		return nil
	}
	var busy []float64
	for _, s := range m.ranks {
		if s.steps >= 3 {
			busy = append(busy, s.busy)
		}
	}
	if len(busy) < 2 {
		return nil
	}
	med := stats.Median(busy)
	var lines []string
	for r, s := range m.ranks {
		if s.steps < 3 || s.busy <= med*1.25 || s.busy-med < 0.005 {
			m.strikes[r] = 0
			continue
		}
		m.strikes[r]++
		if m.strikes[r] < 3 || now.Sub(m.stragglerAt[r]) < time.Minute {
			continue
		}
		m.stragglerAt[r] = now
		lines = append(lines, m.stragglerLine(r, s, med))
	}
	sort.Strings(lines)
	return lines
}

func (m *monitor) stragglerLine(r int, s *rankState, med float64) string {
	var data, comp, red []float64
	for q, o := range m.ranks {
		if q != r && o.steps >= 3 {
			data, comp, red = append(data, o.data), append(comp, o.compute), append(red, o.reduce)
		}
	}
	cause := "compute (forward+backward)"
	if s.data-stats.Median(data) > s.compute-stats.Median(comp) {
		cause = "data wait"
	}
	return fmt.Sprintf("straggler: rank %d (node %s) is %.0f%% slower per step than the median: data wait %.1f ms (others %.1f), compute %.1f ms (others %.1f), all-reduce %.1f ms (others %.1f, waiting for it); mostly %s",
		r, m.nodes[r], (s.busy/med-1)*100, s.data*1e3, stats.Median(data)*1e3, s.compute*1e3, stats.Median(comp)*1e3,
		s.reduce*1e3, stats.Median(red)*1e3, cause)
}
