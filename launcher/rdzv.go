package launcher

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Note [Rendezvous]: the rendezvous is a state machine driven by events
// (a node's join request for a generation, a node leaving the cluster, an
// abort of the running generation, the clock), so tests can run it as a
// script (testdata/rdzv/*.txt) and the coordinator is only plumbing. It
// lives on the first node. A generation's world is decided when MAX nodes
// have asked to join it, or when MIN have and LastCall has passed since
// MIN was reached (elastic); with fewer than MIN after JoinTimeout the
// rendezvous fails. Node ranks follow the order in which nodes first ever
// joined, so they stay put across restarts (the first node is node 0).

// Join is a node's request to take part in generation Gen.
type Join struct {
	Node  string   `json:"node"`
	Gen   int      `json:"gen"`
	Addrs []string `json:"addrs"` // ring listen addresses, one per local rank
}

// World is the decided membership of one generation.
type World struct {
	Job         string      `json:"job"`
	Gen         int         `json:"gen"`
	Nodes       []WorldNode `json:"nodes"` // node rank order
	Peers       []string    `json:"peers"` // ring address of every global rank
	Control     string      `json:"control"`
	MaxRestarts int         `json:"max_restarts"`
}

// WorldNode is one node's part of a World.
type WorldNode struct {
	Name      string `json:"name"`
	FirstRank int    `json:"first_rank"`
	Slots     int    `json:"slots"`
}

// Size is the world size (ranks).
func (w World) Size() int { return len(w.Peers) }

// Node returns the node called name and its node rank, or -1.
func (w World) Node(name string) (WorldNode, int) {
	for i, n := range w.Nodes {
		if n.Name == name {
			return n, i
		}
	}
	return WorldNode{}, -1
}

// Rendezvous is the coordinator's state. The zero value is not usable;
// use NewRendezvous.
type Rendezvous struct {
	Min, Max    int
	LastCall    time.Duration
	JoinTimeout time.Duration

	gen     int
	seq     map[string]int // first-join order
	waiting map[string]Join
	opened  time.Time // first event of this generation
	minAt   time.Time // when MIN nodes had joined
	world   *World    // decided world of gen, nil while waiting
	failed  bool
}

// NewRendezvous returns the state before any event.
func NewRendezvous(min, max int, lastCall, joinTimeout time.Duration) *Rendezvous {
	return &Rendezvous{Min: min, Max: max, LastCall: lastCall, JoinTimeout: joinTimeout,
		seq: map[string]int{}, waiting: map[string]Join{}}
}

// Gen is the generation being formed or run.
func (r *Rendezvous) Gen() int { return r.gen }

// Outcome is what an event asks the coordinator to do; the zero value
// means nothing.
type Outcome struct {
	World *World // publish this world (decided now or asked for again)
	Abort string // the running generation must stop: why
	Fail  error  // the rendezvous cannot complete: end the job
	Note  string // something worth telling the user
}

// OnJoin handles a node's join request.
func (r *Rendezvous) OnJoin(j Join, now time.Time) Outcome {
	if r.failed || j.Gen != r.gen {
		return Outcome{} // stale, or early: the node asks again
	}
	r.open(now)
	if r.world != nil {
		if _, i := r.world.Node(j.Node); i >= 0 {
			return Outcome{World: r.world} // it missed the publication
		}
		return Outcome{Note: fmt.Sprintf("node %s waits: generation %d is running without it", j.Node, r.gen)}
	}
	if _, ok := r.seq[j.Node]; !ok {
		r.seq[j.Node] = len(r.seq)
	}
	r.waiting[j.Node] = j
	if len(r.waiting) >= r.Min && r.minAt.IsZero() {
		r.minAt = now
	}
	if len(r.waiting) >= r.Max {
		return r.decide()
	}
	return Outcome{}
}

// OnTick advances the clock.
func (r *Rendezvous) OnTick(now time.Time) Outcome {
	if r.failed || r.world != nil || r.opened.IsZero() {
		return Outcome{}
	}
	if len(r.waiting) >= r.Min && now.Sub(r.minAt) >= r.LastCall {
		return r.decide()
	}
	if now.Sub(r.opened) >= r.JoinTimeout {
		r.failed = true
		return Outcome{Fail: fmt.Errorf("%w: generation %d: %d of %d nodes joined within %v (%s)",
			ErrRendezvous, r.gen, len(r.waiting), r.Min, r.JoinTimeout, r.names())}
	}
	return Outcome{}
}

// OnLeave handles a node leaving the cluster (gracefully or found dead).
func (r *Rendezvous) OnLeave(node string, now time.Time) Outcome {
	delete(r.waiting, node)
	if len(r.waiting) < r.Min {
		r.minAt = time.Time{}
	}
	if r.world == nil {
		return Outcome{}
	}
	if _, i := r.world.Node(node); i < 0 {
		return Outcome{}
	}
	reason := fmt.Sprintf("node %s left the cluster", node)
	r.next(now)
	return Outcome{Abort: reason}
}

// OnAbort ends generation gen (a failure somewhere); nodes then ask to
// join gen+1.
func (r *Rendezvous) OnAbort(gen int, now time.Time) Outcome {
	if gen != r.gen || r.failed {
		return Outcome{}
	}
	r.next(now)
	return Outcome{}
}

func (r *Rendezvous) open(now time.Time) {
	if r.opened.IsZero() {
		r.opened = now
	}
}

func (r *Rendezvous) next(now time.Time) {
	r.gen++
	r.world, r.waiting, r.minAt = nil, map[string]Join{}, time.Time{}
	r.opened = now
}

func (r *Rendezvous) decide() Outcome {
	nodes := make([]Join, 0, len(r.waiting))
	for _, j := range r.waiting {
		nodes = append(nodes, j)
	}
	sort.Slice(nodes, func(a, b int) bool { return r.seq[nodes[a].Node] < r.seq[nodes[b].Node] })
	var out Outcome
	if len(nodes) > r.Max {
		out.Note = fmt.Sprintf("%d nodes joined; %d wait for a later generation", len(nodes), len(nodes)-r.Max)
		nodes = nodes[:r.Max]
	}
	w := &World{Gen: r.gen}
	for _, j := range nodes {
		w.Nodes = append(w.Nodes, WorldNode{Name: j.Node, FirstRank: len(w.Peers), Slots: len(j.Addrs)})
		w.Peers = append(w.Peers, j.Addrs...)
	}
	r.world = w
	out.World = w
	return out
}

func (r *Rendezvous) names() string {
	var s []string
	for n := range r.waiting {
		s = append(s, n)
	}
	sort.Strings(s)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
