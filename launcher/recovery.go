package launcher

import (
	"fmt"
	"strings"
	"time"

	"github.com/ddprun/ddprun/internal/control"
)

// Note [Recovery in place] (the launchers' part; the ranks' is in package
// ddp): with World.Recovery set (--recovery inplace, the default when
// --max-restarts allows a restart), a rank that exits non-zero or is
// killed does not end the generation. Its launcher publishes ctl.lost;
// the coordinator continues the generation in place (Rendezvous.OnLost):
// the same world as generation G+1, with InPlace set. Every launcher
// applies it: a node starts a replacement (DDPRUN_REPLACEMENT=1,
// DDPRUN_RESTART=G+1) in each slot whose rank exited, on the slot's
// listening socket, which the launcher keeps for the generation, so the
// ring addresses do not change; the surviving ranks read the same world
// on rdzv.world and open the new ring on their inherited sockets. Each
// rank reports ctl.recovered once it has the job's state back.
//
// Every in-place generation counts against --max-restarts. The
// coordinator falls back to a restart from the newest verified checkpoint
// (an abort whose Recovery says why, which every launcher prints) when a
// rank is lost while a recovery is under way (not every rank has reported
// ctl.recovered); a launcher does the same when no answer to its ctl.lost
// arrives within lostTimeout.
//
// A node that leaves the cluster (a machine lost, a link cut) is
// recovered in place too when the job is elastic and at least MIN nodes
// and 2 ranks remain (Rendezvous.OnShrink): the world of G+1 lacks it, the
// other nodes keep their ring addresses and their ranks are renumbered in
// node order; the ranks learn their new number from their address's place
// in the world (rankenv.Identity.InWorld) and resize (ddp). The other
// launchers wait for the coordinator's decision instead of failing at
// once; a node that loses the first node (the coordinator) fails, as
// before. Otherwise a lost node aborts the generation and every rank
// restarts (elastic: with the nodes that remain). An in-place generation
// never takes in a node waiting to join: only a restart does.

// lostMsg is a launcher's report of a rank to recover in place.
type lostMsg struct {
	Gen     int     `json:"gen"`
	Failure Failure `json:"failure"`
}

// lostTimeout bounds the wait for the coordinator's answer to ctl.lost.
const lostTimeout = 30 * time.Second

// recoversInPlace reports whether a rank lost now is replaced in place.
func (g *gen) recoversInPlace() bool {
	w := g.w
	return w.Recovery == RecoverInPlace && w.Size() > 1 && w.Gen < w.MaxRestarts && !g.ending && !g.res.stopped
}

// lose asks the coordinator to recover f's rank in place.
func (g *gen) lose(f Failure) {
	g.lost = append(g.lost, f)
	if g.lostAt.IsZero() {
		g.lostAt = time.Now()
	}
	g.n.log.Warn(fmt.Sprintf("%s failed (%s); recovering in place: the other ranks keep their state", who(f), f.what()),
		"gen", g.w.Gen)
	g.n.plane.publish("ctl.lost", lostMsg{Gen: g.w.Gen, Failure: f})
}

// applyInPlace continues the generation as w: replacements start in the
// slots whose rank exited; after a node left, the ranks are renumbered.
func (g *gen) applyInPlace(w World) {
	if w.Gen <= g.w.Gen || g.ending || g.res.stopped {
		return
	}
	me, nodeRank := w.Node(g.n.name)
	if nodeRank < 0 {
		return // this node is out: the others went on without it, and it fails on its own
	}
	g.w, g.lostAt, g.back = w, time.Time{}, map[int]bool{}
	g.n.plane.mon.reset(w)
	for i, p := range g.procs {
		p.id.Rank, p.id.WorldSize, p.id.NodeRank, p.id.Peers = me.FirstRank+i, w.Size(), nodeRank, w.Peers
	}
	logDir := g.n.genLogDir(w.Gen)
	var replaced []string
	for i, p := range g.procs {
		if !p.exited() {
			continue
		}
		if code, sig := p.exitCode(); code == 0 && sig == "" {
			g.fail(Failure{Gen: w.Gen, Node: g.n.name, Rank: p.id.Rank, LocalRank: i, ExitCode: -1, Time: time.Now(),
				Reason: "cannot recover in place: this rank had already finished"})
			return
		}
		spec := g.n.rankSpec(w, me, nodeRank, i, g.lns[i], logDir, true)
		spec.keepListener = true
		np, err := startRank(spec)
		if err != nil {
			g.fail(Failure{Gen: w.Gen, Node: g.n.name, Rank: spec.id.Rank, LocalRank: i, ExitCode: -1,
				Reason: err.Error(), Time: time.Now()})
			return
		}
		g.procs[i] = np
		g.running++
		go func() { <-np.done; g.exits <- np }()
		replaced = append(replaced, fmt.Sprint(spec.id.Rank))
	}
	msg := fmt.Sprintf("generation %d continues in place as generation %d", w.Gen-1, w.Gen)
	if len(replaced) > 0 {
		msg += "; replacing rank " + strings.Join(replaced, ", ")
	}
	g.n.log.Info(msg)
	early := g.early
	g.early = nil
	for _, r := range early {
		g.onBack(r)
	}
}

// drainInPlace applies the in-place worlds already received, so that an
// abort that follows one is seen in its generation.
func (g *gen) drainInPlace() {
	for {
		select {
		case w := <-g.n.plane.inplace:
			g.applyInPlace(w)
		default:
			return
		}
	}
}

// replaced reports whether p is no longer its slot's process.
func (g *gen) replaced(p *proc) bool {
	i := p.id.LocalRank
	return i < len(g.procs) && g.procs[i] != p
}

// inChain reports whether gen is this generation or one it continues.
func (g *gen) inChain(gen int) bool { return gen >= g.first && gen <= g.w.Gen }

// onBack counts the ranks back after a recovery in place.
// A rank hears of the new world on its own and may report before this
// launcher has applied that world (the two arrive on separate channels):
// such a report waits for it.
func (g *gen) onBack(r control.Recovered) {
	if r.Gen > g.w.Gen {
		g.drainInPlace()
	}
	if r.Gen > g.w.Gen {
		g.early = append(g.early, r)
		return
	}
	if r.Gen != g.w.Gen || !g.w.InPlace || g.back == nil || g.back[r.Rank] {
		return
	}
	g.back[r.Rank] = true
	if len(g.back) == g.w.Size() {
		g.n.log.Info("recovered in place: every rank has the job's state", "gen", r.Gen, "step", r.Step)
	}
}

// nodeLeft handles a node of the world leaving the cluster: this node
// waits for the coordinator, which may continue without it in place (or
// aborts), or for the coordinator's successor when it was the
// coordinator's (Note [No single coordinator]); with nobody to decide, or
// without recovery in place, the generation fails as before.
func (g *gen) nodeLeft(node string) {
	f := Failure{Gen: g.w.Gen, Node: node, Rank: -1, Reason: fmt.Sprintf("node %s left the cluster", node), Time: time.Now()}
	p := g.n.plane
	// Without a majority of the world alive this node is on the minority
	// side of a partition (or alone): no coordinator it can reach will
	// decide, so it fails now rather than after lostTimeout. The
	// coordinator decides for itself.
	if !g.recoversInPlace() || !p.coord.Load() && !p.majority() || node == p.coordinator() && p.successor(node) == "" {
		g.fail(f)
		return
	}
	g.lost = append(g.lost, f)
	if g.lostAt.IsZero() {
		g.lostAt = time.Now()
	}
	g.n.log.Warn(fmt.Sprintf("node %s left the cluster; waiting for the coordinator to go on without it or restart", node), "gen", g.w.Gen)
}

// lostTooLong falls back to a restart when the coordinator has not
// answered a ctl.lost in time.
func (g *gen) lostTooLong(now time.Time) {
	if g.lostAt.IsZero() || now.Sub(g.lostAt) < lostTimeout || g.ending {
		return
	}
	f := g.lost[len(g.lost)-1]
	g.n.log.Warn(fmt.Sprintf("no answer to the request to recover %s in place within %v; restarting every rank from the newest verified checkpoint", who(f), lostTimeout))
	g.lostAt = time.Time{}
	g.fail(f)
}

// lostIn returns the failures this node recovered in place in gen.
func (g *gen) lostIn(gen int) []Failure {
	var fs []Failure
	for _, f := range g.lost {
		if f.Gen == gen {
			fs = append(fs, f)
		}
	}
	return fs
}

// onLost decides on a lost rank: continue in place, or, when a recovery
// is under way, abort it for a restart.
func (c *coordinator) onLost(l lostMsg, now time.Time) Outcome {
	if l.Gen != c.r.Gen() {
		return Outcome{} // stale: its node replaces the rank in the newer world
	}
	if c.recovering == l.Gen {
		why := fmt.Sprintf("the recovery in place of generation %d failed (%s: %s); restarting every rank from the newest verified checkpoint",
			l.Gen, who(l.Failure), l.Failure.what())
		c.p.publish("ctl.abort", abortMsg{Gen: l.Gen, Failures: []Failure{l.Failure}, Recovery: why})
		c.recovering = -1
		return c.r.OnAbort(l.Gen, now)
	}
	o := c.r.OnLost(l.Gen, l.Failure.Node, now)
	if o.World != nil {
		c.recovering, c.back = o.World.Gen, map[int]bool{}
	}
	return o
}

// shrink continues the generation in place without node, which left,
// when the job recovers in place, a generation is left, no recovery is
// under way and enough nodes remain (Rendezvous.OnShrink).
func (c *coordinator) shrink(node string, now time.Time) Outcome {
	if c.recovery != RecoverInPlace || c.r.Gen() >= c.maxRestarts || c.recovering == c.r.Gen() {
		return Outcome{}
	}
	o := c.r.OnShrink(node, now)
	if o.World != nil {
		c.recovering, c.back = o.World.Gen, map[int]bool{}
	}
	return o
}

// onBack ends the recovery once every rank has reported.
func (c *coordinator) onBack(r control.Recovered) {
	if r.Gen != c.recovering || c.world == nil {
		return
	}
	c.back[r.Rank] = true
	if len(c.back) == c.world.Size() {
		c.recovering = -1
	}
}
