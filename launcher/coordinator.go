package launcher

import (
	"context"
	"log/slog"
	"time"
)

// coordinator runs the Rendezvous on the first node: it feeds it join
// requests, leaves, aborts and the clock, and publishes its decisions.
type coordinator struct {
	p           *plane
	name        string // this node
	r           *Rendezvous
	control     string
	maxRestarts int
	recovery    string // World.Recovery
	recovering  int    // the generation recovering in place, or -1
	back        map[int]bool
	log         *slog.Logger
	failed      chan error // the rendezvous cannot complete
	done        map[string]bool
	doneGen     int
	world       *World
	finished    chan int // generation whose nodes all finished
}

func (c *coordinator) run(ctx context.Context) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		var o Outcome
		select {
		case <-ctx.Done():
			return
		case j := <-c.p.joins:
			o = c.r.OnJoin(j, time.Now())
		case node := <-c.p.cleave:
			if c.p.finished(c.r.Gen(), node) {
				continue // it finished and went home
			}
			if o = c.shrink(node, time.Now()); o.World != nil {
				break
			}
			o = c.r.OnLeave(node, time.Now())
			if o.Abort != "" {
				c.recovering = -1
				c.p.publish("ctl.abort", abortMsg{Gen: c.r.Gen() - 1, Failures: []Failure{
					{Gen: c.r.Gen() - 1, Node: node, Rank: -1, Reason: o.Abort, Time: time.Now()}}})
			}
		case a := <-c.p.caborts:
			o = c.r.OnAbort(a.Gen, time.Now())
		case l := <-c.p.losts:
			o = c.onLost(l, time.Now())
		case b := <-c.p.cbacks:
			c.onBack(b)
		case d := <-c.p.dones:
			c.markDone(d)
		case now := <-tick.C:
			o = c.r.OnTick(now)
		}
		c.apply(o)
	}
}

func (c *coordinator) apply(o Outcome) {
	if o.Note != "" {
		c.log.Info(o.Note)
	}
	if o.World != nil {
		w := *o.World
		w.Job, w.Control, w.MaxRestarts, w.Recovery, w.Coordinator = c.p.job, c.control, c.maxRestarts, c.recovery, c.name
		c.world = &w
		c.p.publish("rdzv.world", w)
	}
	if o.Fail != nil {
		nonBlocking(c.failed, o.Fail)
		c.p.publish("ctl.abort", abortMsg{Gen: c.r.Gen(), Final: true, Failures: []Failure{
			{Gen: c.r.Gen(), Rank: -1, Reason: o.Fail.Error(), Time: time.Now()}}})
	}
}

func (c *coordinator) markDone(d doneMsg) {
	if d.Gen != c.doneGen || c.done == nil {
		c.done, c.doneGen = map[string]bool{}, d.Gen
	}
	c.done[d.Node] = true
	if c.world == nil || c.world.Gen != d.Gen {
		return
	}
	for _, n := range c.world.Nodes {
		if !c.done[n.Name] {
			return
		}
	}
	nonBlocking(c.finished, d.Gen)
}
