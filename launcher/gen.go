package launcher

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ddprun/ddprun/internal/control"
	"github.com/ddprun/ddprun/internal/rankenv"
)

// genResult is how a generation ended on this node.
type genResult struct {
	failures []Failure // empty: success (or a clean stop)
	final    bool      // the job cannot restart (the coordinator said so)
	stopped  bool      // stopped on request
	killed   bool      // some rank was killed after the grace period
	world    World     // the last world: the generation ran on in place from the first
}

// Teardown timings: after a failure the other ranks get failGrace to exit
// on SIGTERM (they cannot checkpoint without the failed rank anyway); a
// stalled rank gets dumpGrace to write its stacks after SIGQUIT.
const (
	failGrace   = 5 * time.Second
	dumpGrace   = 10 * time.Second
	settleDelay = 500 * time.Millisecond // collect the failures of other nodes before reporting
)

// gen is the running state of one generation on this node.
type gen struct {
	n        *node
	w        World
	procs    []*proc
	exits    chan *proc
	running  int
	res      genResult
	killAt   time.Time // SIGKILL the rest then, if set
	ending   bool
	logDir   string
	stackDir string
	// Recovery in place (recovery.go): the slots' listeners, kept for
	// replacements; the generation runGen started with; the ranks
	// recovered; when the last loss was reported, unanswered; the ranks
	// back in the current in-place generation.
	lns    []*net.TCPListener
	first  int
	lost   []Failure
	lostAt time.Time
	back   map[int]bool
	early  []control.Recovered // reports of a generation this launcher has not applied yet
}

// runGen starts this node's ranks of world w and supervises them until
// they have all exited.
func (n *node) runGen(ctx context.Context, w World, lns []*net.TCPListener) genResult {
	g := &gen{n: n, w: w, exits: make(chan *proc, len(lns)), logDir: n.genLogDir(w.Gen), lns: lns, first: w.Gen}
	keep := w.Recovery == RecoverInPlace // Note [Recovery in place]
	if keep {
		defer func() {
			for _, l := range lns {
				l.Close()
			}
		}()
	}
	n.plane.mon.reset(w)
	me, nodeRank := w.Node(n.name)
	n.log.Info("starting ranks", "gen", w.Gen, "world_size", w.Size(), "node_rank", nodeRank,
		"ranks", fmt.Sprintf("%d-%d", me.FirstRank, me.FirstRank+me.Slots-1))
	if w.Gen > 0 && len(w.Nodes) > 0 {
		n.log.Info(fmt.Sprintf("generation %d: %d node(s), world size %d", w.Gen, len(w.Nodes), w.Size()))
	}
	for i, ln := range lns {
		spec := n.rankSpec(w, me, nodeRank, i, ln, g.logDir, false)
		spec.keepListener = keep
		p, err := startRank(spec)
		if err != nil {
			for _, l := range lns[i+1:] {
				if !keep {
					l.Close()
				}
			}
			g.fail(Failure{Gen: w.Gen, Node: n.name, Rank: me.FirstRank + i, LocalRank: i, ExitCode: -1,
				Reason: err.Error(), Time: time.Now()})
			break
		}
		g.procs = append(g.procs, p)
		g.running++
		go func() { <-p.done; g.exits <- p }()
	}
	g.supervise(ctx)
	g.res.world = g.w
	return g.res
}

// rankSpec describes local rank local of world w; a replacement takes
// the place of a lost rank (Note [Recovery in place]).
func (n *node) rankSpec(w World, me WorldNode, nodeRank, local int, ln *net.TCPListener, logDir string, replacement bool) rankSpec {
	id := rankenv.Identity{
		Rank: me.FirstRank + local, WorldSize: w.Size(),
		LocalRank: local, LocalWorldSize: me.Slots, NodeRank: nodeRank,
		Peers: w.Peers, ListenFD: 3, JobID: n.job, Secret: n.secret,
		Control: n.plane.url, Restart: w.Gen, Recovery: w.Recovery, Replacement: replacement,
	}
	var extra []string
	gpus := n.cfg.GPUs
	if gpus < 0 {
		gpus = CountGPUs()
	}
	if gpus > 0 {
		id.Device = "cuda:0"
		extra = append(extra, "CUDA_VISIBLE_DEVICES="+visibleDevice(lookupEnv(n.cfg.Env, "CUDA_VISIBLE_DEVICES"), local))
	}
	if lookupEnv(n.cfg.Env, "OMP_NUM_THREADS") == "" {
		extra = append(extra, "OMP_NUM_THREADS="+rankThreads(me.Slots))
	}
	if lookupEnv(n.cfg.Env, "GOTRACEBACK") == "" {
		extra = append(extra, "GOTRACEBACK=all") // SIGQUIT dumps every goroutine
	}
	if !hasEnv(n.cfg.Env, "MALLOC_ARENA_MAX") {
		extra = append(extra, "MALLOC_ARENA_MAX=1") // Note [Malloc arenas]
	}
	spec := rankSpec{id: id, node: n.name, listener: ln, env: rankEnviron(n.cfg.Env, id, extra...),
		command: n.cfg.Command, stdout: n.stdout, stderr: n.stderr, logDir: logDir}
	if local == 0 && nodeRank == 0 && n.cfg.StderrTerminal && logDir == "" {
		if f, ok := n.cfg.Stderr.(*os.File); ok {
			spec.terminal = f
		}
	}
	return spec
}

// Note [Malloc arenas]: glibc gives threads that allocate at the same
// time arenas of their own (up to 8 per core), each grown and trimmed on
// its own, so a rank's threads (libtorch's, cgo calls from several Go
// threads) keep handing memory back to the kernel and faulting it in
// again. Ranks get MALLOC_ARENA_MAX=1 unless the user set it (to
// anything, even empty). Measured on the mini preset (2 ranks, batch 16,
// length 128, bf16, --threads 1; rank 0's minor_faults_per_step over
// steps 11-30, 3 runs each): 3.2k-6.7k faults per step without, 6-333
// with; peak RSS the same (675-689 MB); throughput within the noise.

// hasEnv reports whether env sets key (even to "").
func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && k == key {
			return true
		}
	}
	return false
}

func lookupEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// supervise is the generation's event loop. Note [Supervision]: the first
// failure anywhere (a local rank's exit, an abort from another node, a
// node leaving, a stall) tears the generation down everywhere: this node
// publishes its failures, SIGTERMs its ranks and SIGKILLs what is left
// after failGrace. A stop request (signal) SIGTERMs the ranks and gives
// them --grace to checkpoint.
func (g *gen) supervise(ctx context.Context) {
	n := g.n
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	sigDone := ctx.Done()
	var straggle <-chan time.Time
	st := time.NewTicker(10 * time.Second)
	defer st.Stop()
	straggle = st.C
	for g.running > 0 {
		select {
		case p := <-g.exits:
			g.running--
			g.onExit(p)
		case <-sigDone:
			sigDone = nil
			n.log.Info("stop requested: asking every rank to checkpoint and exit", "grace", n.cfg.grace())
			n.plane.publish("ctl.stop", struct{}{})
			g.stop()
		case <-n.plane.stops:
			if !g.res.stopped {
				n.log.Info("another launcher asked the job to stop; stopping the ranks here")
				g.stop()
			}
		case a := <-n.plane.aborts:
			g.drainInPlace()
			if g.inChain(a.Gen) {
				g.onAbort(a)
			}
		case w := <-n.plane.inplace:
			g.applyInPlace(w)
		case b := <-n.plane.backs:
			g.onBack(b)
		case node := <-n.plane.leaves:
			if _, i := g.w.Node(node); i >= 0 && !g.ending && !n.plane.finished(g.w.Gen, node) {
				g.nodeLeft(node)
			}
		case err := <-n.coordFailed():
			g.res.final = true
			g.fail(Failure{Gen: g.w.Gen, Node: n.name, Rank: -1, Reason: err.Error(), Time: time.Now()})
		case now := <-tick.C:
			g.onTick(now)
		case now := <-straggle:
			for _, l := range n.plane.mon.stragglers(now) {
				n.log.Warn(l)
			}
		}
	}
	if len(g.res.failures) > 0 {
		g.settle()
	}
}

func (g *gen) onExit(p *proc) {
	code, sig := p.exitCode()
	if code == 0 && sig == "" {
		return
	}
	replaced := g.replaced(p)
	if g.res.stopped && code == RankStoppedCode {
		return
	}
	if g.res.stopped && !g.ending {
		g.res.killed = g.res.killed || sig != ""
		if code != RankStoppedCode && sig == "" {
			g.n.log.Warn("rank exited during the stop", "rank", p.id.Rank, "exit_code", code)
		}
		return
	}
	f := Failure{Gen: g.w.Gen, Node: g.n.name, Rank: p.id.Rank, LocalRank: p.id.LocalRank,
		ExitCode: code, Signal: sig, Time: p.exitAt}
	if code == RankRefusedCode {
		g.res.final = true // a restart would be refused again
	}
	if p.tail != nil {
		f.Tail = p.tail.Lines()
	}
	if g.logDir != "" {
		f.LogFile = filepath.Join(g.logDir, fmt.Sprintf("rank-%d.err", p.id.Rank))
	}
	switch {
	case replaced: // lost in an earlier generation of the chain, already replaced
		g.lost = append(g.lost, f)
	case g.recoversInPlace() && code != RankRefusedCode: // a replacement would refuse too
		g.lose(f)
	default:
		g.fail(f)
	}
}

// fail records a failure of this node, tells the others and starts the
// teardown.
func (g *gen) fail(f Failure) {
	g.res.failures = append(g.res.failures, f)
	g.n.plane.publish("ctl.abort", abortMsg{Gen: g.w.Gen, Failures: []Failure{f}, Final: g.res.final})
	g.teardown(failGrace)
}

func (g *gen) onAbort(a abortMsg) {
	if a.Recovery != "" && !g.ending {
		g.n.log.Warn(a.Recovery)
	}
	for _, f := range g.lostIn(a.Gen) {
		if !containsFailure(g.res.failures, f) {
			g.res.failures = append(g.res.failures, f)
		}
	}
	for _, f := range a.Failures {
		if timeout := g.n.cfg.stallTimeout(); f.Stall && timeout > 0 && !g.ending && !g.res.stopped {
			g.onStall(time.Now(), timeout)
			g.killAt = time.Now().Add(dumpGrace)
		}
		if f.Node == g.n.name && f.Rank >= 0 {
			continue // ours: already recorded
		}
		if !containsFailure(g.res.failures, f) {
			g.res.failures = append(g.res.failures, f)
		}
	}
	g.res.final = g.res.final || a.Final
	g.teardown(failGrace)
}

func containsFailure(fs []Failure, f Failure) bool {
	for _, x := range fs {
		if x.Node == f.Node && x.Rank == f.Rank && x.Reason == f.Reason {
			return true
		}
	}
	return false
}

func (g *gen) teardown(grace time.Duration) {
	if g.ending {
		return
	}
	g.ending = true
	g.signalAll(syscall.SIGTERM)
	g.killAt = time.Now().Add(grace)
}

func (g *gen) stop() {
	g.res.stopped = true
	if g.ending {
		return
	}
	g.signalAll(syscall.SIGTERM)
	g.killAt = time.Now().Add(g.n.cfg.grace())
}

func (g *gen) signalAll(sig os.Signal) {
	for _, p := range g.procs {
		p.signal(sig)
	}
}

func (g *gen) onTick(now time.Time) {
	g.lostTooLong(now)
	if !g.killAt.IsZero() && now.After(g.killAt) {
		for _, p := range g.procs {
			if !p.exited() {
				g.n.log.Warn("killing a rank that did not exit in time", "rank", p.id.Rank)
				p.signal(syscall.SIGKILL)
				g.res.killed = true
			}
		}
		g.killAt = time.Time{}
	}
	if g.ending || g.res.stopped {
		return
	}
	if timeout := g.n.cfg.stallTimeout(); g.n.plane.mon.stalled(now, timeout) {
		g.onStall(now, timeout)
		g.fail(Failure{Gen: g.w.Gen, Node: g.n.name, Rank: -1, Reason: fmt.Sprintf("no progress for %v (stall)", timeout),
			Stall: true, Time: now})
		g.killAt = now.Add(dumpGrace)
	}
}

// onStall reports where every rank is, with what this node knows of its
// own ranks' processes, and dumps their stacks. Every node does so: the
// one whose clock ran out first, and the others when its abort arrives
// (only the stalled rank's own node can tell that its process is stopped,
// and only it can dump that rank's stacks).
func (g *gen) onStall(now time.Time, timeout time.Duration) {
	g.n.plane.mon.writeStallReport(g.n.stderr.w, now, timeout, g.processNotes())
	g.dumpStacks()
}

// processNotes says which local ranks' processes the kernel shows not
// running: stopped or in uninterruptible sleep (Note [Hang diagnosis]).
func (g *gen) processNotes() map[int]string {
	notes := map[int]string{}
	for _, p := range g.procs {
		if p.exited() {
			continue
		}
		switch state := processState(p.cmd.Process.Pid); state {
		case "T", "t":
			notes[p.id.Rank] = fmt.Sprintf("its process is stopped (state %s: SIGSTOP or a debugger)", state)
		case "D":
			notes[p.id.Rank] = "its process is in uninterruptible sleep (state D: waiting on a device or file system)"
		}
	}
	return notes
}

// dumpStacks sends SIGQUIT to every local rank (Go prints every
// goroutine's stack and exits) with their output diverted to
// <log dir>/stacks-rank-N.txt (a temporary directory without --log-dir).
func (g *gen) dumpStacks() {
	dir := g.logDir
	if dir == "" {
		d, err := os.MkdirTemp("", "ddprun-"+g.n.job+"-stacks-")
		if err != nil {
			g.n.log.Warn("no directory for stack dumps", "err", err)
			return
		}
		dir = d
	}
	g.stackDir = dir
	for _, p := range g.procs {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("stacks-rank-%d.txt", p.id.Rank)))
		if err != nil {
			continue
		}
		p.divertTo(f) // closed when the launcher exits
		p.signal(syscall.SIGQUIT)
	}
	g.n.log.Warn("goroutine stacks of the local ranks (SIGQUIT)", "dir", dir)
	g.ending = true
}

// settle waits briefly for other nodes' failure reports, so the summary
// can name the failure that happened first anywhere.
func (g *gen) settle() {
	t := time.After(settleDelay)
	for {
		select {
		case a := <-g.n.plane.aborts:
			if g.inChain(a.Gen) {
				g.onAbort(a)
			}
		case <-t:
			return
		}
	}
}
